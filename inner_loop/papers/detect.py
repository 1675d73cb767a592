"""Reading primitives shared by the loaders (streaming, gzip-aware, line-numbered); format detection."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from inner_loop.papers.model import MALFORMED_JSON, PaperError, Problem

FORMATS = ("normalised", "s2orc", "s2-datasets", "textdir")


def open_text(path: Path) -> IO[str]:
    """Open a UTF-8 text file for streaming; `.gz` files are decompressed on the fly."""
    if not path.is_file():
        raise PaperError(f"{path}: no such file")
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line number, line) for each non-blank line, one line in memory at a time.

    Lines are read as bytes and decoded one by one, so a non-UTF-8 line is reported at its number.
    """
    for lineno, raw in iter_raw_lines(path):
        line = decode_line(path, lineno, raw)
        if line.strip():
            yield lineno, line


def iter_raw_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, raw bytes) for every line, blank ones included (gzip-aware)."""
    if not path.is_file():
        raise PaperError(f"{path}: no such file")
    lineno = 0
    try:
        with _open_binary(path) as handle:
            for lineno, raw in enumerate(handle, start=1):
                yield lineno, raw
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise PaperError(f"{path}:{lineno + 1}: broken gzip stream ({exc})") from exc


def decode_line(path: Path, lineno: int, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PaperError(f"{path}:{lineno}: not UTF-8 text ({exc.reason})") from exc


def _open_binary(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def iter_json_objects(path: Path) -> Iterator[tuple[str, dict | Problem]]:
    """Yield ("file:line", object) for each JSONL line, or a malformed_json Problem for a bad one."""
    for lineno, line in iter_lines(path):
        where = f"{path}:{lineno}"
        yield where, parse_object(where, line)


def parse_object(where: str, line: str | bytes) -> dict | Problem:
    """One JSONL line as a JSON object, or the malformed_json Problem saying why not."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return Problem(kind=MALFORMED_JSON, where=where, message=f"not JSON ({exc.msg})")
    if not isinstance(obj, dict):
        message = f"expected a JSON object, got {type(obj).__name__}"
        return Problem(kind=MALFORMED_JSON, where=where, message=message)
    return obj


def detect_format(path: Path, *, max_lines: int = 100) -> str:
    """Guess the input format: a directory is `textdir`; a JSONL file is told by the keys of its
    first record that parses (malformed lines before it are left for the loader to report)."""
    if path.is_dir():
        return "textdir"
    n_lines = 0
    for n_lines, (lineno, line) in enumerate(iter_lines(path), start=1):
        try:
            first = json.loads(line)
        except json.JSONDecodeError:
            if n_lines >= max_lines:
                break
            continue
        return _format_of(path, lineno, first)
    if n_lines == 0:
        raise PaperError(f"{path}: empty file, no papers")
    raise PaperError(
        f"{path}: cannot detect the format, no JSON in the first {max_lines} lines; pass --format"
    )


def _format_of(path: Path, lineno: int, first: object) -> str:
    keys = set(first) if isinstance(first, dict) else set()
    if "body_text" in keys and "paper_id" in keys:
        return "s2orc"
    if "content" in keys and "corpusid" in keys:
        return "s2-datasets"
    if "sections" in keys and "id" in keys:
        return "normalised"
    if "paper_id" in keys and "title" in keys:
        raise PaperError(
            f"{path}:{lineno}: this is an S2ORC metadata file; load the pdf_parses file "
            "(the metadata is joined on paper_id)"
        )
    raise PaperError(
        f"{path}:{lineno}: cannot detect the format from keys {sorted(keys)[:6]}; "
        f"pass --format ({' | '.join(FORMATS)})"
    )
