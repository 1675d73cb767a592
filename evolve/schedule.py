"""The run: the seed harness scored, iterations 1..N of the outer loop (evolve/loop.py)
`concurrency` (K) at a time, then the final re-evaluation of the top candidates
(evolve/final.py). Iteration n starts once every iteration ≤ n − K is done (loop.py,
"Determinism"); a budget stop ends the run cleanly (resumable).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from inner_loop.episode import EpisodeRecord
from inner_loop.llm import slots
from inner_loop.llm.types import BudgetExceeded
from evolve import final
from evolve.context import RunContext
from evolve.jobs import Job, raise_stops, run_job
from evolve.loop import draws, iterate

BEHIND = 1_000_000  # a slot place after any episode's own calls: only idle slots are taken


def early_minibatch(ctx: RunContext, seed_dir: Path) -> list[tuple[Job, int]]:
    """(job, n): iterations 1..K's minibatch episodes, known before the seed is scored. Their
    view (iterations ≤ 0) holds one accepted candidate, the seed, so each selects the seed
    whatever its score, and `draws` gives the same minibatch then as after the scoring."""
    ev = ctx.config.evolve
    return [(Job("seed", seed_dir, p, n * ev.repeats), n)
            for n in range(1, min(ev.concurrency, ev.iterations) + 1)
            for p in draws(ctx, n, {"seed": 0.0})[1]]


def score_seed(ctx: RunContext) -> None:
    """The seed harness (candidate `seed`, iteration 0) on the validation papers; behind it, in
    the same episode window and last at the endpoint (slot place BEHIND), iterations 1..K's
    minibatch episodes (`early_minibatch`): they fill the slots the scoring's tail leaves idle,
    and `propose` finds them recorded. Same episodes, same records: only their timing moves."""
    seed_dir = ctx.repo.checkout(ctx.repo.seed_sha)
    jobs = [(Job("seed", seed_dir, p, r), "validation", 0) for p in ctx.validation
            for r in range(ctx.config.evolve.repeats)]
    jobs += [(job, "minibatch", n) for job, n in early_minibatch(ctx, seed_dir)]

    def run(item: tuple[Job, str, int]) -> EpisodeRecord | None:
        with slots.priority(BEHIND if item[1] == "minibatch" else 0):
            return run_job(ctx, *item)
    workers = max(1, min(ctx.config.inner_loop.concurrency, len(jobs)))
    with ThreadPoolExecutor(workers, thread_name_prefix="episode") as pool:
        raise_stops(list(pool.map(run, jobs)))


def schedule(ctx: RunContext) -> None:
    """Iterations 1..N, K at a time; iteration n starts once every iteration ≤ n − K is done."""
    ev = ctx.config.evolve
    finished = {r["iteration"] for r in ctx.store.query("SELECT iteration FROM iterations")}
    futures: dict[int, Future] = {}
    with ThreadPoolExecutor(ev.concurrency, thread_name_prefix="iteration") as pool:
        for n in range(1, ev.iterations + 1):
            _wait(futures, n - ev.concurrency)
            if ctx.stop_reason is not None:
                break
            if n not in finished:
                futures[n] = pool.submit(_guarded, ctx, n)
        _wait(futures, ev.iterations)


def _wait(futures: dict[int, Future], upto: int) -> None:
    for n in sorted(futures):
        if n <= upto:
            futures[n].result()


def _guarded(ctx: RunContext, n: int) -> None:
    try:
        iterate(ctx, n)
    except BudgetExceeded as exc:
        ctx.stop(f"budget: {exc}")


def evolve(ctx: RunContext) -> None:
    """The run: the seed scored on the validation papers, the iterations, then the final
    re-evaluation of the top candidates with fresh repeats (evolve/final.py)."""
    final.check(ctx.config)
    try:
        score_seed(ctx)
    except BudgetExceeded as exc:
        ctx.stop(f"budget: {exc}")
        return
    ctx.progress.note(f"seed harness: validation pass rate {ctx.best_score():.1%} (tally)")
    schedule(ctx)
    if ctx.stop_reason is None:
        try:
            final.reevaluate(ctx)
        except BudgetExceeded as exc:
            ctx.stop(f"budget: {exc}")
