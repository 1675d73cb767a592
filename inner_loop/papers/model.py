"""The paper the inner loop reads, the error a bad corpus raises, and the report of a lenient load.

`Paper.full_text` is how the harness shows a paper to a model. Its exact format:

    # {title}

    ## Abstract

    {abstract}

    ## {section.heading}

    {section.text}

    ... one block per section, in order

Blocks are joined by one blank line ("\\n\\n"); there is no trailing newline. The abstract block
is left out when `abstract` is "", and a section whose heading is "" is rendered as its text
alone (no `##` line). Paragraphs inside `abstract` and `section.text` are separated by a blank line.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from inner_loop.errors import UserError
from inner_loop.strict import field_error

# Problem kinds a loader can report (LoadReport.problems keys, PaperError messages).
MALFORMED_JSON = "malformed_json"
MISSING_FIELD = "missing_field"
INVALID_FIELD = "invalid_field"
EMPTY_TEXT = "empty_text"
DUPLICATE_ID = "duplicate_id"
MISSING_METADATA = "missing_metadata"
PROBLEM_KINDS = (
    MALFORMED_JSON,
    MISSING_FIELD,
    INVALID_FIELD,
    EMPTY_TEXT,
    DUPLICATE_ID,
    MISSING_METADATA,
)


class PaperError(UserError):
    """A corpus, split or paper file the user must fix. The message is one line, naming file:line."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    heading: str
    text: str


class Paper(BaseModel):
    """One paper in the project's normalised form (the same in every input format)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    year: int | None = None
    abstract: str
    sections: list[Section]
    subfield: str | None = None
    license: str | None = None
    source: str | None = None
    venue: str | None = None

    @property
    def n_chars(self) -> int:
        """Characters of body text: sum of len(section.text) (title and abstract not counted)."""
        return sum(len(s.text) for s in self.sections)

    @property
    def id_prefix(self) -> str:
        """The source part of the id ("arxiv", "acl2023", "openreview", "s2", ...), or "" if none."""
        return self.id.split(":", 1)[0] if ":" in self.id else ""

    @property
    def full_text(self) -> str:
        """Title, abstract and sections as Markdown; see the module docstring for the format."""
        blocks = [f"# {self.title}"]
        if self.abstract:
            blocks += ["## Abstract", self.abstract]
        for section in self.sections:
            if section.heading:
                blocks.append(f"## {section.heading}")
            blocks.append(section.text)
        return "\n\n".join(blocks)


class Problem(BaseModel):
    """One bad record: what kind, where (file:line) and why."""

    model_config = ConfigDict(extra="forbid")

    kind: str
    where: str
    message: str

    def line(self) -> str:
        return f"{self.where}: {self.kind}: {self.message}"


class LoadReport(BaseModel):
    """What a load saw: papers yielded, and bad records skipped (with `skip_bad=True`)."""

    model_config = ConfigDict(extra="forbid")

    path: str = ""
    format: str = ""
    n_papers: int = 0
    problems: dict[str, int] = Field(default_factory=dict)
    examples: list[Problem] = Field(default_factory=list)
    max_examples: ClassVar[int] = 5

    @property
    def n_skipped(self) -> int:
        return sum(self.problems.values())

    def add(self, problem: Problem) -> None:
        self.problems[problem.kind] = self.problems.get(problem.kind, 0) + 1
        if len(self.examples) < self.max_examples:
            self.examples.append(problem)


def build_paper(where: str, fields: dict) -> Paper | Problem:
    """Validate `fields` into a Paper, or describe why not as a Problem at `where`."""
    try:
        return Paper.model_validate(fields)
    except ValidationError as exc:
        return _problem_from(where, exc)


def _problem_from(where: str, exc: ValidationError) -> Problem:
    error = field_error(exc)  # worded as a corpus problem of its kind
    field = ".".join(str(part) for part in error.loc) or "record"
    if error.kind == "missing" or (error.kind == "string_too_short" and field in ("id", "title")):
        return Problem(kind=MISSING_FIELD, where=where, message=f"field '{field}' is missing or empty")
    if error.kind == "extra_forbidden":
        return Problem(kind=INVALID_FIELD, where=where, message=f"unknown field '{field}'")
    message = f"field '{field}': {error.message}"
    return Problem(kind=INVALID_FIELD, where=where, message=message)
