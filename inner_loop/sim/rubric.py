"""How the simulated challenger writes a rubric, and the wrong claims negative items look for."""

from __future__ import annotations

import random
import re
from typing import Callable

from inner_loop.sim.facts import Fact
from inner_loop.sim.feedback import Feedback
from inner_loop.sim.text import content_terms

WRONG_CLAIMS = ("has no measurable effect on the results", "is only used at test time",
                "replaces the baseline entirely")
NEEDS_NEGATIVES = re.compile(r"needs (\d+)-(\d+) negative")
HABIT_NEGATIVES = (1, 2)  # negative items a challenger writes when nothing is stated
DEFAULT_CAP = 10     # a prompt that states no cap gets weights up to 10
FLAT_CAP = 7         # at or under this cap the weights are flat
STRING_WEIGHT = 0.12  # without an integer rule, one weight written as a string ("+8")


def fact_criteria(fact: Fact, topics: list[str], parts: int = 2) -> list[str]:
    """Checkable criteria for one answer fact: the paper's own sentence cut into `parts` pieces,
    fewer when a piece would carry fewer than three content terms of its own."""
    words = fact.text.rstrip(".").split()
    topic_words = {w for t in topics for w in t.split()}
    for n in range(parts, 1, -1):
        size = -(-len(words) // n)
        pieces = [words[i:i + size] for i in range(0, len(words), size)]
        if all(len(set(content_terms(" ".join(p))) - topic_words) >= 3 for p in pieces):
            return [f"States that {' '.join(p[:24])}" for p in pieces]
    return [f"States that {' '.join(words[:24])}"]


def weights_for(n_core: int, n_other: int, cap: int, r: random.Random) -> list[int]:
    """The two core items weigh cap-1..cap; the others 2-5 under a loose cap (> 7: the core items
    dominate the score), up to cap-1 under a tight one (flat: every fact matters about as much)."""
    core = [r.randint(max(1, cap - 1), cap) for _ in range(n_core)]
    if cap > FLAT_CAP:
        return core + [r.randint(2, 5) for _ in range(n_other)]
    lo = max(1, min(3, cap - 1))
    return core + [r.randint(lo, max(lo, cap - 1)) for _ in range(n_other)]


def negative_count(stated: tuple[int, int] | None, fb: Feedback, r: random.Random) -> int:
    """Negative items: none when told positive-only (by the prompt or a quality failure), the
    stated number when the prompt or a quality failure asks for some, else 1-2 out of habit."""
    if stated == (0, 0) or fb.mentions("positive-only"):
        return 0
    asked = next((m for x in fb.reasons if (m := NEEDS_NEGATIVES.search(x))), None)
    if asked:  # a quality failure named the range its verifier wants
        return r.randint(int(asked.group(1)), int(asked.group(2)))
    if stated is not None:
        return r.randint(*stated)
    return r.randint(*HABIT_NEGATIVES)


def fit_count(answer: list[Fact], premises: list[Fact], topics: list[str], wanted: tuple[int, int] | None,
              r: random.Random) -> list[str]:
    """The positive criteria, meeting a stated number of items: each answer fact in halves (no
    number stated); for more, finer pieces (thirds), then items on the setting's own sentences
    (filler every solver reads in the context); for fewer, the pieces of one fact merged."""
    criteria = [c for f in answer for c in fact_criteria(f, topics)]
    if wanted is None:
        return criteria
    target = r.randint(*wanted)
    if len(criteria) < target:
        criteria = [c for f in answer for c in fact_criteria(f, topics, parts=3)]
    padding = [c for p in premises for c in fact_criteria(p, topics)]
    while len(criteria) < target and padding:
        criteria.append(padding.pop(0))
    while len(criteria) > max(1, target):
        last = criteria.pop()
        criteria[-1] += " " + last.removeprefix("States that ")
    return criteria


def build_rubric(answer: list[Fact], premises: list[Fact], topics: list[str], feats: frozenset[str],
                 fb: Feedback, stated: dict, stream: Callable[[str], random.Random]) -> list[dict]:
    """`stated`: the numbers the prompt gives (cap, negatives, positives); `stream(name)` gives the
    named random stream of each decision (see challenger.py)."""
    r = stream("weights")
    cap = stated.get("cap") or DEFAULT_CAP
    criteria = fit_count(answer, premises, topics, stated.get("positives"), stream("count"))
    ws = weights_for(min(2, len(criteria)), max(0, len(criteria) - 2), cap, r)
    items = [{"criterion": c, "weight": w, "category": "key fact"} for c, w in zip(criteria, ws)]
    ctx_terms = [t for p in premises for t in p.rare][:4]
    if len(ctx_terms) >= 2:
        items.append({"criterion": f"Uses the setting's {ctx_terms[0]} and {ctx_terms[1]}",
                      "weight": r.randint(1, min(3, cap)), "category": "grounding"})
    rn = stream("negatives")
    claims = sorted({f"{t} {w}" for t in topics for w in WRONG_CLAIMS})
    for claim in rn.sample(claims, min(len(claims), negative_count(stated.get("negatives"), fb, rn))):
        items.append({"criterion": f"Claims that {claim}", "weight": -rn.randint(3, 8), "category": "mistake"})
    rs = stream("weight format")
    if "integer_literal" not in feats and rs.random() < STRING_WEIGHT:
        i = rs.randrange(len(items))  # "+8": the weight written as a signed string
        items[i]["weight"] = f"{items[i]['weight']:+d}"
    return items
