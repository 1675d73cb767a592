"""Write papers to disk in any of the four input formats `autodata papers` / `generate` read.

Used by `scripts/scale_generate.py --format F` to measure a corpus streamed through its real
loader (inner_loop/papers/*), one paper in memory at a time, both here and when it is read back:

  normalised    one JSON object a line (`Paper` fields, `venue_or_category`)
  s2orc         `pdf_parses.jsonl` (paragraphs with their section) + `metadata.jsonl` beside it
  s2-datasets   one `s2orc` record a line: `content.text` and JSON-encoded span annotations
  textdir       a directory of `<id>.md` files, `Paper.full_text` each

Each writes what its loader reads back as the same paper (the loaders' docstrings say where a
format loses something: S2ORC merges adjacent sections with one heading, textdir splits on a
body line that looks like a heading). Returns the path to load.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from inner_loop.papers import Paper

FORMATS = ("normalised", "s2orc", "s2-datasets", "textdir")


def write_corpus(papers: Iterable[Paper], fmt: str, folder: Path) -> Path:
    """`papers` written under `folder` in format `fmt`; the path `iter_papers` loads."""
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "textdir":
        root = folder / "papers"
        root.mkdir(exist_ok=True)
        for paper in papers:
            (root / f"{paper.id}.md").write_text(paper.full_text + "\n", encoding="utf-8")
        return root
    if fmt == "s2orc":
        parses, meta = folder / "pdf_parses.jsonl", folder / "metadata.jsonl"
        with open(parses, "w", encoding="utf-8") as p, open(meta, "w", encoding="utf-8") as m:
            for paper in papers:
                m.write(_line({"paper_id": paper.id, "title": paper.title, "year": paper.year,
                               "venue": paper.venue, "abstract": paper.abstract}))
                p.write(_line({"paper_id": paper.id, "abstract": [],
                               "body_text": [{"section": s.heading, "text": s.text}
                                             for s in paper.sections]}))
        return parses
    path = folder / "papers.jsonl"
    with open(path, "w", encoding="utf-8") as out:
        for i, paper in enumerate(papers):
            out.write(_line(_s2_datasets(paper, i) if fmt == "s2-datasets" else _normalised(paper)))
    return path


def _line(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False) + "\n"


def _normalised(paper: Paper) -> dict:
    data = paper.model_dump(mode="json")
    data["venue_or_category"] = data.pop("venue")
    return data


def _s2_datasets(paper: Paper, corpusid: int) -> dict:
    """One record: the paper as one string, spans for title, abstract, headers, paragraphs."""
    text, spans = "", {"title": [], "abstract": [], "sectionheader": [], "paragraph": []}

    def put(kind: str, part: str) -> None:
        nonlocal text
        spans[kind].append({"start": len(text), "end": len(text) + len(part)})
        text += part + "\n\n"

    put("title", paper.title)
    if paper.abstract:
        put("abstract", paper.abstract)
    for section in paper.sections:
        put("sectionheader", section.heading)
        put("paragraph", section.text)
    annotations = {k: json.dumps(v) for k, v in spans.items()}
    return {"corpusid": corpusid, "externalids": {}, "content": {
        "text": text, "annotations": annotations, "source": {"oainfo": None}}}
