"""Racing: stop scoring a child once it can no longer strictly beat its parent (an exact saving).

Under the `strict` policy the child is accepted only when its final mean validation pass rate is
strictly greater than the parent's. After some of the scoring is done, the child's final mean is
at most (passes so far + evaluations left) / total, and the parent's final mean is at least
(passes so far, prior evaluations included) / total. When the first is ≤ the second the child is
rejected whatever the remaining papers say, so its remaining episodes are skipped. The parent is
always scored in full: its new evaluations add to its tally exactly as without racing, so later
iterations select parents from the same scores.

Determinism: the child's jobs run in fixed batches (with the matching parent jobs) and the check
runs only between batches, on the evaluations of the batches so far; so which episodes are
skipped depends on the sim's answers alone, never on thread timing, and a resumed run skips the
same ones. The child's recorded mean covers the papers it was scored on; since the race stops only
when even a perfect remainder could not beat the parent, that mean is ≤ the parent's as well, so
`policy.strict` rejects it just as it would have rejected the full scoring.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evolve.run import RunContext


def hopeless(child_passes: int, child_left: int, child_total: int, parent_passes: int,
             parent_total: int) -> bool:
    """True when even a perfect remainder leaves the child's mean ≤ the parent's worst case."""
    return Fraction(child_passes + child_left, child_total) <= Fraction(parent_passes, parent_total)


def passes(ctx: RunContext, candidate: str, iteration: int) -> dict[tuple[str, int], bool]:
    """{(paper, repeat): accepted} of a candidate's validation evaluations at `iteration`."""
    return {(r["paper_id"], r["repeat"]): bool(r["accepted"]) for r in ctx.store.query(
        "SELECT paper_id, repeat, accepted FROM evaluations WHERE candidate_id = ? AND "
        "purpose = 'validation' AND iteration = ?", [candidate, iteration])}


def race(ctx: RunContext, n: int, child: Sequence[Any], parent: Sequence[Any],
         prior: Sequence[float], run: Callable[[list[Any], int], object]) -> int:
    """Score child and parent batch by batch; returns how many child episodes were skipped."""
    size = max(1, ctx.config.inner_loop.concurrency)
    total_parent, prior_passes = len(prior) + len(parent), int(sum(prior))
    for start in range(0, len(child), size):
        end = min(len(child), start + size)
        run(list(child[start:end]) + list(parent[start:end]), n)
        got_c, got_p = passes(ctx, child[0][0], n), passes(ctx, parent[0][0], n)
        c = sum(got_c.get((j[2].id, j[3]), False) for j in child[:end])
        p = prior_passes + sum(got_p.get((j[2].id, j[3]), False) for j in parent[:end])
        if end < len(child) and hopeless(c, len(child) - end, len(child), p, total_parent):
            run(list(parent[end:]), n)
            ctx.log.info("iteration %d: racing skipped %d of %d child episodes", n,
                         len(child) - end, len(child))
            return len(child) - end
    run(list(parent[len(child):]), n)
    return 0
