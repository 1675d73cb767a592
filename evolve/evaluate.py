"""Re-evaluation of candidates with fresh repeats, never mixed into the run's tallies.

Two users: the end-of-run **final re-evaluation** (`autodata evolve --final-repeats R`, purpose
`final`: the top candidates by tally and the seed, R times on the validation papers) and
`autodata evaluate` (purpose `evaluate`: any accepted candidates on any papers, `evolve/
evaluate_cmd.py`). Both record ordinary episodes and evaluations under their own purpose, so
`candidate_scores` (purpose `validation`), which decisions and parent selection read, never sees
them. Their repeats start at FINAL_FIRST_REPEAT / EVALUATE_FIRST_REPEAT: a repeat shifts the
sample indices of its calls (`evolve.jobs.REPEAT_STRIDE`), and a run's own repeats (iteration n
uses n·R … n·R+R−1) stay below FINAL_FIRST_REPEAT, so these are draws the run never made.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from inner_loop.errors import UserError
from inner_loop.papers import Paper
from evolve.estimates import Estimate, paired_difference, pass_rate
from evolve.jobs import Job, Site, run_jobs

FINAL_FIRST_REPEAT = 100_000
EVALUATE_FIRST_REPEAT = 150_000
MAX_REPEATS = 1_000  # per call; keeps every sample index inside the INTEGER column
EVALUATE_ITERATION = -1  # the `iteration` evaluate's rows carry (no iteration paid for them)


class CandidateResult(BaseModel):
    """One candidate's re-evaluated pass rate, and its paired difference to the baseline."""

    model_config = ConfigDict(extra="forbid")

    candidate_id: str
    tally: float | None  # the decision-time tally (all validation evaluations of the run)
    estimate: Estimate | None
    vs_seed: Estimate | None = None  # paired difference to the seed, papers as the unit


def check_repeats(repeats: int, first: int = 0) -> None:
    if not 1 <= repeats <= MAX_REPEATS:
        raise UserError(f"repeats must be between 1 and {MAX_REPEATS}, got {repeats}")
    if not 0 <= first <= 40_000:
        raise UserError(f"--first-repeat must be between 0 and 40000, got {first}")


def top_by_tally(store: Any, k: int) -> list[str]:
    """The k accepted candidates with the highest tally (ties: the earliest)."""
    scores = store.candidate_scores(accepted_only=True)
    order = {r.candidate_id: r.iteration for r in store.candidate_statuses()}
    return sorted(scores, key=lambda c: (-scores[c][0], order.get(c, 0)))[:k]


def score(site: Site, candidates: Sequence[tuple[str, Path]], papers: Sequence[Paper],
          repeats: Iterable[int], purpose: str, iteration: int) -> None:
    """Every (candidate, paper, repeat) episode not yet recorded, run and recorded under `purpose`
    at `site` (`evolve.jobs.Site`). BudgetExceeded after the batch."""
    reps = list(repeats)
    jobs = [Job(cid, d, p, r) for cid, d in candidates for p in papers for r in reps]
    run_jobs(site, jobs, purpose, iteration)


def outcomes(stores: Sequence[Any], candidate_id: str, purpose: str, paper_ids: Iterable[str],
             repeats: Iterable[int]) -> dict[str, list[float]]:
    """paper_id -> 0/1 outcomes of `candidate_id` under `purpose` on those papers and repeats,
    read from every store given (the run's database, and evaluate's own while a run was live)."""
    wanted, reps = set(paper_ids), set(repeats)
    seen: dict[tuple[str, int], float] = {}
    for store in stores:
        for r in store.outcomes(candidate_id, purpose):
            if r.paper_id in wanted and r.repeat in reps:
                seen[(r.paper_id, r.repeat)] = 1.0 if r.passed else 0.0
    out: dict[str, list[float]] = {}
    for (paper, _repeat), value in sorted(seen.items()):
        out.setdefault(paper, []).append(value)
    return out


def results(stores: Sequence[Any], tallies: dict[str, float], candidate_ids: Sequence[str],
            purpose: str, paper_ids: Sequence[str], repeats: Sequence[int],
            baseline: str = "seed") -> list[CandidateResult]:
    """Each candidate's estimate and, when the baseline was scored too, its paired difference."""
    scored = {c: outcomes(stores, c, purpose, paper_ids, repeats)
              for c in dict.fromkeys([*candidate_ids, baseline])}
    out = []
    for cid in candidate_ids:
        diff = None
        if cid != baseline and baseline in candidate_ids:
            diff = paired_difference(scored[cid], scored[baseline], key=f"{cid}-{baseline}")
        out.append(CandidateResult(candidate_id=cid, tally=tallies.get(cid),
                                   estimate=pass_rate(scored[cid], key=cid), vs_seed=diff))
    return out


def best_of(rows: Sequence[CandidateResult]) -> CandidateResult | None:
    """The candidate with the highest re-evaluated pass rate (ties: the first given)."""
    scored = [r for r in rows if r.estimate is not None]
    return max(scored, key=lambda r: r.estimate.mean, default=None)  # type: ignore[union-attr]
