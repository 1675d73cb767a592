"""The project's normalised JSONL (the bundled corpus `splits/papers.jsonl.gz` is one).

One object a line: id, title, year, venue_or_category, license, source, subfield, abstract,
sections [{heading, text}], n_chars. `venue_or_category` becomes `Paper.venue` (`venue` is
accepted too); `n_chars` is not stored but checked against the sections (a mismatch is an
invalid_field problem, since it means the record was edited by hand and is inconsistent).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from inner_loop.papers.detect import iter_json_objects
from inner_loop.papers.model import INVALID_FIELD, Paper, Problem, build_paper


def iter_normalised(path: Path) -> Iterator[tuple[str, Paper | Problem]]:
    """Yield ("file:line", Paper or Problem) for each line of a normalised JSONL file."""
    for where, obj in iter_json_objects(path):
        if isinstance(obj, Problem):
            yield where, obj
            continue
        yield where, _paper_from(where, dict(obj))


def _paper_from(where: str, fields: dict) -> Paper | Problem:
    if "venue_or_category" in fields:
        fields["venue"] = fields.pop("venue_or_category")
    n_chars = fields.pop("n_chars", None)
    paper = build_paper(where, fields)
    if isinstance(paper, Paper) and n_chars is not None and n_chars != paper.n_chars:
        message = f"n_chars is {n_chars} but the sections hold {paper.n_chars} characters"
        return Problem(kind=INVALID_FIELD, where=where, message=message)
    return paper
