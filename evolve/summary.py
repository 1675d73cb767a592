"""The final RunSummary of a run (text or JSON): the tallies, the lineage to the best by tally,
and the final re-evaluation's best with its 95 % interval (`evolve/final.py`), labelled
SIMULATED when the sim answered."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from evolve.final import FinalResult, final_result
from evolve.progress import best_accepted


class LineageStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    candidate_id: str
    iteration: int
    score: float | None


class RunSummary(BaseModel):
    """What `autodata evolve` / `resume` print at the end (text, or JSON with --json)."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    run_dir: str
    status: str  # finished | stopped: budget
    detail: str = ""
    simulated: bool
    iterations_done: int
    iteration_budget: int
    seed_score: float | None
    best_candidate: str | None
    best_score: float | None
    counts: dict[str, int]
    lineage: list[LineageStep]  # seed → … → best, each with its validation pass rate
    spend_usd: float
    llm_calls: int
    # the end-of-run re-evaluation with fresh repeats (None: not run, e.g. --final-repeats 0)
    final: FinalResult | None = None

    def text(self) -> str:
        def pct(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.1%}"
        label = "SIMULATED run" if self.simulated else "run"
        chain = " -> ".join(f"{s.candidate_id} ({pct(s.score)})" for s in self.lineage)
        lines = [
            f"{label} {self.run_id}: {self.status}" + (f" ({self.detail})" if self.detail else ""),
            f"  run folder      {self.run_dir}",
            f"  iterations      {self.iterations_done} of {self.iteration_budget}: accepted "
            f"{self.counts.get('accepted', 0)}, rejected {self.counts.get('rejected', 0)}, "
            f"invalid {self.counts.get('invalid', 0)}",
            f"  tally           seed {pct(self.seed_score)} -> best {pct(self.best_score)} "
            f"({self.best_candidate or '-'}): pooled over all validation evaluations so far",
            f"  lineage         {chain or '-'} (pooled tally)",
            *self._final_lines(),
            f"  spend           ${self.spend_usd:.4f} over {self.llm_calls} LLM calls",
        ]
        if self.simulated:
            lines.append("SIMULATED: every model answer came from the simulated model world.")
        return "\n".join(lines)

    def _final_lines(self) -> list[str]:
        f = self.final
        if f is None or f.best is None or f.best.estimate is None:
            return ["  final           not run (evolve.final_repeats = 0, or the run stopped)"]
        seed = next((c for c in f.candidates if c.candidate_id == "seed"), None)
        lines = [f"  final           re-evaluated {f.repeats}x on {f.n_papers} validation papers "
                 f"(fresh repeats; 95% interval: {f.method})",
                 f"                  best {f.best.candidate_id} {f.best.estimate.text()}"]
        if seed is not None and seed.estimate is not None:
            lines.append(f"                  seed {seed.estimate.text()}")
        if f.best.vs_seed is not None:
            lines.append(f"                  best - seed {f.best.vs_seed.text(signed=True)}")
        return lines


def summarize(store: Any, *, run_id: str, run_dir: str, status: str, detail: str,
              simulated: bool, iteration_budget: int) -> RunSummary:
    """The summary of a run from its database (works for a finished or a stopped run)."""
    scores = store.candidate_scores(accepted_only=True)
    rows = {r.candidate_id: r for r in store.candidate_statuses()}
    best = best_accepted(store)
    lineage, cur = [], best
    while cur is not None:
        lineage.append(LineageStep(candidate_id=cur, iteration=rows[cur].iteration,
                                   score=scores.get(cur, (None, 0))[0]))
        cur = rows[cur].parent_id
    counts = {"accepted": 0, "rejected": 0, "invalid": 0}
    for r in rows.values():
        if r.candidate_id != "seed" and r.status in counts:
            counts[r.status] += 1
    spend = store.query("SELECT coalesce(sum(cost_usd), 0) AS usd, count(*) AS n FROM llm_calls")
    return RunSummary(
        run_id=run_id, run_dir=run_dir, status=status, detail=detail, simulated=simulated,
        iterations_done=len(store.query("SELECT iteration FROM iterations")),
        iteration_budget=iteration_budget,
        seed_score=scores.get("seed", (None, 0))[0], best_candidate=best,
        best_score=scores[best][0] if best else None, counts=counts,
        lineage=list(reversed(lineage)), spend_usd=float(spend[0]["usd"]),
        llm_calls=int(spend[0]["n"]), final=final_result(store),
    )
