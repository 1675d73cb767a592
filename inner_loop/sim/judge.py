"""The simulated judge: one binary verdict per rubric item, from the rubric and the answer only.

Positive item: met when the answer covers >= 60% of the criterion's content terms. Negative item:
met when the answer makes the described wrong claim, and — as the paper observed — sometimes
misfires on long answers. A small symmetric error rate models judge noise.
"""

from __future__ import annotations

import json
import re

from inner_loop.sim.solver import section
from inner_loop.sim.text import content_terms, coverage, rng

ITEM_RE = re.compile(r"^\s*(\d+)\.\s*\[weight\s*([+-]?\d+)\]\s*(.+)$", re.MULTILINE)
LEAD_IN = {"states", "explains", "mentions", "identifies", "claims", "uses", "setting's", "notes"}
JUDGE_ERROR = 0.03
LONG_ANSWER_CHARS = 900


def item_met(criterion: str, weight: int, answer: str, answer_terms: set[str], r) -> bool:
    if weight < 0:
        claim = criterion.split("Claims that", 1)[-1].strip().rstrip(".").lower()
        hit = bool(claim) and claim in answer.lower()
        misfire = 0.04 + (0.10 if len(answer) > LONG_ANSWER_CHARS else 0.0)
        return hit or r.random() < misfire
    needed = [t for t in content_terms(criterion) if t not in LEAD_IN]
    met = coverage(needed, answer_terms) >= 0.6
    return (not met) if r.random() < JUDGE_ERROR else met


def judge(prompt: str, seed: int) -> str:
    rubric, answer = section(prompt, "Rubric"), section(prompt, "Answer")
    answer = answer.split("\nReply with JSON only")[0]  # the protected prompt's closing line
    items = [(int(n), int(w), c.strip()) for n, w, c in ITEM_RE.findall(rubric)]
    answer_terms = set(content_terms(answer))
    r = rng("judge", seed, rubric, answer)
    verdicts = [{"item": n, "met": item_met(c, w, answer, answer_terms, r)} for n, w, c in items]
    return json.dumps({"judgments": verdicts})
