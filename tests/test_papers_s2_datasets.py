"""The Semantic Scholar Datasets `s2orc` loader, on a fixture encoded from 2 real train papers.

`tests/fixtures/papers/s2_datasets.jsonl` is made by `build_fixture()` below from the bundled
corpus (the corpusids are invented: these papers have no S2 corpus id offline). Regenerate it with
`.venv/bin/python tests/test_papers_s2_datasets.py`; a test checks the committed file is what the
builder gives, so the fixture cannot drift from the real paper text.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from inner_loop.papers import Paper, PaperError, default_corpus_path, iter_papers, load_papers

FIXTURE = Path(__file__).parent / "fixtures" / "papers" / "s2_datasets.jsonl"
# two train papers of splits/split_50_25.json, with the invented corpusids they get in the fixture
FIXTURE_PAPERS = {"arxiv:2212.11809": 900000001, "acl2023:fcc328d08d": 900000002}
NULL_KEYS = ("author", "bibentry", "bibref", "figureref", "formula", "publisher", "table", "tableref", "venue")


def s2_datasets_record(paper: Paper, corpusid: int) -> dict:
    """Encode a paper in the S2 Datasets `s2orc` schema: one text string plus JSON-encoded spans."""
    pieces: list[str] = []
    spans: dict[str, list[dict]] = {"title": [], "abstract": [], "sectionheader": [], "paragraph": []}
    offset = 0

    def put(key: str, text: str) -> None:
        nonlocal offset
        spans[key].append({"end": offset + len(text), "start": offset})
        pieces.append(text + "\n\n")
        offset += len(text) + 2

    put("title", paper.title)
    if paper.abstract:
        put("abstract", paper.abstract)
    for section in paper.sections:
        put("sectionheader", section.heading)
        for paragraph in section.text.split("\n\n"):
            put("paragraph", paragraph)
    annotations = {k: json.dumps(v, separators=(",", ":")) for k, v in spans.items()}
    annotations.update({k: None for k in NULL_KEYS})
    arxiv = paper.id.removeprefix("arxiv:") if paper.id.startswith("arxiv:") else None
    return {
        "corpusid": corpusid,
        "externalids": {"arxiv": arxiv, "mag": None, "acl": None, "pubmed": None,
                        "pubmedcentral": None, "dblp": None, "doi": None},
        "content": {
            "source": {"pdfurls": None, "pdfsha": None,
                       "oainfo": {"license": paper.license, "openaccessurl": None, "status": None}},
            "text": "".join(pieces),
            "annotations": dict(sorted(annotations.items())),
        },
    }


def bundled(ids: list[str]) -> dict[str, Paper]:
    wanted = set(ids)
    return {p.id: p for p in iter_papers(default_corpus_path()) if p.id in wanted}


def build_fixture() -> str:
    papers = bundled(list(FIXTURE_PAPERS))
    lines = [json.dumps(s2_datasets_record(papers[i], c), ensure_ascii=False) for i, c in FIXTURE_PAPERS.items()]
    return "\n".join(lines) + "\n"


def test_committed_fixture_is_what_the_builder_makes():
    assert FIXTURE.read_text(encoding="utf-8") == build_fixture()


def test_fixture_papers_are_train_papers():
    split = json.loads((Path(__file__).parents[1] / "splits" / "split_50_25.json").read_text())
    assert set(FIXTURE_PAPERS) <= set(split["train"])


def test_loader_gives_back_title_abstract_and_sections():
    loaded, report = load_papers(FIXTURE)
    assert report.format == "s2-datasets" and report.n_papers == 2
    originals = bundled(list(FIXTURE_PAPERS))
    for paper, (orig_id, corpusid) in zip(loaded, FIXTURE_PAPERS.items()):
        original = originals[orig_id]
        assert paper.id == f"s2:{corpusid}"
        assert paper.title == original.title
        assert paper.abstract == original.abstract
        assert paper.sections == original.sections
        assert paper.license == original.license
        assert paper.source == "semantic-scholar-datasets:s2orc"


def _one_record(tmp_path: Path, record: dict) -> Path:
    path = tmp_path / "s2.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return path


def test_header_number_attribute_is_prefixed(tmp_path):
    text = "A Title\nIntroduction\nFirst para.\nSecond para.\nMethod\nThird para."
    record = {"corpusid": 7, "content": {"text": text, "annotations": {
        "title": '[{"start":0,"end":7}]',
        "sectionheader": '[{"attributes":{"n":"1"},"start":8,"end":20},{"start":46,"end":52}]',
        "paragraph": '[{"start":21,"end":32},{"start":33,"end":45},{"start":53,"end":64}]',
        "abstract": None}}}
    (paper,), _ = load_papers(_one_record(tmp_path, record))
    assert [(s.heading, s.text) for s in paper.sections] == [
        ("1 Introduction", "First para.\n\nSecond para."), ("Method", "Third para.")]
    assert paper.abstract == "" and paper.year is None


def test_paragraph_before_first_header_has_empty_heading(tmp_path):
    text = "T\nLead paragraph.\nH\nBody."
    record = {"corpusid": 8, "content": {"text": text, "annotations": {
        "title": '[{"start":0,"end":1}]', "sectionheader": '[{"start":18,"end":19}]',
        "paragraph": '[{"start":2,"end":17},{"start":20,"end":25}]'}}}
    (paper,), _ = load_papers(_one_record(tmp_path, record))
    assert [(s.heading, s.text) for s in paper.sections] == [("", "Lead paragraph."), ("H", "Body.")]


def test_span_outside_the_text_is_invalid_field(tmp_path):
    record = {"corpusid": 9, "content": {"text": "short", "annotations": {
        "title": '[{"start":0,"end":5}]', "paragraph": '[{"start":0,"end":99}]'}}}
    path = _one_record(tmp_path, record)
    with pytest.raises(PaperError, match=rf"{path}:1: invalid_field: annotation 'paragraph' has a bad span"):
        load_papers(path)


def test_annotation_that_is_not_json_is_invalid_field(tmp_path):
    record = {"corpusid": 10, "content": {"text": "T body", "annotations": {
        "title": '[{"start":0,"end":1}]', "paragraph": "[{broken"}}}
    path = _one_record(tmp_path, record)
    with pytest.raises(PaperError, match=rf"{path}:1: invalid_field: annotation 'paragraph' is not JSON"):
        load_papers(path)


def test_missing_title_span_is_missing_field(tmp_path):
    record = {"corpusid": 11, "content": {"text": "body", "annotations": {"paragraph": '[{"start":0,"end":4}]'}}}
    path = _one_record(tmp_path, record)
    with pytest.raises(PaperError, match=rf"{path}:1: missing_field: .*title"):
        load_papers(path)


if __name__ == "__main__":
    FIXTURE.write_text(build_fixture(), encoding="utf-8")
    print(f"wrote {FIXTURE}", file=sys.stderr)
