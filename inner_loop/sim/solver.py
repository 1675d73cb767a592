"""The simulated weak and strong solvers.

A solver sees only the protected solver prompt: context + question. It recalls candidate facts
of the paper the question is about from its memory; each fact is known with probability
p(skill, specificity), drawn independently per sample (temperature 1.0 noise). A fact stated in
the context is known to both. The answer restates the setting, states every recalled fact, and
sometimes makes a wrong claim (the weak solver more often). Its framing sentences are composed per
sample from pools of openers, links and closings shared by both solvers, so no fixed sentence
marks one solver's answers (a rubric item quoting one matches few answers of either).
"""

from __future__ import annotations

import re

from inner_loop.sim.memory import load_memory
from inner_loop.sim.rubric import WRONG_CLAIMS
from inner_loop.sim.text import clip, content_terms, coverage, is_rare, rng

SKILL = {
    "weak": {"base": 0.95, "slope": 1.25, "floor": 0.03, "ceil": 0.92, "wrong": 0.30},
    "strong": {"base": 1.05, "slope": 0.55, "floor": 0.40, "ceil": 0.97, "wrong": 0.10},
}


CONTEXT_RECALL = 0.97  # a fact the context states is known to both solvers
OPENERS = ("The setting concerns {t}.", "This is about {t}.", "Here the question turns on {t}.",
           "We are asked about {t}.", "Key terms involved: {t}.", "At issue: {t}.", "Consider {t}.",
           "The described work involves {t}.", "Focus: {t}.", "Relevant pieces are {t}.")
LINKS = ("", "", "", "Moreover,", "Also,", "In addition,", "Further,", "Relatedly,", "Besides,",
         "On top of that,", "Next,", "Importantly,")
CLOSINGS = ("Taken together, these points explain the behaviour the question asks about.",
            "So the answer follows from these observations.", "That is why the outcome looks as it does.",
            "Hence the conclusion.", "This accounts for what is asked.", "Overall, that settles it.",
            "In short, those facts combine into the answer.", "Those are the reasons.", "", "")
HEDGE_OPENERS = ("I think", "As far as I recall,", "To my knowledge,", "", "", "", "", "")


def compose(r, facts: list[str], topic_words: list[str]) -> list[str]:
    """One answer's lines: a framing sentence drawn per sample, each fact with a link word drawn
    per sample, a closing drawn per sample."""
    lines = [r.choice(OPENERS).format(t=", ".join(topic_words) or "the described method")]
    for i, text in enumerate(facts):
        link = r.choice(LINKS) if i else r.choice(HEDGE_OPENERS)
        starts_with_name = text[:2] == text[:2].upper()  # "BERT ...", "GPT-4 ...": keep the case
        lines.append(f"{link} {text if starts_with_name else text[0].lower() + text[1:]}".strip() if link else text)
    closing = r.choice(CLOSINGS)
    return lines + ([closing] if closing else [])


def p_know(skill: str, spec: float) -> float:
    s = SKILL[skill]
    return clip(s["base"] - s["slope"] * spec, s["floor"], s["ceil"])


def section(text: str, name: str) -> str:
    m = re.search(rf"^## {name}\s*\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    return m.group(1).strip() if m else ""


def answer(prompt: str, skill: str, seed: int, knowledge: str | None = None) -> str:
    context, question = section(prompt, "Context"), section(prompt, "Question")
    if not question:
        question = prompt
    r = rng("solver", skill, seed, context, question)
    query = set(content_terms(question + " " + context))
    query_rare = {t for t in query if is_rare(t)}
    ctx_terms = set(content_terms(context))
    topic_words = sorted(query_rare)
    r.shuffle(topic_words)
    known: list[str] = []
    memory = load_memory(knowledge)
    stated = memory.stated_in(ctx_terms, query_rare) if ctx_terms else []
    recalled = [f for f in memory.candidates(query, query_rare) if f not in stated]
    for fact in stated + recalled:  # a solver reads its context; the rest it must recall
        if r.random() < (CONTEXT_RECALL if fact in stated else p_know(skill, fact.spec)):
            known.append(fact.text)
    lines = compose(r, known, topic_words[: r.randint(3, 8)])
    topics = [t for t in content_terms(question) if is_rare(t)]
    if topics and r.random() < SKILL[skill]["wrong"]:
        lines.append(f"Note that {r.choice(topics)} {r.choice(WRONG_CLAIMS)}.")
    return "\n".join(lines)
