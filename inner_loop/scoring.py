"""The protected rubric score (paper §2): clip(Σ wᵢ·sᵢ / Σ_{w>0} w, 0, 1).

sᵢ ∈ {0, 1} is the judge's binary verdict on item i. A negative item that fires (sᵢ = 1) subtracts
its weight; the denominator is the sum of the positive weights only, so an answer meeting every
positive item and no negative one scores exactly 1.0.
"""

from __future__ import annotations

from collections.abc import Sequence


def score(weights: Sequence[int], met: Sequence[bool]) -> float:
    """Score of one judged answer; 0.0 when no weight is positive."""
    if len(weights) != len(met):
        raise ValueError(f"score: {len(weights)} weights but {len(met)} verdicts")
    positive = sum(w for w in weights if w > 0)
    if positive <= 0:
        return 0.0
    raw = sum(w for w, s in zip(weights, met, strict=True) if s) / positive
    return min(1.0, max(0.0, raw))


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean of a non-empty sequence of scores."""
    if not values:
        raise ValueError("mean of no scores")
    return sum(values) / len(values)
