"""The simulated analyzer: reads the transcripts it is given and writes a root-cause diagnosis.

It parses the transcript format of evolve/transcripts.py (episode and round headers, the
example's fields, the verifier line, parse errors), classifies each failed round by cause, quotes
evidence, and turns the most frequent causes into hypotheses phrased as concrete changes. It
reads the history and drops an idea that was already rejected twice. Different logs give
different diagnoses; it sometimes ranks a lesser cause first (10%).
"""

from __future__ import annotations

import json
import re
from collections import Counter

from inner_loop.sim.text import rng
from inner_loop.sim.verifier import leaks

ROUND_RE = re.compile(r"^#### Round (\d+): outcome=(\w+) failed_rule=(\S+) weak_avg=(\S+) strong_avg=(\S+)", re.M)
EPISODE_RE = re.compile(r"^### Episode (\S+)", re.M)
MISRANK = 0.10

# cause -> (category, target file, the change, phrased the way a careful analyst would)
IDEAS = {
    "generic": ("too_easy", "prompts/challenger.md",
                "Add a paper-specific self-test: before finalising, the challenger asks whether a strong model "
                "could answer without reading this paper, and if so picks a detail only this paper states."),
    "leak": ("too_easy", "prompts/challenger.md",
             "Forbid context leaks: none of the answer's key facts may appear in the context; check each "
             "context sentence against the reference answer."),
    "negatives": ("failed_on_strong", "prompts/challenger.md",
                  "Use only positive weights, plain JSON integers from 1 to 7 (at most 7), no negative items: "
                  "negative items misfire on long, correct strong answers."),
    "weight_format": ("failed_quality_check", "prompts/challenger.md",
                      "Write every weight as plain JSON integers (no plus signs, never as strings)."),
    "json": ("parse_error", "prompts/challenger.md",
             "Ask for only the JSON object: no prose before or after it, no trailing commas."),
    "verifier_rules": ("failed_quality_check", "prompts/verifier.md",
                       "Align the verifier's rubric rules with the challenger's: only positive weights, plain "
                       "JSON integers from 1 to 7 (at most 7), no negative items."),
    "feedback": ("too_easy", "prompts/refinement.md",
                 "Use the failure feedback: after TOO EASY failures ask for harder questions about details only "
                 "this paper states (numbers, ablations, design choices); after FAILED ON STRONG failures pick "
                 "more central, better-supported content."),
}


LABELS = {"generic": "paper-specific self-test", "leak": "context-leak rule",
          "negatives": "positive-only weights capped at 7", "weight_format": "integer weight format",
          "json": "strict JSON", "verifier_rules": "verifier rubric rules", "feedback": "escalating feedback"}


def rejected_twice(history: str, cause: str) -> bool:
    lines = [ln for ln in history.splitlines() if ("rejected" in ln or "invalid" in ln) and LABELS[cause] in ln]
    return len(lines) >= 2


def _rule(block: str) -> str:
    m = ROUND_RE.search(block)
    return m.group(3) if m else "-"


def _field(block: str, name: str) -> str:
    m = re.search(rf"^{name}: (.*)$", block, re.M)
    return m.group(1).strip() if m else "-"


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
        return "negatives" if any(isinstance(w, int) and w < 0 for w in weights) else "generic"
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


def read_rounds(transcripts: str) -> list[tuple[str, int, str, str]]:
    """(paper_id, round, outcome, block) for every round."""
    out = []
    for ep in re.split(r"(?=^### Episode )", transcripts, flags=re.M):
        m = EPISODE_RE.search(ep)
        if not m:
            continue
        heads = list(ROUND_RE.finditer(ep))
        for i, h in enumerate(heads):
            end = heads[i + 1].start() if i + 1 < len(heads) else len(ep)
            out.append((m.group(1), int(h.group(1)), h.group(2), ep[h.start():end]))
    return out


def feedback_unused(rounds: list[tuple[str, int, str, str]]) -> int:
    per_paper = Counter(p for p, _, outcome, _ in rounds if outcome == "too_easy")
    return sum(n - 2 for n in per_paper.values() if n >= 3)


def diagnose(text: str, seed: int) -> str:
    transcripts = text.split("## Transcripts", 1)[-1].split("\n## History", 1)[0]
    history = text.split("## History", 1)[-1].split("\n## Harness files", 1)[0]
    rounds = read_rounds(transcripts)
    counts = Counter(outcome for _, _, outcome, _ in rounds)
    causes: Counter[str] = Counter()
    evidence = []
    for paper, idx, outcome, block in rounds:
        cause = classify(outcome, block)
        if cause:
            causes[cause] += 1
            if len(evidence) < 6 and all(e["paper_id"] != paper for e in evidence):
                quote = _field(block, "verifier") if cause in ("verifier_rules", "weight_format") else _field(block, "question")
                evidence.append({"paper_id": paper, "round": idx, "quote": f"[{outcome}] {quote[:160]}"})
    if feedback_unused(rounds):
        causes["feedback"] += feedback_unused(rounds)
    ranked = [c for c, _ in causes.most_common() if not rejected_twice(history, c)]
    r = rng("analyzer", seed, transcripts)
    if len(ranked) > 1 and r.random() < MISRANK:
        ranked[0], ranked[1] = ranked[1], ranked[0]
    total = max(1, sum(causes.values()))
    hypotheses = [{"category": IDEAS[c][0], "target": IDEAS[c][1], "change": IDEAS[c][2],
                   "confidence": round(min(0.95, causes[c] / total + 0.1), 2)} for c in ranked[:4]]
    failed = sum(n for o, n in counts.items() if o != "accepted")
    top = ranked[0] if ranked else None
    summary = (f"{failed} of {len(rounds)} rounds failed; the dominant cause is {top} "
               f"({causes[top]} rounds)." if top else f"{failed} of {len(rounds)} rounds failed; no clear cause.")
    return json.dumps({"summary": summary, "failure_counts": dict(counts), "evidence": evidence,
                       "hypotheses": hypotheses}, ensure_ascii=False)
