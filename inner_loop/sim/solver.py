"""The simulated weak and strong solvers.

A solver sees only the protected solver prompt: context + question. It recalls candidate facts
of the paper the question is about from its memory; each fact is known with probability
p(skill, specificity), drawn independently per sample (temperature 1.0 noise). A fact stated in
the context is known to both. The answer restates the setting, states every recalled fact, and
sometimes makes a wrong claim (the weak solver more often).
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
    lines = [f"The setting concerns {', '.join(sorted(query_rare)[:8]) or 'the described method'}."]
    memory = load_memory(knowledge)
    stated = memory.stated_in(ctx_terms, query_rare) if ctx_terms else []
    recalled = [f for f in memory.candidates(query, query_rare) if f not in stated]
    for fact in stated + recalled:  # a solver reads its context; the rest it must recall
        if r.random() < (0.97 if fact in stated else p_know(skill, fact.spec)):
            lines.append(fact.text)
    lines.append("Taken together, these points explain the behaviour the question asks about.")
    topics = [t for t in content_terms(question) if is_rare(t)]
    if topics and r.random() < SKILL[skill]["wrong"]:
        lines.append(f"Note that {r.choice(topics)} {r.choice(WRONG_CLAIMS)}.")
    if skill == "strong":
        lines.insert(1, "Let me reason step by step from the setting to the paper's findings.")
    return "\n".join(lines)
