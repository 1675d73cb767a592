"""The simulated analyzer's hypotheses, written from the evidence it read.

A hypothesis is `Evidence: <what the failing rounds show> Change: <what to do>`. The evidence
names the cause's rounds, papers and numbers (weak/strong averages, the largest weight, the
negative items, a quoted question); the change is one of several ways an analyst would address
that cause, its numbers taken from the evidence (a cap below the largest weight seen, a round
limit above the rounds used) and its wording drawn from the analyzer's own seeded stream. The
implementer reads only the part after `Change:`, through the same lexicon every simulated model
uses; quotes are in double quotes, which that lexicon never reads as instructions.
"""

from __future__ import annotations

import json
import random
import re
import statistics
from dataclasses import dataclass

Round = tuple[str, int, str, str]  # (paper_id, round, outcome, transcript block)
C, V, R, O = "prompts/challenger.md", "prompts/verifier.md", "prompts/refinement.md", "prompts/orchestrator.md"


@dataclass
class Stats:
    rounds: int
    papers: list[str]
    weak: float | None
    strong: float | None
    max_weight: int | None
    negatives: float
    quote: str
    used_rounds: int


def _num(block: str, name: str) -> float | None:
    m = re.search(rf"\b{name}=(\d(?:\.\d+)?)", block)
    return float(m.group(1)) if m else None


def _weights(block: str) -> list[int]:
    m = re.search(r"^rubric: (.*)$", block, re.M)
    try:
        items = json.loads(m.group(1)) if m else []
    except json.JSONDecodeError:
        return []
    return [i["weight"] for i in items if isinstance(i, dict) and isinstance(i.get("weight"), int)] if isinstance(items, list) else []


def stats_of(rounds: list[Round]) -> Stats:
    weak = [x for _, _, _, b in rounds if (x := _num(b, "weak_avg")) is not None]
    strong = [x for _, _, _, b in rounds if (x := _num(b, "strong_avg")) is not None]
    weights = [w for _, _, _, b in rounds for w in _weights(b)]
    negs = [sum(1 for w in _weights(b) if w < 0) for _, _, _, b in rounds]
    q = next((m.group(1) for _, _, _, b in rounds if (m := re.search(r"^question: (.*)$", b, re.M))), "-")
    papers = list(dict.fromkeys(p for p, _, _, _ in rounds))
    return Stats(len(rounds), papers, statistics.mean(weak) if weak else None,
                 statistics.mean(strong) if strong else None, max(weights) if weights else None,
                 statistics.mean(negs) if negs else 0.0, q[:120].replace('"', "'"),
                 max((i for _, i, _, _ in rounds), default=0))


def evidence_text(cause: str, st: Stats, total_failed: int) -> str:
    where = ", ".join(st.papers[:3]) + (f" and {len(st.papers) - 3} more" if len(st.papers) > 3 else "")
    parts = [f"{st.rounds} of {total_failed} failed rounds ({where}) point to {cause.replace('_', ' ')}"]
    if st.weak is not None:
        parts.append(f"weak average {st.weak:.2f}" + (f", strong {st.strong:.2f}" if st.strong is not None else ""))
    if st.max_weight is not None and cause in ("negatives", "too_hard", "verifier_rules"):
        parts.append(f"largest weight {st.max_weight}, {st.negatives:.1f} negative items per rubric")
    if cause in ("generic", "leak", "feedback", "too_hard"):
        parts.append(f'e.g. "{st.quote}"')
    return "; ".join(parts) + "."


def _cap(st: Stats, r: random.Random) -> int:
    top = st.max_weight if st.max_weight and st.max_weight > 1 else 10
    return max(2, min(9, top - r.randint(1, 5)))


def change_for(cause: str, st: Stats, r: random.Random) -> tuple[str, str]:
    """(target file, change) for one cause: one of several remedies, numbers from the evidence."""
    k = _cap(st, r)
    options: dict[str, list[tuple[str, str]]] = {
        "generic": [
            (C, "add a paper-specific self-test: ask whether a strong model could answer the question without reading this paper, and if so replace it."),
            (C, "require questions that only a reader who has read this paper can answer; they must not be answerable from general knowledge."),
            (C, "ask for quantitative questions about numbers this paper reports."),
            (C, "ask for harder questions about details only this paper states."),
        ],
        "leak": [
            (C, "none of the answer's key facts may appear in the context; check each context sentence against the reference answer."),
            (V, "make the verifier compare each context sentence with the reference answer."),
            (C, "tell the challenger not to give away the answer in the context."),
        ],
        "negatives": [
            (C, f"use only positive weights, integers from 1 to {k}; no negative items."),
            (C, f"cap every weight at {k} and use at most 1-2 negative items."),
            (C, f"no negative items; weights between 1 and {k}, written as plain JSON integers."),
        ],
        "too_hard": [
            (R, "after FAILED ON STRONG failures pick more central, better-supported content."),
            (C, f"flatten the rubric: weights capped at {k}, so no single item decides the score."),
            (C, "write one rubric item per fact the reference answer states."),
        ],
        "weight_format": [(C, "write every weight as plain JSON integers: no plus signs, never as strings.")],
        "json": [(C, "reply with only the JSON object: no prose before or after it, no trailing commas.")],
        "verifier_rules": [(V, f"align the verifier's rubric rules with the challenger's: only positive weights, at most {k}.")],
        "feedback": [
            (R, "after TOO EASY failures ask for harder questions about details only this paper states."),
            (R, "raise the difficulty after each TOO EASY failure and do not repeat earlier questions."),
            (R, "use a completely different section of the paper for the next example."),
        ],
        "round_budget": [(O, f"allow up to {st.used_rounds + r.randint(2, 4)} rounds, since late rounds still get accepted.")],
    }
    return r.choice(options[cause])
