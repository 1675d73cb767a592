"""Load papers from any of the four input formats, streaming, with one policy for bad input.

Each format module yields ("file:line", Paper | Problem) pairs and decides nothing; this module
applies the checks common to all formats (empty body text, duplicate ids: the ids seen are kept
in an on-disk `IdIndex`, so memory stays flat however long the corpus) and the policy:
a Problem raises `PaperError("file:line: kind: message")`, or with `skip_bad=True` is counted
in the `LoadReport` and skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from inner_loop.papers.detect import FORMATS, detect_format
from inner_loop.papers.id_index import IdIndex
from inner_loop.papers.model import (
    DUPLICATE_ID,
    EMPTY_TEXT,
    LoadReport,
    Paper,
    PaperError,
    Problem,
)
from inner_loop.papers.normalised import iter_normalised
from inner_loop.papers.s2_datasets import iter_s2_datasets
from inner_loop.papers.s2orc import iter_s2orc
from inner_loop.papers.textdir import iter_textdir


def iter_papers(
    path: str | Path,
    format: str | None = None,
    *,
    skip_bad: bool = False,
    report: LoadReport | None = None,
    metadata: str | Path | None = None,
) -> Iterator[Paper]:
    """Stream the papers of `path` one at a time (the file is never read whole).

    `format` is one of FORMATS, or None to detect it. `metadata` is the S2ORC metadata file
    (found next to the pdf_parses file when None). Pass a `LoadReport` to get the counts.
    """
    path = Path(path)
    if not path.exists():
        raise PaperError(f"{path}: no such file or directory")
    chosen = format or detect_format(path)
    report = report if report is not None else LoadReport()
    report.path, report.format = str(path), chosen
    with IdIndex() as seen:  # id -> where it was read, on disk: memory flat in the corpus
        for where, item in _items(path, chosen, metadata):
            problem = item if isinstance(item, Problem) else _check(where, item, seen)
            if problem is not None:
                if not skip_bad:
                    raise PaperError(problem.line())
                report.add(problem)
                continue
            report.n_papers += 1
            yield item


def load_papers(
    path: str | Path,
    format: str | None = None,
    *,
    skip_bad: bool = False,
    metadata: str | Path | None = None,
) -> tuple[list[Paper], LoadReport]:
    """All papers of `path` in a list, with the report (for small corpora; else use iter_papers)."""
    report = LoadReport()
    papers = list(iter_papers(path, format, skip_bad=skip_bad, report=report, metadata=metadata))
    return papers, report


def _items(
    path: Path, chosen: str, metadata: str | Path | None
) -> Iterator[tuple[str, Paper | Problem]]:
    if chosen not in FORMATS:
        raise PaperError(f"unknown paper format {chosen!r}; choose one of {', '.join(FORMATS)}")
    if metadata is not None and chosen != "s2orc":
        raise PaperError(f"a metadata file only applies to the s2orc format, not {chosen}")
    if chosen == "textdir":
        if not path.is_dir():
            raise PaperError(f"{path}: the textdir format needs a directory of .md/.txt files")
        return iter_textdir(path)
    if path.is_dir():
        raise PaperError(f"{path}: is a directory; the {chosen} format needs a JSONL file")
    if chosen == "s2orc":
        return iter_s2orc(path, Path(metadata) if metadata is not None else None)
    if chosen == "s2-datasets":
        return iter_s2_datasets(path)
    return iter_normalised(path)


def _check(where: str, paper: Paper, seen: IdIndex) -> Problem | None:
    """The checks every format shares: some body text, an id not seen before (recorded)."""
    if not any(section.text.strip() for section in paper.sections):
        return Problem(kind=EMPTY_TEXT, where=where, message=f"paper {paper.id} has no body text")
    added, first = seen.add(paper.id, where)
    if not added:
        message = f"paper {paper.id} already at {first}"
        return Problem(kind=DUPLICATE_ID, where=where, message=message)
    return None
