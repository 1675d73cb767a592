"""Racing: stop scoring a child once it can no longer beat its parent (an exact saving).

Under the `strict` policy the child is accepted only when its final mean validation pass rate is
strictly greater than the parent's. After some of the scoring is done, the child's final mean is
at most (passes so far + evaluations left) / total, and the parent's final mean is at least
(passes so far, prior evaluations included) / total. When the first is ≤ the second the child is
rejected whatever the remaining papers say, so its remaining episodes are skipped. The parent is
always scored in full: its new evaluations add to its tally exactly as without racing, so later
iterations select parents from the same scores.

The parent first. The parent's jobs start first, so by the time the child is checked its final
tally is known exactly (not a worst case); the child's papers go in order of the parent's prior
pass rate on them, lowest first (the papers a child most likely fails), fixed before any of
this iteration's results exist (`hardest_first`: the parent's jobs go in the same order).

Determinism without barriers: `inner_loop.concurrency` (W) episodes run at a time. Child
episode i ≥ W starts only once the whole parent and child episodes 0 … i−W have finished, and
the check before it reads exactly those results; the first W child episodes start at once and
fill the parent's tail. So which episodes are skipped depends on the answers alone, never on
thread timing (a resumed run skips the same ones), and no batch waits for its slowest episode.
Children still in flight when the race is lost finish and are recorded; the child's recorded
mean covers them, and since (c + x) / (k + x) grows with x for c ≤ k, that mean is ≤ the bound
that lost the race, so `policy.strict` rejects it just as it would the full scoring.

Longest first at the endpoint. Each episode's calls wait for an endpoint slot (llm/slots.py) at
its calls so far plus its job's place: how many fewer calls than the longest the parent's
earlier episodes on that paper made (`expected_calls`, iterations ≤ n − K only). So when calls
queue, the episodes with the most calls expected still to come go first and the scoring ends
with many short chains, not one long one (the tail where fewer than C calls are in flight).
Priorities order waiting calls only, never what is sent: decisions are the same either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from fractions import Fraction
from typing import Any

from evolve.context import RunContext
from evolve.jobs import Job, raise_stops, stopped
from inner_loop.llm import slots


def hopeless(child_passes: int, child_left: int, child_total: int, parent_passes: int,
             parent_total: int) -> bool:
    """True when even a perfect remainder leaves the child's mean ≤ the parent's worst case."""
    return Fraction(child_passes + child_left, child_total) <= Fraction(parent_passes, parent_total)


def passes(store: Any, candidate: str, iteration: int) -> dict[tuple[str, int], bool]:
    """{(paper, repeat): passed} of a candidate's validation evaluations at `iteration`."""
    return {(r.paper_id, r.repeat): r.passed
            for r in store.outcomes(candidate, iteration=iteration)}


def hardest_first(jobs: Sequence[Job], prior: dict[str, list[float]]) -> list[Job]:
    """Jobs on the papers the parent passed least often before first (stable).

    For the child these are the papers it most likely fails (a lost race shows early); for both
    they are the longest episodes (a failed episode uses every round), so starting them first
    leaves short episodes for the end of the scoring and its tail at the endpoint is short."""
    def rate(job: Job) -> float:
        seen = prior.get(job.paper.id)
        return sum(seen) / len(seen) if seen else 1.0
    return sorted(jobs, key=rate)


def expected_calls(store: Any, candidate: str, upto: int) -> dict[str, float]:
    """paper -> mean calls (paid and shared) of `candidate`'s validation episodes of iterations
    ≤ `upto` on it, read from the call tags `it<n>/<candidate>/validation/<paper>/r<repeat>/…`."""
    rows = store.query(
        "SELECT split_part(tag, '/', 4) AS paper, count(*) AS calls, count(DISTINCT "
        "split_part(tag, '/', 1) || '/' || split_part(tag, '/', 5)) AS episodes FROM llm_calls "
        "WHERE split_part(tag, '/', 2) = ? AND split_part(tag, '/', 3) = 'validation' AND "
        "TRY_CAST(substr(split_part(tag, '/', 1), 3) AS INTEGER) <= ? GROUP BY 1",
        [candidate, upto])
    return {r["paper"]: r["calls"] / max(1, r["episodes"]) for r in rows}


def longest_first(run: Callable[[Job], Any], length: dict[str, float]) -> Callable[[Job], Any]:
    """`run` with each job's episode at its place in the endpoint queues: 0 for the longest
    expected episode, k for one expected to make k fewer calls (unknown papers: last)."""
    longest = max(length.values(), default=0.0)

    def run_at_place(job: Job) -> Any:
        with slots.priority(round(longest - length.get(job.paper.id, 0.0))):
            return run(job)
    return run_at_place


def race(ctx: RunContext, n: int, child: Sequence[Job], parent: Sequence[Job],
         prior: dict[str, list[float]], run: Callable[[Job], Any]) -> int:
    """Score parent, then child (a rolling window); returns how many child episodes were skipped.

    `prior`: the parent's earlier validation results by paper. `run(job)` runs and records one
    episode (None when recorded before); a record whose status is `budget` or `infrastructure`
    stops new starts, and `raise_stops` raises for it at the end."""
    window = max(1, ctx.config.inner_loop.concurrency)
    child, parent = hardest_first(child, prior), hardest_first(parent, prior)
    earlier = [x for xs in prior.values() for x in xs]
    total_parent = len(earlier) + len(parent)
    skipped, p = 0, None
    run = longest_first(run, expected_calls(ctx.store, parent[0].candidate_id if parent else "",
                                            n - ctx.config.evolve.concurrency))
    with ThreadPoolExecutor(window, thread_name_prefix="episode") as pool:
        parent_f = [pool.submit(run, job) for job in parent]
        child_f: list[Future] = []
        for i in range(len(child)):
            k = i - window  # the whole parent and child 0 … k are finished before child i
            if k >= 0:
                if stopped(child_f[k].result()) or any(stopped(f.result()) for f in parent_f):
                    break
                if p is None:  # the parent's final tally: every parent episode is in
                    got_p = passes(ctx.store, parent[0].candidate_id, n)
                    p = int(sum(earlier)) + sum(got_p.get((j.paper.id, j.repeat), False)
                                                for j in parent)
                got_c = passes(ctx.store, child[0].candidate_id, n)
                c = sum(got_c.get((j.paper.id, j.repeat), False) for j in child[:k + 1])
                if hopeless(c, len(child) - k - 1, len(child), p, total_parent):
                    skipped = len(child) - i
                    ctx.log.info("iteration %d: racing skipped %d of %d child episodes", n,
                                 skipped, len(child))
                    break
            child_f.append(pool.submit(run, child[i]))
        records = [f.result() for f in parent_f + child_f]
    raise_stops(records)
    return skipped
