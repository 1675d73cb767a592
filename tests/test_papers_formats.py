"""Each input format loads, is detected, and gives the same ids and text as the normalised corpus."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from inner_loop.papers import (
    Paper,
    PaperError,
    default_corpus_path,
    detect_format,
    iter_papers,
    load_papers,
)
from inner_loop.papers.s2orc import find_metadata

FIXTURES = Path(__file__).parent / "fixtures" / "papers"
S2ORC_FIXTURE = FIXTURES / "s2orc_sample.jsonl"
S2ORC_FIXTURE_IDS = ["arxiv:2212.11808", "acl2023:eab503cac2", "openreview:0lSoIruExF"]
# The files the bundled corpus was built from, where a maintainer's checkout has them beside it.
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "papers"
NEEDS_SOURCES = pytest.mark.skipif(not (SHARED / "s2orc_sample.jsonl").is_file(),
                                   reason="the corpus's S2ORC source files are not beside this "
                                          "checkout")
# Adjacent sections with the same heading: one section in the S2ORC form (see s2orc.py).
MERGED_IN_S2ORC = {"openreview:dIVrWHP9_1i", "openreview:eSHBmLnD1s8"}


@pytest.fixture(scope="module")
def corpus() -> dict[str, Paper]:
    return {p.id: p for p in iter_papers(default_corpus_path())}


def merge_adjacent_same_heading(paper: Paper) -> list[tuple[str, str]]:
    merged: list[tuple[str, str]] = []
    for s in paper.sections:
        if merged and merged[-1][0] == s.heading:
            merged[-1] = (s.heading, merged[-1][1] + "\n\n" + s.text)
        else:
            merged.append((s.heading, s.text))
    return merged


def test_bundled_corpus_loads_150_papers_with_metadata(corpus):
    assert len(corpus) == 150
    paper = corpus["arxiv:2212.11808"]
    assert paper.year == 2022 and paper.subfield == "nlp" and paper.venue == "arXiv cs.CL cs.LG"
    assert paper.license == "http://creativecommons.org/licenses/by/4.0/"
    assert paper.n_chars == 23578
    assert {p.id_prefix for p in corpus.values()} == {"arxiv", "acl2023", "openreview"}


def test_plain_and_gzipped_jsonl_give_the_same_papers(tmp_path, corpus):
    plain = tmp_path / "papers.jsonl"
    with gzip.open(default_corpus_path(), "rb") as src, open(plain, "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert [p for p in iter_papers(plain)] == list(corpus.values())


def test_s2orc_fixture_equals_normalised(corpus):
    papers, report = load_papers(S2ORC_FIXTURE)
    assert report.format == "s2orc"
    assert [p.id for p in papers] == S2ORC_FIXTURE_IDS
    for paper in papers:
        original = corpus[paper.id]
        assert (paper.title, paper.abstract, paper.year, paper.venue) == (
            original.title, original.abstract, original.year, original.venue)
        assert paper.sections == original.sections


@NEEDS_SOURCES
def test_s2orc_sample_equals_normalised_for_all_150_papers(corpus):
    papers = list(iter_papers(SHARED / "s2orc_sample.jsonl"))
    assert sorted(p.id for p in papers) == sorted(corpus)
    for paper in papers:
        original = corpus[paper.id]
        assert (paper.title, paper.abstract) == (original.title, original.abstract)
        if paper.id in MERGED_IN_S2ORC:
            assert paper.sections != original.sections
            assert [(s.heading, s.text) for s in paper.sections] == merge_adjacent_same_heading(original)
        else:
            assert paper.sections == original.sections, paper.id


@NEEDS_SOURCES
def test_s2orc_fixture_lines_are_verbatim_from_the_shared_sample():
    for name in ("s2orc_sample.jsonl", "s2orc_sample_metadata.jsonl"):
        shared_lines = set((SHARED / name).read_text(encoding="utf-8").splitlines())
        assert set((FIXTURES / name).read_text(encoding="utf-8").splitlines()) <= shared_lines


def test_s2orc_abstract_falls_back_to_metadata(tmp_path):
    pdf = {"paper_id": "x:1", "abstract": [], "body_text": [{"section": "Intro", "text": "Body."}]}
    meta = {"paper_id": "x:1", "title": "T", "abstract": "From metadata.", "year": 2020, "venue": "V"}
    (tmp_path / "p.jsonl").write_text(json.dumps(pdf) + "\n")
    (tmp_path / "p_metadata.jsonl").write_text(json.dumps(meta) + "\n")
    (paper,), _ = load_papers(tmp_path / "p.jsonl")
    assert paper.abstract == "From metadata." and paper.year == 2020


@pytest.mark.parametrize(
    ("pdf_name", "meta_name"),
    [
        ("sample.jsonl", "sample_metadata.jsonl"),
        ("sample.jsonl.gz", "sample_metadata.jsonl.gz"),
        ("sample.jsonl", "metadata.jsonl"),
        ("pdf_parses/pdf_parses_0.jsonl.gz", "metadata/metadata_0.jsonl.gz"),
    ],
)
def test_s2orc_metadata_is_found_next_to_pdf_parses(tmp_path, pdf_name, meta_name):
    for name in (pdf_name, meta_name):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert find_metadata(tmp_path / pdf_name) == tmp_path / meta_name


def test_s2orc_without_metadata_file_is_an_error(tmp_path):
    shutil.copy(S2ORC_FIXTURE, tmp_path / "lonely.jsonl")
    with pytest.raises(PaperError, match="no S2ORC metadata file found.*--metadata"):
        load_papers(tmp_path / "lonely.jsonl")


def test_s2orc_gzipped_with_explicit_metadata(tmp_path, corpus):
    for name in ("s2orc_sample.jsonl", "s2orc_sample_metadata.jsonl"):
        with open(FIXTURES / name, "rb") as src, gzip.open(tmp_path / f"{name}.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
    shutil.move(tmp_path / "s2orc_sample_metadata.jsonl.gz", tmp_path / "meta.jsonl.gz")
    papers, _ = load_papers(tmp_path / "s2orc_sample.jsonl.gz", "s2orc", metadata=tmp_path / "meta.jsonl.gz")
    assert [p.sections for p in papers] == [corpus[i].sections for i in S2ORC_FIXTURE_IDS]


def write_textdir(folder: Path, papers: list[Paper]) -> None:
    folder.mkdir()
    for paper in papers:
        (folder / f"{paper.id}.md").write_text(paper.full_text + "\n", encoding="utf-8")


def test_textdir_reads_back_full_text(tmp_path, corpus):
    # papers whose body has no line that looks like a Markdown heading (see textdir.py)
    chosen = [corpus[i] for i in ("acl2023:07391ce572", "arxiv:2212.11765", "openreview:0lSoIruExF",
                                  "acl2023:eab503cac2")]
    write_textdir(tmp_path / "docs", chosen)
    papers, report = load_papers(tmp_path / "docs")
    assert report.format == "textdir"
    assert [p.id for p in papers] == sorted(p.id for p in chosen)
    for paper in papers:
        original = corpus[paper.id]
        assert (paper.title, paper.abstract, paper.sections) == (
            original.title, original.abstract, original.sections)


def test_textdir_plain_text_title_is_first_line(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "note.txt").write_text("\n  My Plain Title  \nSome body line.\n\nSecond paragraph.\n")
    (folder / "nested.md").write_text("# T\n\n## 3 Method\n### 3.1 Setup\nText.\n#### Deep\nMore.\n")
    (folder / "ignored.pdf").write_bytes(b"%PDF")
    nested, note = load_papers(folder)[0]
    assert (note.id, note.title, note.abstract) == ("note", "My Plain Title", "")
    assert [(s.heading, s.text) for s in note.sections] == [("", "Some body line.\n\nSecond paragraph.")]
    assert [(s.heading, s.text) for s in nested.sections] == [("3.1 Setup", "Text."), ("Deep", "More.")]


def test_textdir_without_text_files_is_an_error(tmp_path):
    with pytest.raises(PaperError, match="no .md or .txt files"):
        load_papers(tmp_path)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (default_corpus_path(), "normalised"),
        (S2ORC_FIXTURE, "s2orc"),
        (FIXTURES / "s2_datasets.jsonl", "s2-datasets"),
        (FIXTURES, "textdir"),
    ],
)
def test_format_is_detected(path, expected):
    assert detect_format(path) == expected


def test_metadata_file_is_not_mistaken_for_papers():
    with pytest.raises(PaperError, match="S2ORC metadata file; load the pdf_parses file"):
        detect_format(FIXTURES / "s2orc_sample_metadata.jsonl")


def test_unknown_format_is_an_error():
    with pytest.raises(PaperError, match="unknown paper format 'pdf'"):
        load_papers(default_corpus_path(), "pdf")


def test_detection_looks_past_a_malformed_first_line(tmp_path):
    lines = (FIXTURES / "s2_datasets.jsonl").read_text().splitlines()
    path = tmp_path / "s2.jsonl"
    path.write_text("{truncated\n" + "\n".join(lines) + "\n")
    papers, report = load_papers(path, skip_bad=True)
    assert report.format == "s2-datasets" and len(papers) == 2 and report.problems == {"malformed_json": 1}


def test_file_without_any_json_cannot_be_detected(tmp_path):
    path = tmp_path / "notes.jsonl"
    path.write_text("just prose\n")
    with pytest.raises(PaperError, match="cannot detect the format, no JSON in the first 100 lines"):
        detect_format(path)
