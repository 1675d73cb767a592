"""The simulated quality verifier (the harness's verifier and the protected final pass).

It checks what its instructions ask it to check: a context leak (recall depends on how precisely
the prompt asks for the check), the rubric rules the prompt states (negative-item counts, a
weight cap, positive-only, integer weights), and it sometimes fails a fine example (strictness).
It answers in JSON when its prompt asks for a `verdict` field, else `PASS`/`FAIL` + feedback.
"""

from __future__ import annotations

import json
import re

from inner_loop.sim.judge import ITEM_RE
from inner_loop.sim.lexicon import features, instruction_text, stated_cap
from inner_loop.sim.solver import section
from inner_loop.sim.text import content_terms, coverage, rng, sentences

LEAK_RECALL = {"strict": 0.92, "mention": 0.6, "none": 0.15}
FALSE_FAIL = 0.04


def example_in(text: str) -> dict | None:
    """The example under review: a JSON object with a `question`, or the protected Markdown form."""
    for m in re.finditer(r"\{", text):
        try:
            obj, _ = json.JSONDecoder().raw_decode(text[m.start():])
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and "question" in obj:
            return obj
    if section(text, "Question"):
        items = [{"criterion": c, "weight": int(w)} for _, w, c in ITEM_RE.findall(section(text, "Rubric"))]
        return {"context": section(text, "Context"), "question": section(text, "Question"),
                "reference_answer": section(text, "Reference answer"), "rubric": items}
    return None


def leaks(example: dict) -> bool:
    ref_sents = sentences(str(example.get("reference_answer", "")))
    ctx = str(example.get("context", ""))
    for c in sentences(ctx):
        c_terms = set(content_terms(c))
        if any(coverage(content_terms(s), c_terms) >= 0.6 for s in ref_sents):
            return True
    return False


def rubric_problems(example: dict, feats: frozenset[str], cap: int | None) -> list[str]:
    rubric = example.get("rubric") or []
    weights = [i.get("weight") for i in rubric if isinstance(i, dict)]
    problems = [f"weight {w!r} is not an integer" for w in weights if not isinstance(w, int)]
    ints = [w for w in weights if isinstance(w, int)]
    negatives = sum(1 for w in ints if w < 0)
    if "negatives_required" in feats and not 3 <= negatives <= 5:
        problems.append(f"the rubric needs 3-5 negative items, it has {negatives}")
    if "positive_only" in feats and negatives:
        problems.append(f"the rubric must be positive-only, it has {negatives} negative items")
    if cap is not None and any(w > cap for w in ints):
        problems.append(f"a positive weight exceeds the cap of {cap}")
    return problems


def verify(text: str, seed: int) -> str:
    instr = instruction_text(text)
    feats = features(text)
    example = example_in(text)
    key = json.dumps(example, sort_keys=True)  # same draws whatever the verifier was told
    leak_draw, strict_draw = (rng("verifier", name, seed, key).random() for name in ("leak", "strict"))
    if example is None:
        problems = ["no example to review was found"]
    else:
        level = "strict" if "no_leak_strict" in feats else "mention" if "leak_check" in feats else "none"
        problems = ["the context leaks the answer's key facts"] if leaks(example) and leak_draw < LEAK_RECALL[level] else []
        problems += rubric_problems(example, feats, stated_cap(text))
        if not problems and strict_draw < FALSE_FAIL:
            problems.append("the question could be answered by recalling a single sentence")
    verdict = "FAIL" if problems else "PASS"
    if "verdict" in instr:
        return json.dumps({"verdict": verdict, "problems": problems})
    return verdict + "\n" + ("\n".join(f"- {p}" for p in problems) or "The example meets every check.")
