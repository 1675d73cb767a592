"""Parent selection (paper §4): among accepted candidates, p(c) ∝ exp(score(c) / T).

T = 0.1 by default (EvolveConfig.selection_temperature): a candidate 0.1 better in pass rate is
e ≈ 2.7 times as likely to be picked. Computed as a softmax with the maximum subtracted first,
so no temperature overflows. Deterministic given the rng: candidates are taken in sorted id order.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping


def parent_probabilities(scores: Mapping[str, float], temperature: float) -> dict[str, float]:
    """candidate_id -> selection probability, in sorted candidate_id order."""
    if not scores:
        raise ValueError("no accepted candidate to select a parent from")
    if not temperature > 0 or math.isinf(temperature):
        raise ValueError(f"selection temperature must be a positive finite number, got {temperature}")
    ids = sorted(scores)
    top = max(scores[c] for c in ids)
    weights = [math.exp((scores[c] - top) / temperature) for c in ids]
    total = math.fsum(weights)
    return {c: w / total for c, w in zip(ids, weights)}


def select_parent(scores: Mapping[str, float], temperature: float, rng: random.Random) -> str:
    """Draw one candidate_id with p ∝ exp(score / temperature) (one rng.random() per call)."""
    probs = parent_probabilities(scores, temperature)
    u = rng.random()
    cumulative = 0.0
    for candidate_id, p in probs.items():
        cumulative += p
        if u < cumulative:
            return candidate_id
    return [c for c, p in probs.items() if p > 0][-1]  # u within rounding of 1.0
