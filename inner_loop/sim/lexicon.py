"""The documented lexicon: which instructions a simulated model notices in its prompt.

Each feature is a small set of phrasings (regexes, case-insensitive), not one magic word. A
feature counts only in *instruction* text: the paper block (`<paper>...</paper>`) and quoted
examples are removed first, so a paper that happens to contain a phrase changes nothing.
The full table, with each feature's effect, is in inner_loop/sim/README.md.
"""

from __future__ import annotations

import re

FEATURES: dict[str, tuple[str, ...]] = {
    # challenger: pick facts only this paper states
    "self_test": (
        r"without (?:having )?(?:read(?:ing)? )?(?:this|the) (?:specific )?paper",
        r"paper[- ]specific (?:self[- ]?test|detail|fact|question)",
        r"self[- ]?test",
        r"could (?:a|an) (?:strong|expert|capable) (?:model|reader|solver) answer",
    ),
    # challenger: the context must not carry the answer (strong form, with a check)
    "no_leak_strict": (
        r"(?:check|verify|compare) (?:each|every) (?:context )?sentence",
        r"none of (?:the|its) (?:answer'?s? )?key facts? (?:may|must|can) appear in the context",
        r"context must (?:never|not) (?:contain|state|include|mention) (?:any|the) (?:key )?facts?",
    ),
    # challenger: a weaker mention of leakage
    "no_leak_mention": (
        r"(?:do not|don't|must not|never) (?:give away|leak|reveal|state) the answer",
        r"without (?:leaking|revealing|giving away) the answer",
        r"answer leak",
    ),
    "positive_only": (
        r"(?:only|exclusively) positive (?:integer )?weights",
        r"no negative (?:items|weights|criteria)",
        r"(?:do not|don't|never) (?:use|include|write) negative",
    ),
    "cap_7": (
        r"(?:at most|maximum(?: of)?|capped at|no (?:more|higher) than|not exceed(?:ing)?) \+?7\b",
        r"\b1\s*(?:-|–|\.\.|to)\s*7\b",
    ),
    "integer_literal": (
        r"(?:plain|bare|json) integers?",
        r"integer literals?",
        r"no (?:plus|\+) signs?",
        r"(?:not|never) (?:as )?(?:a )?strings?",
    ),
    "strict_json": (
        r"(?:only|just) (?:the |a |one )?(?:valid |raw )?json",
        r"no (?:prose|text|commentary|markdown) (?:before|after|around|outside)",
        r"no trailing commas?",
        r"strict(?:ly)? (?:valid )?json",
    ),
    "negatives_required": (
        r"\b[2-5]\s*(?:-|–|to)\s*[3-6] negative",
        r"negative (?:items|criteria) (?:are )?required",
    ),
    # challenger: asked for easy, general questions (a harmful edit)
    "easy": (
        r"(?:simple|simpler|easy|easier|accessible|basic|introductory) (?:question|example|one)",
        r"(?:main|central|overall) idea of the paper",
        r"answerable (?:by anyone|without the paper)",
    ),
    # refinement: move to harder, more specific content after TOO EASY failures
    "escalate": (
        r"(?:harder|more specific|more obscure|deeper|less obvious) (?:question|detail|fact|angle|aspect)s?",
        r"details? (?:that )?only (?:this|the) paper",
        r"(?:numbers?|ablations?|design choices?) (?:only|specific to|stated in) (?:this|the) paper",
    ),
    # refinement: move back toward central content after FAILED ON STRONG failures
    "deescalate": (
        r"(?:more central|less obscure|better[- ]supported|more answerable)",
        r"strong solver (?:also )?failed[^.]*(?:central|main|core)",
    ),
    "new_angle": (
        r"(?:entirely |completely )?(?:new|different) (?:angle|aspect|part|section|topic)",
        r"do not repeat",
    ),
    # verifier
    "leak_check": (r"leak", r"give[s]? away", r"reveal"),
    # orchestrator
    "verify_first": (
        r"call_verifier",
        r"verif(?:y|ier) (?:it |the example )?before (?:evaluat|solv)",
    ),
}
_COMPILED = {k: tuple(re.compile(p, re.IGNORECASE) for p in v) for k, v in FEATURES.items()}
PAPER_BLOCK = re.compile(r"<paper>.*?</paper>", re.DOTALL | re.IGNORECASE)
JSON_BLOCK = re.compile(r"```(?:json)?\s*\{.*?\}\s*```", re.DOTALL)


def instruction_text(text: str) -> str:
    """The text a model would read as instructions: paper and quoted JSON removed."""
    return JSON_BLOCK.sub(" ", PAPER_BLOCK.sub(" ", text))


def has(feature: str, text: str) -> bool:
    return any(p.search(text) for p in _COMPILED[feature])


def features(text: str) -> frozenset[str]:
    instr = instruction_text(text)
    return frozenset(name for name in FEATURES if has(name, instr))


def stated_cap(text: str) -> int | None:
    """The highest positive weight an instruction allows, when it states one (e.g. '+1..+10')."""
    instr = instruction_text(text)
    m = re.search(r"\+?1\s*(?:-|–|\.\.|to)\s*\+?(\d{1,2})\b", instr)
    return int(m.group(1)) if m else None


def stated_rounds(text: str) -> int | None:
    m = re.search(r"(?:at most|up to|no more than)\s+(\d{1,2})\s+rounds", text, re.IGNORECASE)
    return int(m.group(1)) if m else None
