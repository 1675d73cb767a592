"""Parent selection (paper §4): among accepted candidates, p(c) ∝ exp(score(c) / T).

T = 0.1 by default (EvolveConfig.selection_temperature): a candidate 0.1 better in pass rate is
e ≈ 2.7 times as likely to be picked. Computed as a softmax with the maximum subtracted first,
so no temperature overflows. Deterministic given the rng: candidates are taken in sorted id order.

What iteration n selects from is its `View`: the outcomes of iterations ≤ n − K only (evolve/loop.py,
"Determinism"), and its candidate id and rng depend on (run seed, n) alone.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evolve.analyzer import history_line
from evolve.store.queries import by_candidate


def candidate_id(seed: int, n: int) -> str:
    return f"c{n:04d}-{hashlib.sha256(f'autodata-candidate:{seed}:{n}'.encode()).hexdigest()[:6]}"


def iteration_rng(seed: int, n: int) -> random.Random:
    digest = hashlib.sha256(f"autodata-iteration:{seed}:{n}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True)
class View:
    """What iteration n may know: every evaluation and outcome of iterations ≤ `upto`."""

    upto: int
    accepted: tuple[str, ...]
    passes: dict[str, list[float]]  # candidate -> pass (1.0) / fail (0.0) per evaluation
    history: tuple[str, ...]

    def scores(self) -> dict[str, float]:
        return {c: sum(self.passes[c]) / len(self.passes[c]) for c in self.accepted
                if self.passes.get(c)}


def view_of(store: Any, upto: int) -> View:
    passes = by_candidate(store.outcomes(upto=upto))
    rows = store.query("SELECT * FROM iterations WHERE iteration <= ? ORDER BY iteration", [upto])
    accepted = ("seed",) + tuple(r["candidate_id"] for r in rows if r["status"] == "accepted")
    history = tuple(history_line(r["iteration"], r["parent_id"], r["status"], r["summary"],
                                 r["parent_score"], r["child_score"]) for r in rows)
    return View(upto, accepted, passes, history)


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
