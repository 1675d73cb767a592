"""The bundled corpus and split (`<repo>/splits/`), split files, and picking papers by split.

The canonical files live once, in `<repo>/splits/` (not copied into the package). They are found
relative to this file: `Path(__file__).parents[2] / "splits"`, which is the repo root in a source
checkout and in the editable install the README uses (`pip install -e .`). A non-editable wheel
does not carry them: set `AUTODATA_SPLITS_DIR` to a folder holding them, or pass paths explicitly.
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from inner_loop.papers.loaders import iter_papers
from inner_loop.papers.model import LoadReport, Paper, PaperError
from inner_loop.papers.split import Split
from inner_loop.strict import first_error

CORPUS_FILE = "papers.jsonl.gz"
SPLIT_FILE = "split_50_25.json"
SPLITS_DIR_ENV = "AUTODATA_SPLITS_DIR"


def splits_dir() -> Path:
    """`$AUTODATA_SPLITS_DIR` if set, else `<repo>/splits` next to the package."""
    override = os.environ.get(SPLITS_DIR_ENV)
    return Path(override) if override else Path(__file__).resolve().parents[2] / "splits"


def default_corpus_path() -> Path:
    """The bundled 150-paper corpus (normalised JSONL, gzipped)."""
    return _bundled(CORPUS_FILE)


def default_split_path() -> Path:
    """The bundled 50 train / 25 validation split."""
    return _bundled(SPLIT_FILE)


def _bundled(name: str) -> Path:
    path = splits_dir() / name
    if not path.is_file():
        raise PaperError(
            f"bundled file {path} not found: install the project editable (pip install -e .) "
            f"or set {SPLITS_DIR_ENV} to a folder holding {name}"
        )
    return path


def load_split(path: str | Path) -> Split:
    """Read and validate a split file (JSON)."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise PaperError(f"{path}: no such split file") from exc
    try:
        return Split.model_validate(json.loads(raw))
    except json.JSONDecodeError as exc:
        raise PaperError(f"{path}:{exc.lineno}: split file is not JSON ({exc.msg})") from exc
    except ValidationError as exc:
        raise PaperError(f"{path}: bad split file: {first_error(exc)}") from exc


def select_papers(
    corpus_path: str | Path | None = None,
    split_path: str | Path | None = None,
    subset: str = "train",
    ids: list[str] | None = None,
    limit: int | None = None,
    *,
    format: str | None = None,
) -> list[Paper]:
    """The papers of one split subset, in split order, streamed out of the corpus.

    `ids` narrows the subset to those ids (each must belong to it); `limit` keeps the first N.
    Paths default to the bundled corpus and split. Only the selected papers are kept in memory.
    """
    split_path = Path(split_path) if split_path is not None else default_split_path()
    corpus_path = Path(corpus_path) if corpus_path is not None else default_corpus_path()
    wanted = load_split(split_path).ids(subset)
    if ids is not None:
        members = set(wanted)
        outside = [i for i in ids if i not in members]
        if outside:
            raise PaperError(f"ids not in the {subset} subset of {split_path}: {', '.join(outside[:5])}")
        chosen = set(ids)
        wanted = [i for i in wanted if i in chosen]
    if limit is not None:
        if limit < 0:
            raise PaperError(f"limit must be >= 0, got {limit}")
        wanted = wanted[:limit]
    found: dict[str, Paper] = {}
    targets = set(wanted)
    for paper in iter_papers(corpus_path, format):
        if paper.id in targets:
            found[paper.id] = paper
            if len(found) == len(targets):
                break  # everything wanted is here; stop reading
    missing = [i for i in wanted if i not in found]
    if missing:
        raise PaperError(
            f"{len(missing)} {subset} id(s) of {split_path} are not in the corpus {corpus_path}: "
            f"{', '.join(missing[:5])}"
        )
    return [found[i] for i in wanted]


class CharStats(BaseModel):
    """Body-text characters (Paper.n_chars) over a group of papers."""

    model_config = ConfigDict(extra="forbid")

    n_papers: int
    total: int
    median: float
    min: int
    max: int

    @classmethod
    def of(cls, sizes: list[int]) -> CharStats:
        if not sizes:
            return cls(n_papers=0, total=0, median=0.0, min=0, max=0)
        return cls(n_papers=len(sizes), total=sum(sizes), median=float(statistics.median(sizes)),
                   min=min(sizes), max=max(sizes))


class CorpusStats(BaseModel):
    """What `autodata papers` prints: counts, characters, per-source stats, problems found."""

    model_config = ConfigDict(extra="forbid")

    path: str
    format: str
    n_papers: int
    chars: CharStats
    by_prefix: dict[str, CharStats]
    by_subfield: dict[str, CharStats]
    n_skipped: int
    problems: dict[str, int]
    examples: list[str]


def corpus_stats(
    path: str | Path,
    format: str | None = None,
    *,
    skip_bad: bool = False,
    metadata: str | Path | None = None,
) -> CorpusStats:
    """Stream a corpus once and summarise it (only the per-paper sizes are kept)."""
    report = LoadReport()
    sizes: list[int] = []
    by_prefix: dict[str, list[int]] = {}
    by_subfield: dict[str, list[int]] = {}
    for paper in iter_papers(path, format, skip_bad=skip_bad, report=report, metadata=metadata):
        sizes.append(paper.n_chars)
        by_prefix.setdefault(paper.id_prefix or "(none)", []).append(paper.n_chars)
        by_subfield.setdefault(paper.subfield or "(none)", []).append(paper.n_chars)
    return CorpusStats(
        path=report.path,
        format=report.format,
        n_papers=report.n_papers,
        chars=CharStats.of(sizes),
        by_prefix={k: CharStats.of(v) for k, v in sorted(by_prefix.items())},
        by_subfield={k: CharStats.of(v) for k, v in sorted(by_subfield.items())},
        n_skipped=report.n_skipped,
        problems=dict(sorted(report.problems.items())),
        examples=[p.line() for p in report.examples],
    )
