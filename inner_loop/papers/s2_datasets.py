"""Semantic Scholar Datasets API, `s2orc` dataset (2023-): the whole paper as one string plus spans.

One JSON object a line: `corpusid`, `externalids`, `content.text`, and `content.annotations`,
whose values are JSON-encoded strings (or null) holding lists of `{start, end, attributes?}` spans
into `content.text` (a decoded list is accepted too). What the loader makes of it:

- `id` = "s2:<corpusid>"; `source` = "semantic-scholar-datasets:s2orc";
  `license` = `content.source.oainfo.license` when given; `year` = None (not in this dataset).
- `title` = the first `title` span; `venue` = the first `venue` span; `abstract` = the `abstract`
  spans joined by a blank line.
- Each `paragraph` span belongs to the nearest preceding `sectionheader` span; consecutive
  paragraphs of one header form one Section, joined by a blank line. A header's `attributes.n`
  ("3.1") is put in front of its text unless the text already starts with it. Paragraphs inside
  the title or abstract spans are not body text; paragraphs before the first header form a
  section with heading ""; a header with no paragraph yields no section.
Span texts are stripped of surrounding whitespace.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterator
from pathlib import Path

from inner_loop.papers.detect import iter_json_objects
from inner_loop.papers.model import (
    INVALID_FIELD,
    MISSING_FIELD,
    Paper,
    Problem,
    Section,
    build_paper,
)

SOURCE = "semantic-scholar-datasets:s2orc"


def iter_s2_datasets(path: Path) -> Iterator[tuple[str, Paper | Problem]]:
    """Yield ("file:line", Paper or Problem) for each record of an S2 Datasets `s2orc` JSONL file."""
    for where, obj in iter_json_objects(path):
        if isinstance(obj, Problem):
            yield where, obj
            continue
        try:
            yield where, _paper_from(where, obj)
        except _Bad as bad:
            yield where, Problem(kind=bad.kind, where=where, message=bad.message)


class _Bad(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.message = kind, message


def _paper_from(where: str, obj: dict) -> Paper | Problem:
    corpusid = obj.get("corpusid")
    if corpusid is None or corpusid == "":
        raise _Bad(MISSING_FIELD, "field 'corpusid' is missing or empty")
    content = obj.get("content")
    if not isinstance(content, dict) or not isinstance(content.get("text"), str):
        raise _Bad(MISSING_FIELD, "field 'content.text' is missing")
    text = content["text"]
    annotations = content.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise _Bad(INVALID_FIELD, "field 'content.annotations' must be an object")

    def spans(key: str) -> list[dict]:
        return _decode_spans(annotations.get(key), key, len(text))

    titles = spans("title")
    if not titles:
        raise _Bad(MISSING_FIELD, "field 'content.annotations.title' is missing or empty")
    venues = spans("venue")
    abstract_spans = spans("abstract")
    fields = {
        "id": f"s2:{corpusid}",
        "title": _slice(text, titles[0]),
        "abstract": "\n\n".join(_slice(text, s) for s in abstract_spans),
        "sections": _sections(text, spans("sectionheader"), spans("paragraph"), titles + abstract_spans),
        "venue": _slice(text, venues[0]) if venues else None,
        "license": _license(content),
        "source": SOURCE,
    }
    return build_paper(where, fields)


def _decode_spans(raw: object, key: str, n_text: int) -> list[dict]:
    """Spans of one annotation key, sorted by start; bad JSON or out-of-range offsets are errors."""
    if raw is None or raw == "":
        return []
    try:
        spans = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise _Bad(INVALID_FIELD, f"annotation '{key}' is not JSON ({exc.msg})") from exc
    if not isinstance(spans, list):
        raise _Bad(INVALID_FIELD, f"annotation '{key}' must be a list of spans")
    for span in spans:
        ok = isinstance(span, dict) and all(isinstance(span.get(k), int) for k in ("start", "end"))
        if not ok or not 0 <= span["start"] <= span["end"] <= n_text:
            raise _Bad(INVALID_FIELD, f"annotation '{key}' has a bad span {str(span)[:60]}")
    return sorted(spans, key=lambda s: (s["start"], s["end"]))


def _slice(text: str, span: dict) -> str:
    return text[span["start"] : span["end"]].strip()


def _heading(text: str, header: dict) -> str:
    heading = _slice(text, header)
    attributes = header.get("attributes")
    number = attributes.get("n") if isinstance(attributes, dict) else None
    if isinstance(number, str) and number and not heading.startswith(number):
        heading = f"{number} {heading}"
    return heading


def _sections(
    text: str, headers: list[dict], paragraphs: list[dict], front: list[dict]
) -> list[Section]:
    """Attach each paragraph to the nearest preceding header; group consecutive ones."""
    starts = [h["start"] for h in headers]
    grouped: list[tuple[int, list[str]]] = []  # (header index or -1, paragraph texts)
    for para in paragraphs:
        if any(f["start"] <= para["start"] and para["end"] <= f["end"] for f in front):
            continue  # part of the title or abstract, not body text
        owner = bisect.bisect_right(starts, para["start"]) - 1
        if grouped and grouped[-1][0] == owner:
            grouped[-1][1].append(_slice(text, para))
        else:
            grouped.append((owner, [_slice(text, para)]))
    return [
        Section(heading=_heading(text, headers[owner]) if owner >= 0 else "", text="\n\n".join(parts))
        for owner, parts in grouped
    ]


def _license(content: dict) -> str | None:
    source = content.get("source")
    oainfo = source.get("oainfo") if isinstance(source, dict) else None
    value = oainfo.get("license") if isinstance(oainfo, dict) else None
    return value if isinstance(value, str) and value else None
