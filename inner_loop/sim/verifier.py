"""The simulated quality verifier (the harness's verifier and the protected final pass).

It checks what its instructions ask it to check, each check from what it reads (the example
under review and the paper inside `<paper>...</paper>`); the rates are in README.md:
- LEAK: a context sentence covering >= 60% of a reference sentence (recall depends on how
  precisely the prompt asks for the check);
- REASONING (when asked about recall of one sentence): a question that restates the one paper
  sentence its reference answer is; (when asked for grounding) a reference answer most of whose sentences no passage of
  the paper supports;
- RUBRIC (when asked for grounding / content): a positive criterion no paper sentence supports,
  and an unsupported criterion about the answer's style or form; the rubric rules the prompt
  states (negative-item counts, a weight cap, positive-only, integer weights);
- SOLVER INSTRUCTIONS (when asked): a context or question that addresses the solver about how to
  answer.
Each problem is found with its own recall, and a clean example is sometimes failed
(strictness). It answers in JSON when its prompt asks for a `verdict` field, else `PASS`/`FAIL`
+ feedback.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from inner_loop.sim.judge import ITEM_RE, LEAD_IN
from inner_loop.sim.lexicon import features, instruction_text, stated_cap, stated_negatives
from inner_loop.sim.solver import section
from inner_loop.sim.text import content_terms, coverage, rng, sentences

LEAK_RECALL = {"strict": 0.92, "mention": 0.6, "none": 0.15}
FALSE_FAIL = 0.04  # strictness: a clean example failed as "recall of a single sentence"
RECALL_CATCH = 0.7  # a one-sentence reference the question restates (half its terms or more)
UNGROUNDED_CATCH = 0.9  # a reference answer / per positive criterion the paper does not support
STYLE_CATCH = 0.85  # per unsupported criterion about the answer's style or form
INSTRUCTION_CATCH = 0.8  # per field (context, question) that instructs the solver
SUPPORT = 0.6  # a paper sentence supports a text sentence covering this share of its terms

ASKS = {  # the checks beyond leak and rubric rules, and how a prompt asks for each
    "recall": re.compile(r"recall(?:ing)? (?:of )?(?:one|a single) sentence", re.I),
    "grounding": re.compile(r"grounded in (?:this|the) paper|(?:stated in|supported by|follows? "
                            r"from) (?:this|the) paper", re.I),
    "content": re.compile(r"style or format|not (?:its|the answer's) style|checks? the answer's "
                          r"content", re.I),
    "instructions": re.compile(r"tells? the solver how|solver instructions|instructs? the solver",
                               re.I),
}
STYLE_WORDS = frozenset(
    """step steps stepwise concise concisely brief briefly succinct succinctly terse bullet bullets
    list lists numbered organised organized organisation organization structured structure clear
    clearly format formatted formatting length words sentences short tone reason reasons reasoning
    reasoned well written markdown headings heading thorough detailed logical coherent fluent
    polished readable confident explanation explanations walks through""".split())
SOLVER_CUES = re.compile(
    r"\byou(?:'re|\s+are|\s+must|\s+should)\b|\b(?:answer|respond|reply)\s+(?:in|with|only|briefly|"
    r"concisely|tersely)\b|\b(?:do\s+not|don't|never)\s+(?:explain|elaborate|justify|reason|show|"
    r"think)\b|\bone[-\s]word\b|\b(?:be|keep\s+it)\s+(?:brief|short|concise|terse|weak)\b"
    r"|\bpretend\b|\bact\s+as\b|\bignore\s+(?:the\s+|all\s+)?(?:previous|above|prior)\b", re.I)


def example_in(text: str) -> dict | None:
    """The example under review: a JSON object with a `question`, or the protected Markdown form
    (the paper block is never searched: a paper quoting JSON is not the example)."""
    text = re.sub(r"<paper>.*?</paper>", " ", text, flags=re.DOTALL | re.IGNORECASE)
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


@lru_cache(maxsize=8)
def paper_index(paper: str) -> tuple[frozenset[str], ...]:
    """The content terms of each passage of the paper: every sentence with the next one (what
    'stated in the paper' is checked on)."""
    sents = [frozenset(content_terms(s)) for s in sentences(paper)]
    return tuple(a | b for a, b in zip(sents, sents[1:] + [frozenset()]))


def supported(text: str, index: tuple[frozenset[str], ...]) -> bool:
    """Some passage of the paper covers >= SUPPORT of the text's content terms (lead-ins aside),
    and at least two of them: one generic word found somewhere is no grounding."""
    needed = {t for t in content_terms(text) if t not in LEAD_IN}
    if len(needed) < 2:
        return False
    best = max((len(needed & s) for s in index), default=0)
    return best >= 2 and best / len(needed) >= SUPPORT


def leaks(example: dict) -> bool:
    ref_sents = sentences(str(example.get("reference_answer", "")))
    ctx = str(example.get("context", ""))
    for c in sentences(ctx):
        c_terms = set(content_terms(c))
        if any(coverage(content_terms(s), c_terms) >= 0.6 for s in ref_sents):
            return True
    return False


def rubric_problems(example: dict, feats: frozenset[str], cap: int | None,
                    wanted: tuple[int, int] | None = None) -> list[str]:
    rubric = example.get("rubric") or []
    weights = [i.get("weight") for i in rubric if isinstance(i, dict)]
    problems = [f"weight {w!r} is not an integer" for w in weights if not isinstance(w, int)]
    ints = [w for w in weights if isinstance(w, int)]
    negatives = sum(1 for w in ints if w < 0)
    lo, hi = wanted or (3, 5)  # the range the prompt states (lexicon.stated_negatives)
    if "negatives_required" in feats and not lo <= negatives <= hi:
        problems.append(f"the rubric needs {lo}-{hi} negative items, it has {negatives}")
    if "positive_only" in feats and negatives:
        problems.append(f"the rubric must be positive-only, it has {negatives} negative items")
    if cap is not None and any(w > cap for w in ints):
        problems.append(f"a positive weight exceeds the cap of {cap}")
    return problems


def reading_problems(example: dict, paper: str, asks: set[str], draw) -> list[str]:
    """The checks that read the paper and the example's text; `draw(name, i)` is a seeded draw."""
    index = paper_index(paper) if paper else ()
    ref = sentences(str(example.get("reference_answer", "")))
    problems = []
    question = set(content_terms(str(example.get("question", ""))))
    if "recall" in asks and len(ref) == 1 and index and supported(ref[0], index) \
            and coverage(content_terms(ref[0]), question) >= 0.5 and draw("recall", 0) < RECALL_CATCH:
        problems.append("the question restates the one paper sentence that answers it: recall")
    if "grounding" in asks:
        unsupported = sum(1 for s in ref if not supported(s, index))
        if ref and 2 * unsupported > len(ref) and draw("reference", 0) < UNGROUNDED_CATCH:
            problems.append("the reference answer is not stated in or implied by the paper")
        for i, item in enumerate(example.get("rubric") or [], start=1):
            if not isinstance(item, dict) or not isinstance(item.get("weight"), int):
                continue
            criterion = str(item.get("criterion", ""))
            if supported(criterion, index):
                continue
            styled = bool(set(content_terms(criterion)) & STYLE_WORDS)
            if "content" in asks and styled and item["weight"] > 0 \
                    and draw("style", i) < STYLE_CATCH:
                problems.append(f"rubric item {i} checks style or form, not content")
            elif item["weight"] > 0 and draw("grounded", i) < UNGROUNDED_CATCH:
                problems.append(f"rubric item {i} is not grounded in this paper")
    if "instructions" in asks:
        for name in ("context", "question"):
            if SOLVER_CUES.search(str(example.get(name, ""))) and draw(name, 0) < INSTRUCTION_CATCH:
                problems.append(f"the {name} tells the solver how to answer")
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
        paper = re.search(r"<paper>(.*?)</paper>", text, re.DOTALL | re.IGNORECASE)
        asks = {name for name, rx in ASKS.items() if rx.search(instr)}
        draw = lambda name, i: rng("verifier", name, seed, key, i).random()  # noqa: E731
        level = "strict" if "no_leak_strict" in feats else "mention" if "leak_check" in feats else "none"
        problems = ["the context leaks the answer's key facts"] if leaks(example) and leak_draw < LEAK_RECALL[level] else []
        problems += reading_problems(example, paper.group(1) if paper else "", asks, draw)
        problems += rubric_problems(example, feats, stated_cap(text), stated_negatives(text))
        if not problems and strict_draw < FALSE_FAIL:
            problems.append("the question could be answered by recalling a single sentence")
    verdict = "FAIL" if problems else "PASS"
    if "verdict" in instr or re.search(r"\breply with json\b", instr, re.IGNORECASE):
        return json.dumps({"verdict": verdict, "problems": problems})
    return verdict + "\n" + ("\n".join(f"- {p}" for p in problems) or "The example meets every check.")
