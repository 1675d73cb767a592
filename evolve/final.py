"""The final re-evaluation of a run (paper: "the average pass rate across at least 4 independent
evals"): once the iterations are done, the top `evolve.final_top` accepted candidates by tally and
the seed are scored `evolve.final_repeats` times on the validation papers, with repeats from
FINAL_FIRST_REPEAT on (sample indices the run never used), under purpose `final`.

The tally a decision reads is the maximum over many noisy evaluations, so the best by tally is
optimistic; the final estimate is not selected on its own noise. `final_result` reads it back
(for the summary, `show`, `runs`, `report` and the trajectory plot): every re-evaluated
candidate's pass rate with its 95 % interval, the best by this estimate, and its paired
difference to the seed (`evolve/estimates.py`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from inner_loop.errors import UserError
from evolve.config import Config
from evolve.context import RunContext
from evolve.estimates import METHOD
from evolve.evaluate import (FINAL_FIRST_REPEAT, CandidateResult, best_of, results, score,
                             top_by_tally)

PURPOSE = "final"


class FinalResult(BaseModel):
    """The final re-evaluation as recorded: candidates, the best by it, the method."""

    model_config = ConfigDict(extra="forbid")

    repeats: int
    n_papers: int
    method: str
    candidates: list[CandidateResult]
    best: CandidateResult | None


def check(config: Config) -> None:
    """A run's own repeats must stay below FINAL_FIRST_REPEAT (checked before any work)."""
    ev = config.evolve
    if (ev.iterations + 1) * ev.repeats >= FINAL_FIRST_REPEAT:
        raise UserError(f"evolve.iterations x evolve.repeats must stay below "
                        f"{FINAL_FIRST_REPEAT} (the final re-evaluation's repeats start there)")


def iteration_of(config: Config) -> int:
    """The `iteration` final rows carry: one past the iteration budget."""
    return config.evolve.iterations + 1


def reevaluate(ctx: RunContext) -> None:
    """Score the seed and the top candidates by tally R more times; recorded episodes are skipped
    (resume). BudgetExceeded propagates (the run stops, resumable)."""
    ev = ctx.config.evolve
    if ev.final_repeats == 0:
        return
    chosen = list(dict.fromkeys([*top_by_tally(ctx.store, ev.final_top), "seed"]))
    candidates = []
    for cid in chosen:
        sha = ctx.repo.ref_sha(cid)
        if sha is None:
            raise RuntimeError(f"accepted candidate {cid} has no git ref (reconcile first)")
        candidates.append((cid, ctx.repo.checkout(sha)))
    ctx.progress.note(f"final re-evaluation: {', '.join(chosen)} x {ev.final_repeats} repeats "
                      f"on {len(ctx.validation)} validation papers")
    repeats = range(FINAL_FIRST_REPEAT, FINAL_FIRST_REPEAT + ev.final_repeats)
    score(ctx, candidates, ctx.validation, repeats, PURPOSE, iteration_of(ctx.config))
    ctx.log.info("final re-evaluation done: %s", ", ".join(chosen))


def final_result(store: Any) -> FinalResult | None:
    """The recorded final re-evaluation (every candidate with purpose `final` rows), or None."""
    rows = store.query("SELECT candidate_id, paper_id, repeat FROM evaluations "
                       "WHERE purpose = ? ORDER BY candidate_id", [PURPOSE])
    if not rows:
        return None
    chosen = list(dict.fromkeys(r["candidate_id"] for r in rows))
    papers = sorted({r["paper_id"] for r in rows})
    repeats = sorted({r["repeat"] for r in rows})
    tallies = {c: s for c, (s, _n) in store.candidate_scores().items()}
    order = {c: (c != "seed", c) for c in chosen}
    chosen.sort(key=order.get)
    scored = results([store], tallies, chosen, PURPOSE, papers, repeats)
    return FinalResult(repeats=len(repeats), n_papers=len(papers), method=METHOD,
                       candidates=scored, best=best_of(scored))
