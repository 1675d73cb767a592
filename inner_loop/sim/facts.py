"""Paper -> facts: the latent content the simulated world reasons about.

A fact is one sentence of the paper with its section kind and a *specificity* in [0, 1]:
how much of it only this paper could tell you. Specificity is a per-sentence function
(rare-term share, numbers, defined names, section kind, length), so the same sentence has the
same specificity wherever it appears: in a challenger prompt, a solver's memory, a context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from inner_loop.sim.text import clip, content_terms, is_rare, sentences

SECTION_KINDS = {
    "abstract": ("abstract",),
    "intro": ("introduction", "background", "related", "motivation", "preliminar", "overview"),
    "method": ("method", "approach", "model", "architecture", "framework", "algorithm", "proposed",
               "formulation", "design", "training", "objective", "theory", "analysis of"),
    "experiment": ("experiment", "result", "evaluation", "ablation", "benchmark", "setup",
                   "implementation", "empirical", "comparison", "study", "performance"),
    "conclusion": ("conclusion", "discussion", "limitation", "future", "summary", "broader"),
}
KIND_BONUS = {"abstract": -0.22, "intro": -0.14, "conclusion": -0.10, "body": 0.0,
              "method": 0.08, "experiment": 0.12}
NUMBER_RE = re.compile(r"\d")
NAME_RE = re.compile(r"\b(?:[A-Z][a-z]+[A-Z]\w*|[A-Z]{2,}[a-z]?s?\d*)\b")  # CamelCase, acronyms


@dataclass(frozen=True)
class Fact:
    index: int
    text: str
    heading: str
    kind: str
    spec: float
    terms: tuple[str, ...]  # content terms in order, deduplicated
    rare: tuple[str, ...]   # the rare ones among them


def section_kind(heading: str) -> str:
    h = heading.lower()
    for kind, keys in SECTION_KINDS.items():
        if any(k in h for k in keys):
            return kind
    return "body"


def specificity(sentence: str, kind: str, terms: tuple[str, ...], rare: tuple[str, ...]) -> float:
    rare_share = len(rare) / max(1, len(terms))
    raw = 0.12 + 0.62 * rare_share + KIND_BONUS[kind]
    raw += 0.12 if NUMBER_RE.search(sentence) else 0.0
    raw += 0.08 if NAME_RE.search(sentence) else 0.0
    raw += 0.05 if len(terms) >= 12 else 0.0
    return round(clip(raw, 0.0, 1.0), 4)


def split_sections(paper_text: str) -> tuple[str, list[tuple[str, str]]]:
    """Parse `# Title` / `## Heading` Markdown (the format of Paper.full_text)."""
    title, heading, buf = "", "Body", []
    sections: list[tuple[str, str]] = []
    for line in paper_text.splitlines():
        if line.startswith("## "):
            if buf:
                sections.append((heading, "\n".join(buf)))
            heading, buf = line[3:].strip(), []
        elif line.startswith("# "):
            title = title or line[2:].strip()  # a title line is never a fact
        else:
            buf.append(line)
    if buf:
        sections.append((heading, "\n".join(buf)))
    return title, sections


def make_fact(index: int, sentence: str, heading: str) -> Fact | None:
    words = sentence.split()
    if not 10 <= len(words) <= 70 or sentence.count("$") > 4:
        return None
    terms = tuple(dict.fromkeys(content_terms(sentence)))
    if len(terms) < 5:
        return None
    rare = tuple(t for t in terms if is_rare(t))
    kind = section_kind(heading)
    return Fact(index, sentence, heading, kind, specificity(sentence, kind, terms, rare), terms, rare)


@lru_cache(maxsize=512)
def facts_of(paper_text: str) -> tuple[Fact, ...]:
    """All usable facts of a paper, in reading order."""
    _, sections = split_sections(paper_text)
    out: list[Fact] = []
    for heading, text in sections:
        for sentence in sentences(text):
            fact = make_fact(len(out), sentence, heading)
            if fact is not None:
                out.append(fact)
    return tuple(out)
