"""`autodata papers` and `autodata split` through evolve.cli.main: exit codes, --json, errors."""

from __future__ import annotations

import json
from pathlib import Path

from evolve.cli import main
from inner_loop.papers import default_corpus_path, default_split_path

FIXTURES = Path(__file__).parent / "fixtures" / "papers"


def test_papers_json_is_parseable_and_counts_the_corpus(capsys):
    assert main(["papers", str(default_corpus_path()), "--json"]) == 0
    out, err = capsys.readouterr()
    stats = json.loads(out)
    assert stats["n_papers"] == 150 and stats["format"] == "normalised"
    assert stats["chars"]["total"] == 7326921 and stats["chars"]["min"] == 15038
    assert {k: v["n_papers"] for k, v in stats["by_prefix"].items()} == {"acl2023": 30, "arxiv": 14, "openreview": 106}
    assert stats["by_subfield"]["nlp"]["n_papers"] == 45
    assert stats["problems"] == {} and "reading" in err


def test_papers_text_report(capsys):
    assert main(["papers", str(FIXTURES / "s2orc_sample.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "papers     3" in out and "format     s2orc" in out and "openreview" in out


def test_papers_bad_input_exits_1_with_one_line(tmp_path, capsys):
    path = tmp_path / "p.jsonl"
    path.write_text((FIXTURES / "s2_datasets.jsonl").read_text().splitlines()[0] + '\n{"corpusid": 1\n')
    assert main(["papers", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"autodata: error: {path}:2: malformed_json: not JSON (Expecting ',' delimiter)"


def test_papers_skip_bad_reports_problems(tmp_path, capsys):
    good = (FIXTURES / "s2_datasets.jsonl").read_text().splitlines()
    path = tmp_path / "s2.jsonl"
    path.write_text("\n".join([good[0], "{oops", good[1], good[0]]) + "\n")
    assert main(["papers", str(path), "--format", "s2-datasets", "--skip-bad", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["n_papers"] == 2 and stats["n_skipped"] == 2
    assert stats["problems"] == {"duplicate_id": 1, "malformed_json": 1}
    assert stats["examples"][0].startswith(f"{path}:2: malformed_json")


def test_split_writes_the_bundled_split(tmp_path, capsys):
    out_file = tmp_path / "split.json"
    rc = main(["split", str(default_corpus_path()), "--train", "50", "--validation", "25",
               "--seed", "20240601", "-o", str(out_file), "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["train"] == 50 and summary["strata"]["nlp"] == {"train": 15, "validation": 8}
    written, bundled = json.loads(out_file.read_text()), json.loads(default_split_path().read_text())
    assert {k: written[k] for k in ("train", "validation", "unassigned_pool", "strata")} == {
        k: bundled[k] for k in ("train", "validation", "unassigned_pool", "strata")}


def test_split_refuses_to_overwrite(tmp_path, capsys):
    out_file = tmp_path / "split.json"
    out_file.write_text("keep me")
    assert main(["split", str(default_corpus_path()), "--seed", "1", "-o", str(out_file)]) == 1
    assert "exists; pass --force" in capsys.readouterr().err
    assert out_file.read_text() == "keep me"


def test_split_of_too_small_corpus_exits_1(tmp_path, capsys):
    assert main(["split", str(FIXTURES / "s2orc_sample.jsonl"), "--seed", "1", "-o", str(tmp_path / "s.json")]) == 1
    assert "the corpus has 3 papers" in capsys.readouterr().err
    assert not (tmp_path / "s.json").exists()
