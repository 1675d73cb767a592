"""The simulated challenger: reads its prompt and the paper in it, writes one example.

Rules (documented in README.md): which facts it picks depends on the self-test feature and on
the feedback; whether the context leaks the answer depends on the leak rules; rubric shape and
weight format depend on the rubric rules; the JSON's form depends on the strict-JSON rule and on
whether the request asked for JSON output.
"""

from __future__ import annotations

import json
import math
import random

from inner_loop.sim.facts import Fact, facts_of
from inner_loop.sim.feedback import Feedback, read_feedback
from inner_loop.sim.lexicon import (features, stated_cap, stated_negatives, stated_positives,
                                    stated_question_type)
from inner_loop.sim.rubric import build_rubric
from inner_loop.sim.text import clip, content_terms, rng, seed_of

QUESTION_TYPES = {
    "mechanism explanation": "In the setting above, explain how {a} relates to {b}, and what the paper's design implies for {c}.",
    "counterfactual reasoning": "Suppose {a} were changed as the setting suggests: what would happen to {b}, and why does the paper's reasoning about {c} support that?",
    "quantitative inference": "What does the paper's analysis of {a} imply about {b}, and how does that bear on {c}?",
    "comparative analysis": "How does {a} differ from {b} in this work, and why does that difference matter for {c}?",
}
QTYPE_WORDS = {"counterfactual": "counterfactual reasoning", "quantitative": "quantitative inference",
               "comparative": "comparative analysis", "mechanism": "mechanism explanation",
               "mechanistic": "mechanism explanation", "causal": "mechanism explanation"}
SKILLS = ["causal reasoning", "quantitative reasoning", "synthesis across sections",
          "counterfactual thinking", "critical evaluation", "mechanistic understanding"]


TARGET = {"plain": 0.22, "self_test": 0.70, "easy_max": 0.30}
ESCALATE = {"guided_step": 0.10, "guided_max": 0.30, "drift_step": 0.02, "drift_max": 0.06,
            "deescalate_step": 0.10, "deescalate_max": 0.30}
LEAK = {"strict": 0.04, "mention": 0.30, "none": 0.55}
NUMBER_FACT_BOOST = 3.0  # a quantitative question prefers sentences with numbers
SLIPS = {"trailing_comma": 0.10, "prose": 0.12, "fence": 0.08}


def target_specificity(feats: frozenset[str], fb: Feedback) -> float:
    target = TARGET["self_test"] if "self_test" in feats else TARGET["plain"]
    if "easy" in feats:
        target = min(target, TARGET["easy_max"])  # simple main-idea questions: background facts
    easy, strong = fb.counts["too_easy"], fb.counts["failed_on_strong"]
    if "escalate" in feats:
        target += min(ESCALATE["guided_max"], ESCALATE["guided_step"] * easy)
    else:
        target += min(ESCALATE["drift_max"], ESCALATE["drift_step"] * easy)  # unguided: a little drift
    if "deescalate" in feats:
        target -= min(ESCALATE["deescalate_max"], ESCALATE["deescalate_step"] * strong)
    return clip(target, 0.05, 0.95)


def pick_answer_facts(facts: tuple[Fact, ...], target: float, avoid: set[str], r: random.Random,
                      numbers: bool = False) -> list[Fact]:
    weights = []
    for f in facts:
        if len(f.text.split()) < 12:
            weights.append(1e-12)  # too short to carry a question
            continue
        w = math.exp(-(((f.spec - target) / 0.1) ** 2))
        if avoid and len(avoid & set(f.terms)) >= 3:
            w *= 0.02  # asked for a new angle: stay away from what earlier questions used
        if numbers and any(ch.isdigit() for ch in f.text):
            w *= NUMBER_FACT_BOOST
        weights.append(w + 1e-9)
    anchor = r.choices(facts, weights=weights, k=1)[0]
    same = [f for f in facts if f.heading == anchor.heading]
    pos = same.index(anchor)
    chosen = [anchor] + same[pos + 1 : pos + 3]
    if len(chosen) < 3:
        chosen = same[max(0, pos - (3 - len(chosen))) : pos] + chosen
    return chosen


def premises_for(facts: tuple[Fact, ...], answer: list[Fact]) -> list[Fact]:
    ids = {f.index for f in answer}
    same = [f for f in facts if f.heading == answer[0].heading and f.index not in ids]
    before = [f for f in same if f.index < answer[0].index][-2:]
    return before or same[:2] or [f for f in facts[:2] if f.index not in ids]


def leak_probability(feats: frozenset[str], fb: Feedback) -> float:
    p = LEAK["strict"] if "no_leak_strict" in feats else LEAK["mention"] if "no_leak_mention" in feats else LEAK["none"]
    return p / 2 if fb.mentions("leak") else p


def topic_phrase(fact: Fact, taken: set[str], r: random.Random) -> tuple[str, ...]:
    """Two adjacent content words of the fact (at least one rare): how a question names its topic."""
    words = [w.lower().strip(".,;:()[]\"'") for w in fact.text.split()]
    pairs = [(a, b) for a, b in zip(words, words[1:])
             if a in fact.terms and b in fact.terms and (a in fact.rare or b in fact.rare)
             and not {a, b} & taken]
    if not pairs:
        pool = [t for t in (fact.rare or fact.terms) if t not in taken] or list(fact.terms)
        return (r.choice(sorted(pool, key=lambda t: (-len(t), t))[:3]),)
    pairs.sort(key=lambda p: (-(len(p[0]) + len(p[1])), p))
    return r.choice(pairs[:3])


def topic_terms(answer: list[Fact], r: random.Random) -> list[str]:
    """One topic phrase per answer fact (as text), at least three."""
    out: list[str] = []
    taken: set[str] = set()
    for f in answer:
        phrase = topic_phrase(f, taken, r)
        taken.update(phrase)
        out.append(" ".join(phrase))
    while len(out) < 3:
        out.append(out[-1])
    return out


def write_example(text: str, seed: int, json_mode: bool) -> str:
    """The challenger's whole reply for one request."""
    feats = features(text, "challenger")
    paper = _paper_block(text)
    facts = facts_of(paper)
    if len(facts) < 6:
        return "I could not find the paper's text in the prompt, so I cannot write a grounded example."
    fb = read_feedback(text)
    stated = {"cap": stated_cap(text, "challenger"), "negatives": stated_negatives(text, "challenger"),
              "positives": stated_positives(text, "challenger")}
    qtype_asked = QTYPE_WORDS.get(stated_question_type(text, "challenger") or "")
    # One named random stream per decision, seeded by the paper and the feedback — not by the
    # prompt's bytes or the instructions noticed. A rewording changes no example, and two prompts
    # that differ in one instruction draw the same numbers for every decision (common random
    # numbers), so an instruction's effect is its own, not a reshuffle of luck.
    base = seed_of(seed, paper, fb.counts, fb.questions, fb.reasons)  # hash the paper once

    def stream(name: str) -> random.Random:
        return rng("challenger", name, base)
    avoid = set(content_terms(" ".join(fb.questions))) if "new_angle" in feats else set()
    answer = pick_answer_facts(facts, target_specificity(feats, fb), avoid, stream("anchor"),
                               numbers=qtype_asked == "quantitative inference")
    premises = premises_for(facts, answer)
    context_facts = list(premises)
    if stream("leak").random() < leak_probability(feats, fb):
        context_facts.extend(answer[:2])  # the key facts slip into the scene-setting
    topics = topic_terms(answer, stream("topics"))
    r = stream("form")
    qtype = r.choice(sorted(QUESTION_TYPES))
    qtype = qtype_asked or qtype
    example = {
        "question_type": qtype,
        "reasoning_skills": r.sample(SKILLS, 2 + (r.random() < 0.5)),
        "context": " ".join(f.text for f in context_facts),
        "question": QUESTION_TYPES[qtype].format(a=topics[0], b=topics[1], c=topics[2]),
        "reference_answer": " ".join(f.text for f in answer),
        "rubric": build_rubric(answer, premises, topics, feats, fb, stated, stream),
    }
    return render_json(example, feats, json_mode, stream("json"))


def render_json(example: dict, feats: frozenset[str], json_mode: bool, r: random.Random) -> str:
    body = json.dumps(example, indent=2, ensure_ascii=False)
    if json_mode or "strict_json" in feats:
        return body
    roll = r.random()
    if roll < SLIPS["trailing_comma"]:  # invalid JSON that no honest parser repairs
        return body[: body.rstrip().rfind("}")].rstrip() + ",\n}"
    if roll < SLIPS["trailing_comma"] + SLIPS["prose"]:
        return "Here is the example I wrote for this paper:\n\n" + body + "\n\nI hope it meets the requirements."
    if roll < sum(SLIPS.values()):
        return "```json\n" + body + "\n```"
    return body


def _paper_block(text: str) -> str:
    start, end = text.find("<paper>"), text.rfind("</paper>")
    return text[start + 7 : end] if 0 <= start < end else ""
