"""How the simulated challenger writes a rubric, and the wrong claims negative items look for."""

from __future__ import annotations

import random
from typing import Callable

from inner_loop.sim.facts import Fact
from inner_loop.sim.feedback import Feedback
from inner_loop.sim.text import content_terms

WRONG_CLAIMS = ("has no measurable effect on the results", "is only used at test time",
                "replaces the baseline entirely")


def fact_criteria(fact: Fact, topics: list[str]) -> list[str]:
    """Checkable criteria for one answer fact: the halves of the paper's own sentence, or the
    whole sentence when a half would carry fewer than three content terms of its own."""
    words = fact.text.rstrip(".").split()
    half = len(words) // 2
    parts = [words[:half], words[half:]]
    topic_words = {w for t in topics for w in t.split()}
    if any(len(set(content_terms(" ".join(p))) - topic_words) < 3 for p in parts):
        parts = [words]
    return [f"States that {' '.join(part[:24])}" for part in parts]


def weights_for(n_core: int, n_other: int, cap: int, r: random.Random) -> list[int]:
    if cap <= 7:  # flat: every fact matters about as much
        return [r.randint(cap - 1, cap) for _ in range(n_core)] + [r.randint(3, cap - 1) for _ in range(n_other)]
    return [r.randint(cap - 1, cap) for _ in range(n_core)] + [r.randint(2, 5) for _ in range(n_other)]


def negative_count(feats: frozenset[str], fb: Feedback, r: random.Random) -> int:
    """Negative items: none when told positive-only (by the prompt or a quality failure), 3-5 when
    the prompt or a quality failure demands them, else 1-2 out of habit."""
    if "positive_only" in feats or fb.mentions("positive-only"):
        return 0
    if "negatives_required" in feats or fb.mentions("needs 3-5 negative"):
        return r.randint(3, 5)
    return r.randint(1, 2)


def build_rubric(answer: list[Fact], premises: list[Fact], topics: list[str], feats: frozenset[str],
                 fb: Feedback, cap: int | None, stream: Callable[[str], random.Random]) -> list[dict]:
    """`stream(name)` gives the named random stream of each decision (see challenger.py)."""
    r = stream("weights")
    cap = 7 if ("cap_7" in feats or (cap is not None and cap <= 7)) else (cap or 10)
    criteria = [c for f in answer for c in fact_criteria(f, topics)]
    ws = weights_for(2, len(criteria) - 2, cap, r)
    items = [{"criterion": c, "weight": w, "category": "key fact"} for c, w in zip(criteria, ws)]
    ctx_terms = [t for p in premises for t in p.rare][:4]
    if len(ctx_terms) >= 2:
        items.append({"criterion": f"Uses the setting's {ctx_terms[0]} and {ctx_terms[1]}",
                      "weight": r.randint(1, 3), "category": "grounding"})
    rn = stream("negatives")
    claims = sorted({f"{t} {w}" for t in topics for w in WRONG_CLAIMS})
    for claim in rn.sample(claims, min(len(claims), negative_count(feats, fb, rn))):
        items.append({"criterion": f"Claims that {claim}", "weight": -rn.randint(3, 8), "category": "mistake"})
    rs = stream("weight format")
    if "integer_literal" not in feats and rs.random() < 0.12:
        i = rs.randrange(len(items))  # "+8": the weight written as a signed string
        items[i]["weight"] = f"{items[i]['weight']:+d}"
    return items
