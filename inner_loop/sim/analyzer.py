"""The simulated analyzer: reads the transcripts it is given and writes a root-cause diagnosis.

It parses the transcript format of inner_loop/formats.py (episode and round headers, the
example's fields, the verifier line, parse errors), classifies each failed round by cause, and
writes a hypothesis per frequent cause from that cause's evidence (its rounds, papers, solver
averages, weights, a quoted question; proposals.py) with one of several remedies whose numbers
come from the evidence. It reads the history and drops an idea that was already rejected twice.
Different logs give different diagnoses; it sometimes ranks a lesser cause first (MISRANK).
"""

from __future__ import annotations

import json
import re
from collections import Counter

from inner_loop.formats import (
    EPISODE_RE, EPISODE_START, HARNESS_FILES, HISTORY, ROUND_RE, TRANSCRIPTS, field_of, section_of,
)
from inner_loop.sim.proposals import Round, change_for, evidence_text, stats_of
from inner_loop.sim.text import rng
from inner_loop.sim.verifier import leaks

MISRANK = 0.10

CATEGORY = {"generic": "too_easy", "leak": "too_easy", "negatives": "failed_on_strong",
            "too_hard": "failed_on_strong", "weight_format": "failed_quality_check", "json": "parse_error",
            "verifier_rules": "failed_quality_check", "feedback": "too_easy", "round_budget": "exhausted"}
LABELS = {"generic": "paper-specific self-test", "leak": "context-leak rule",
          "negatives": "rubric weights and negative items", "too_hard": "question difficulty",
          "weight_format": "integer weight format", "json": "strict JSON", "verifier_rules": "verifier rubric rules",
          "feedback": "failure feedback", "round_budget": "round limit"}


def rejected_twice(history: str, cause: str) -> bool:
    lines = [ln for ln in history.splitlines() if ("rejected" in ln or "invalid" in ln) and LABELS[cause] in ln]
    return len(lines) >= 2


def _rule(block: str) -> str:
    m = ROUND_RE.search(block)
    return m.group(3) if m else "-"


def _field(block: str, name: str) -> str:
    return field_of(block, name)


def _example(block: str) -> dict:
    try:
        rubric = json.loads(_field(block, "rubric"))
    except json.JSONDecodeError:
        rubric = []
    return {"context": _field(block, "context"), "reference_answer": _field(block, "reference_answer"),
            "rubric": rubric if isinstance(rubric, list) else []}


def classify(outcome: str, block: str) -> str | None:
    """The cause of one failed round, from what the transcript shows."""
    ex, verifier, parse = _example(block), _field(block, "verifier"), _field(block, "parse_error")
    weights = [i.get("weight") for i in ex["rubric"] if isinstance(i, dict)]
    if outcome == "parse_error" or "json" in parse.lower() or "unparseable" in verifier.lower():
        return "json"
    if outcome == "abandoned" and not _field(block, "challenger_reply").startswith("{"):
        return "json"  # the reply was wrapped in prose or a fence and the harness dropped it
    if outcome == "too_easy" and _rule(block) == "weak_zero":
        # a weak sample clipped to zero: negative items outweighing what it got right
        return "negatives" if any(isinstance(w, int) and w < 0 for w in weights) else None
    if outcome == "too_easy":
        return "leak" if leaks(ex) else "generic"
    if outcome == "failed_on_strong":
        return "negatives" if any(isinstance(w, int) and w < 0 for w in weights) else "too_hard"
    if outcome in ("failed_quality_check", "failed_final_guard"):
        low = (verifier + " " + parse + " " + _field(block, "reason")).lower()
        if "integer" in low or "string" in low:
            return "weight_format"
        if "negative" in low:
            has_neg = any(isinstance(w, int) and w < 0 for w in weights)
            return "negatives" if has_neg else "verifier_rules"
        if "leak" in low:
            return "leak"
    return None


def read_rounds(transcripts: str) -> list[Round]:
    """(paper_id, round, outcome, block) for every round."""
    out = []
    for ep in re.split(EPISODE_START, transcripts, flags=re.M):
        m = EPISODE_RE.search(ep)
        if not m:
            continue
        heads = list(ROUND_RE.finditer(ep))
        for i, h in enumerate(heads):
            end = heads[i + 1].start() if i + 1 < len(heads) else len(ep)
            out.append((m.group(1), int(h.group(1)), h.group(2), ep[h.start():end]))
    return out


def feedback_unused(rounds: list[Round]) -> list[Round]:
    """The too-easy rounds after the second of a paper: the feedback did not move the question."""
    seen: Counter[str] = Counter()
    out = []
    for r in rounds:
        if r[2] == "too_easy":
            seen[r[0]] += 1
            if seen[r[0]] >= 3:
                out.append(r)
    return out


def exhausted(rounds: list[Round], max_round: int) -> list[Round]:
    """The last rounds of papers that failed in every round they had (the round budget ran out)."""
    by_paper: dict[str, list[Round]] = {}
    for r in rounds:
        by_paper.setdefault(r[0], []).append(r)
    return [rs[-1] for rs in by_paper.values()
            if all(r[2] != "accepted" for r in rs) and len(rs) >= max_round]


def causes_of(rounds: list[Round]) -> dict[str, list[Round]]:
    by_cause: dict[str, list[Round]] = {}
    for rnd in rounds:
        cause = classify(rnd[2], rnd[3])
        if cause:
            by_cause.setdefault(cause, []).append(rnd)
    if fb := feedback_unused(rounds):
        by_cause["feedback"] = fb
    if (ex := exhausted(rounds, max((i for _, i, _, _ in rounds), default=0))) and len(ex) >= 2:
        by_cause["round_budget"] = ex
    return by_cause


def diagnose(text: str, seed: int) -> str:
    transcripts = section_of(text, TRANSCRIPTS, HISTORY)
    history = section_of(text, HISTORY, HARNESS_FILES)
    rounds = read_rounds(transcripts)
    counts = Counter(outcome for _, _, outcome, _ in rounds)
    by_cause = causes_of(rounds)
    ranked = sorted((c for c in by_cause if not rejected_twice(history, c)), key=lambda c: (-len(by_cause[c]), c))
    r = rng("analyzer", seed, transcripts)
    if len(ranked) > 1 and r.random() < MISRANK:
        ranked[0], ranked[1] = ranked[1], ranked[0]
    failed = sum(n for o, n in counts.items() if o != "accepted")
    total = max(1, sum(len(v) for v in by_cause.values()))
    hypotheses, evidence = [], []
    for c in ranked[:4]:
        st = stats_of(by_cause[c])
        target, change = change_for(c, st, r)
        hypotheses.append({"category": CATEGORY[c], "target": target,
                           "change": f"Evidence: {evidence_text(c, st, failed)} Change: {change}",
                           "confidence": round(min(0.95, len(by_cause[c]) / total + 0.1), 2)})
        paper, idx, outcome, block = by_cause[c][0]
        quote = _field(block, "verifier") if c in ("verifier_rules", "weight_format") else _field(block, "question")
        evidence.append({"paper_id": paper, "round": idx, "quote": f"[{outcome}] {quote[:160]}"})
    top = ranked[0] if ranked else None
    summary = (f"{failed} of {len(rounds)} rounds failed; the dominant cause is {LABELS[top]} "
               f"({len(by_cause[top])} rounds)." if top else f"{failed} of {len(rounds)} rounds failed; no clear cause.")
    return json.dumps({"summary": summary, "failure_counts": dict(counts), "evidence": evidence,
                       "hypotheses": hypotheses}, ensure_ascii=False)
