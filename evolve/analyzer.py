"""The analyzer: reads a minibatch's transcripts and the run's history, writes a Diagnosis.

The reply is parsed at the edge into the pydantic `Diagnosis`; a reply that does not parse raises
`DiagnosisUnparseable` with a one-line reason, which the loop records as an `invalid` attempt
(never a crash). The system prompt is `evolve/prompts/analyzer.md`: it belongs to `evolve/`, so
the evolution cannot edit it.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from inner_loop.formats import HARNESS_FILES, HISTORY, TRANSCRIPT_CHARS, TRANSCRIPTS, sections
from inner_loop.llm import Client
from inner_loop.llm.types import Message
from inner_loop.parsing import ParseFailure, extract_json_object
from inner_loop.strict import Strict, first_error
from evolve.transcripts import render_transcripts

PROMPTS_DIR = Path(__file__).parent / "prompts"


class Evidence(Strict):
    paper_id: str
    round: int
    quote: str


class Hypothesis(Strict):
    category: str
    target: str  # a harness file path
    change: str  # what to change there
    confidence: float = Field(ge=0.0, le=1.0)


class Diagnosis(Strict):
    summary: str
    failure_counts: dict[str, int] = Field(default_factory=dict)
    evidence: list[Evidence] = Field(default_factory=list)
    hypotheses: list[Hypothesis] = Field(default_factory=list)


class DiagnosisUnparseable(Exception):
    """The analyzer's reply is not a Diagnosis; `reason` is one line."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@cache
def load_evolve_prompt(name: str) -> str:
    """A protected evolve prompt (no variables): checked with strict substitution on load."""
    text = (PROMPTS_DIR / f"{name}.md").read_text(encoding="utf-8")
    return string.Template(text).substitute({})


def history_block(lines: Sequence[str]) -> str:
    return "\n".join(lines) if lines else "(none)"


def history_line(iteration: int, parent: str, status: str, summary: str,
                 parent_score: float | None, child_score: float | None) -> str:
    """One outcome as later analyzers and implementers read it."""
    def fmt(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f}"
    text = " ".join(summary.split()) or "-"
    return (f"- iteration {iteration} (parent {parent}): {status} — {text} "
            f"(validation {fmt(parent_score)} -> {fmt(child_score)})")


def analyzer_messages(transcripts: str, history: Sequence[str],
                      files: Sequence[tuple[str, bool]]) -> list[Message]:
    file_lines = "\n".join(f"{p} ({'editable' if e else 'protected'})" for p, e in files)
    user = sections([(TRANSCRIPTS, transcripts), (HISTORY, history_block(history)),
                     (HARNESS_FILES, file_lines)])  # the sections inner_loop/formats.py names
    return [Message(role="system", content=load_evolve_prompt("analyzer")),
            Message(role="user", content=user)]


def parse_diagnosis(text: str | None) -> Diagnosis:
    try:
        data: dict[str, Any] = extract_json_object(text)
    except ParseFailure as exc:
        raise DiagnosisUnparseable(f"analyzer: unparseable diagnosis ({exc.reason})") from None
    try:
        return Diagnosis.model_validate(data)
    except ValidationError as exc:
        raise DiagnosisUnparseable(
            f"analyzer: unparseable diagnosis ({first_error(exc)})") from None


def run_analyzer(client: Client, records: Sequence[Any], history: Sequence[str],
                 files: Sequence[tuple[str, bool]], *, tag: str = "",
                 max_chars: int = TRANSCRIPT_CHARS) -> Diagnosis:
    """One analyzer call. Raises DiagnosisUnparseable; LLM errors propagate to the caller."""
    messages = analyzer_messages(render_transcripts(records, max_chars), history, files)
    response = client.complete("analyzer", messages, response_format="json",
                               json_schema=Diagnosis.model_json_schema(), tag=tag)
    return parse_diagnosis(response.content)
