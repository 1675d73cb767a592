"""Bad input: each kind is a one-line PaperError naming file:line, or with skip_bad is counted and skipped."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from inner_loop.errors import UserError
from inner_loop.papers import LoadReport, PaperError, default_corpus_path, iter_papers, load_papers

FIXTURES = Path(__file__).parent / "fixtures" / "papers"


@pytest.fixture(scope="module")
def records() -> list[dict]:
    """The first three real records of the bundled corpus."""
    with gzip.open(default_corpus_path(), "rt", encoding="utf-8") as handle:
        return [json.loads(next(handle)) for _ in range(3)]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def dumps(record: dict, **changes) -> str:
    return json.dumps({**record, **changes})


def without(record: dict, key: str) -> str:
    return json.dumps({k: v for k, v in record.items() if k != key})


def bad_line(records: list[dict], kind: str) -> str:
    if kind == "malformed_json":
        return dumps(records[1])[:200]
    if kind == "missing_field":
        return without(records[1], "title")
    if kind == "invalid_field":
        return dumps(records[1], year="next year")
    if kind == "empty_text":
        return dumps(records[1], sections=[{"heading": "Intro", "text": " "}], n_chars=1)
    assert kind == "duplicate_id"
    return dumps(records[0])


KINDS = ["malformed_json", "missing_field", "invalid_field", "empty_text", "duplicate_id"]


@pytest.mark.parametrize("kind", KINDS)
def test_bad_line_is_an_error_naming_file_and_line(tmp_path, records, kind):
    path = write_lines(tmp_path / "p.jsonl", [dumps(records[0]), bad_line(records, kind), dumps(records[2])])
    with pytest.raises(PaperError) as caught:
        load_papers(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:2: {kind}: ")
    assert "\n" not in message
    assert isinstance(caught.value, UserError)


@pytest.mark.parametrize("kind", KINDS)
def test_skip_bad_skips_and_counts_the_bad_line(tmp_path, records, kind):
    path = write_lines(tmp_path / "p.jsonl", [dumps(records[0]), bad_line(records, kind), dumps(records[2])])
    papers, report = load_papers(path, skip_bad=True)
    assert [p.id for p in papers] == [records[0]["id"], records[2]["id"]]
    assert report.problems == {kind: 1} and report.n_papers == 2 and report.n_skipped == 1
    assert report.examples[0].where == f"{path}:2"


def test_duplicate_id_names_the_first_occurrence(tmp_path, records):
    path = write_lines(tmp_path / "p.jsonl", [dumps(records[0]), dumps(records[1]), dumps(records[0])])
    with pytest.raises(PaperError, match=rf"{path}:3: duplicate_id: paper {records[0]['id']} already at {path}:1"):
        load_papers(path)


def test_skip_bad_counts_each_kind_and_keeps_first_examples(tmp_path, records):
    lines = [dumps(records[0])] + [bad_line(records, k) for k in KINDS] + ["[1, 2]", "{oops"]
    path = write_lines(tmp_path / "p.jsonl", lines)
    report = LoadReport()
    papers = list(iter_papers(path, skip_bad=True, report=report))
    assert len(papers) == 1
    assert report.problems == {"malformed_json": 3, "missing_field": 1, "invalid_field": 1,
                               "empty_text": 1, "duplicate_id": 1}
    assert [p.where for p in report.examples] == [f"{path}:{n}" for n in range(2, 7)]


def test_n_chars_that_disagrees_with_sections_is_invalid(tmp_path, records):
    path = write_lines(tmp_path / "p.jsonl", [dumps(records[0], n_chars=5)])
    with pytest.raises(PaperError, match=r":1: invalid_field: n_chars is 5 but the sections hold"):
        load_papers(path)


def test_unknown_field_is_invalid(tmp_path, records):
    path = write_lines(tmp_path / "p.jsonl", [dumps(records[0], authors=["A"])])
    with pytest.raises(PaperError, match=r":1: invalid_field: unknown field 'authors'"):
        load_papers(path)


def test_blank_lines_are_not_records(tmp_path, records):
    path = write_lines(tmp_path / "p.jsonl", ["", dumps(records[0]), "   ", dumps(records[1]), ""])
    papers, report = load_papers(path)
    assert len(papers) == 2 and report.n_skipped == 0


def test_error_is_raised_only_when_the_bad_line_is_reached(tmp_path, records):
    path = write_lines(tmp_path / "p.jsonl", [dumps(records[0]), "{broken"])
    stream = iter_papers(path)
    assert next(stream).id == records[0]["id"]  # streaming: line 1 is yielded before line 2 is read
    with pytest.raises(PaperError, match=":2: malformed_json"):
        next(stream)


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(PaperError, match="no such file"):
        load_papers(tmp_path / "absent.jsonl")


def test_truncated_gzip_is_an_error(tmp_path):
    data = default_corpus_path().read_bytes()[:50_000]
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data)
    with pytest.raises(PaperError, match="broken gzip stream"):
        load_papers(path, "normalised")


def test_non_utf8_is_an_error_with_line(tmp_path, records):
    path = tmp_path / "p.jsonl"
    path.write_bytes(dumps(records[0]).encode() + b"\n" + b'{"id": "\xff\xfe"}\n')
    with pytest.raises(PaperError, match=rf"{path}:2: not UTF-8"):
        load_papers(path)


def s2orc_pair(tmp_path: Path, pdf_lines: list[str], meta_lines: list[str]) -> Path:
    write_lines(tmp_path / "x_metadata.jsonl", meta_lines)
    return write_lines(tmp_path / "x.jsonl", pdf_lines)


def test_s2orc_paper_without_metadata_row(tmp_path):
    pdf = (FIXTURES / "s2orc_sample.jsonl").read_text().splitlines()
    meta = (FIXTURES / "s2orc_sample_metadata.jsonl").read_text().splitlines()
    path = s2orc_pair(tmp_path, pdf, meta[1:])
    with pytest.raises(PaperError, match=rf"{path}:1: missing_metadata: paper_id arxiv:2212.11808 has no row"):
        load_papers(path)
    papers, report = load_papers(path, skip_bad=True)
    assert len(papers) == 2 and report.problems == {"missing_metadata": 1}


def test_s2orc_duplicate_metadata_row_names_metadata_line(tmp_path):
    pdf = (FIXTURES / "s2orc_sample.jsonl").read_text().splitlines()
    meta = (FIXTURES / "s2orc_sample_metadata.jsonl").read_text().splitlines()
    path = s2orc_pair(tmp_path, pdf, meta + meta[:1])
    with pytest.raises(PaperError, match=rf"x_metadata.jsonl:4: duplicate_id: paper_id arxiv:2212.11808 already at"):
        load_papers(path)


def test_s2orc_paragraph_without_text_is_invalid(tmp_path):
    pdf = {"paper_id": "x:1", "abstract": [], "body_text": [{"section": "Intro"}]}
    meta = {"paper_id": "x:1", "title": "T"}
    path = s2orc_pair(tmp_path, [json.dumps(pdf)], [json.dumps(meta)])
    with pytest.raises(PaperError, match=r"x.jsonl:1: invalid_field: field 'body_text\[0\]' needs a string"):
        load_papers(path)


def test_textdir_empty_file_and_duplicate_stem(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nBody.\n")
    (folder / "a.txt").write_text("A again\nBody.\n")
    (folder / "b.md").write_text("\n\n")
    (folder / "c.md").write_text("# Only a title\n")
    papers, report = load_papers(folder, skip_bad=True)
    assert [p.id for p in papers] == ["a"]
    assert report.problems == {"duplicate_id": 1, "empty_text": 2}
    with pytest.raises(PaperError, match=rf"{folder / 'a.txt'}:1: duplicate_id"):
        load_papers(folder)
