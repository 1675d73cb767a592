"""The protected prompts of the runtime: load, validate and render them.

The Markdown files in `inner_loop/prompts/` define what solving, judging and the final
verification mean (see its README). Each one is rendered with strict `string.Template.substitute`:
a missing or an unknown variable is an error, never a silently empty slot. Every prompt is
checked against its declared variables when this module is imported, so a broken prompt file
fails at once instead of in the middle of a run. No prompt text lives in Python.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from inner_loop.example import Example, RubricItem
from inner_loop.llm.types import Message

PROMPTS_DIR = Path(__file__).parent / "prompts"

# prompt name (file stem) -> the exact set of template variables it must use
PROMPT_VARIABLES: dict[str, frozenset[str]] = {
    "solver_system": frozenset(),
    "solver_user": frozenset({"context", "question"}),
    "judge": frozenset({"rubric", "question", "answer"}),
    "final_verifier": frozenset({"context", "question", "reference_answer", "rubric", "paper"}),
}


class PromptError(Exception):
    """A protected prompt is missing, malformed, or rendered with the wrong variables (a bug)."""


@cache
def load_prompt(name: str) -> string.Template:
    """The validated template of protected prompt `name` (cached per process)."""
    if name not in PROMPT_VARIABLES:
        raise PromptError(f"unknown protected prompt {name!r}; known: {sorted(PROMPT_VARIABLES)}")
    path = PROMPTS_DIR / f"{name}.md"
    if not path.is_file():
        raise PromptError(f"protected prompt file missing: {path}")
    template = string.Template(path.read_text(encoding="utf-8"))
    if not template.is_valid():
        raise PromptError(f"{path.name}: invalid template placeholder (use $$ for a literal $)")
    found = frozenset(template.get_identifiers())
    expected = PROMPT_VARIABLES[name]
    if found != expected:
        raise PromptError(
            f"{path.name}: variables {sorted(found)} differ from the declared {sorted(expected)}"
        )
    return template


def render(name: str, **variables: str) -> str:
    """Render protected prompt `name`; the variables must match its declared set exactly."""
    template = load_prompt(name)
    expected = PROMPT_VARIABLES[name]
    given = frozenset(variables)
    if given != expected:
        missing, extra = sorted(expected - given), sorted(given - expected)
        raise PromptError(f"{name}: missing variables {missing}, unknown variables {extra}")
    return template.substitute(variables)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def format_rubric(items: Iterable[RubricItem | Mapping[str, Any]]) -> str:
    """Rubric lines `N. [weight +W] criterion` (N from 1), one line per item.

    This is the format the judge and the final verifier read; newlines inside a criterion are
    folded into spaces so an item can never spill onto a second line.
    """
    lines = []
    for n, item in enumerate(items, start=1):
        rubric_item = item if isinstance(item, RubricItem) else RubricItem.model_validate(item)
        lines.append(f"{n}. [weight {rubric_item.weight:+d}] {_one_line(rubric_item.criterion)}")
    return "\n".join(lines)


def solver_messages(example: Example) -> list[Message]:
    """The solver's conversation: the protected system prompt, then context + question only."""
    return [
        Message(role="system", content=render("solver_system")),
        Message(role="user", content=render("solver_user", **example.solver_prompt_fields())),
    ]


def judge_messages(rubric: list[RubricItem], question: str, answer: str) -> list[Message]:
    """The judge's conversation: rubric with weights, question and one answer (no reference)."""
    text = render("judge", rubric=format_rubric(rubric), question=question, answer=answer)
    return [Message(role="user", content=text)]


def final_verifier_messages(example: Example, paper: str) -> list[Message]:
    """The protected final verifier's conversation: the whole example and the paper's text."""
    text = render(
        "final_verifier",
        paper=paper,
        context=example.context,
        question=example.question,
        reference_answer=example.reference_answer,
        rubric=format_rubric(example.rubric),
    )
    return [Message(role="user", content=text)]


def validate_all() -> None:
    """Load every protected prompt once; raises PromptError on the first broken one."""
    for name in PROMPT_VARIABLES:
        load_prompt(name)


validate_all()
