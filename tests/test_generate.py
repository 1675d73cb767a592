"""`autodata generate`: output files, resume, CoT, invalid harness (sim backend, real CLI)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evolve.cli import main
from inner_loop.compare import run_stats
from inner_loop.episode import EpisodeRecord
from inner_loop.generate import cumulative_usage, default_harness_dir, read_episodes

DILIGENT = Path(__file__).parent / "fixtures" / "harnesses" / "diligent"


def _generate(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    rc = main(["generate", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_default_harness_is_the_seed_harness() -> None:
    assert default_harness_dir() == Path(__file__).resolve().parents[1] / "harness"
    assert (default_harness_dir() / "harness.toml").is_file()


def test_generate_writes_examples_episodes_and_summary(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    rc, stdout, _ = _generate(capsys, "--limit", "3", "--harness", str(DILIGENT),
                              "-o", str(out), "--json")
    assert rc == 0
    summary = json.loads(stdout)
    assert summary == json.loads((out / "summary.json").read_text())
    episodes = [EpisodeRecord.model_validate(e) for e in _lines(out / "episodes.jsonl")]
    examples = _lines(out / "examples.jsonl")
    assert summary["papers"] == len(episodes) == 3
    assert summary["accepted"] == len(examples) == sum(e.accepted for e in episodes) >= 1
    assert summary["simulated"] is True and summary["method"] == "agentic"
    assert summary["preset"] == "deployed" and summary["thresholds"]["min_gap"] == 0.2
    assert summary["usage"]["total"]["calls"] > 0
    assert summary["config"]["roles"]["judge"]["api_key_env"] is None
    row = examples[0]
    assert {"paper_id", "harness_version", "method", "example", "weak", "strong",
            "rounds_used", "preset", "simulated"} <= set(row)
    stats = run_stats(out)  # `autodata compare` reads the same directory
    assert stats.accepted == summary["accepted"] and stats.papers == 3


def test_generate_resumes_without_rerunning_papers(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    assert _generate(capsys, "--limit", "1", "-o", str(out), "--json")[0] == 0
    first = (out / "episodes.jsonl").read_text()
    calls_first = json.loads((out / "summary.json").read_text())["usage"]["total"]["calls"]
    rc, stdout, _ = _generate(capsys, "--limit", "2", "-o", str(out), "--json")
    summary = json.loads(stdout)
    assert rc == 0 and summary["papers"] == 2 and summary["resumed_episodes"] == 1
    assert (out / "episodes.jsonl").read_text().startswith(first)
    assert len(_lines(out / "episodes.jsonl")) == 2
    assert summary["usage"]["total"]["calls"] > calls_first  # cumulative over both invocations
    rc, stdout, _ = _generate(capsys, "--limit", "2", "-o", str(out), "--json")
    assert json.loads(stdout)["usage"]["total"]["calls"] == summary["usage"]["total"]["calls"]


def test_torn_last_line_is_cut_off(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    assert _generate(capsys, "--limit", "1", "-o", str(out), "--json")[0] == 0
    path = out / "episodes.jsonl"
    good = path.read_text()
    path.write_text(good + good[: len(good) // 2])  # a crash in the middle of a write
    assert len(read_episodes(path)) == 1
    assert path.read_text() == good


def test_corrupt_middle_line_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "episodes.jsonl").write_text("{not json\n{}\n")
    rc, _, err = _generate(capsys, "--limit", "1", "-o", str(out))
    assert rc == 1 and "episodes.jsonl:1: not an episode record" in err


def test_cot_method_with_human_summary(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "cot"
    rc, stdout, err = _generate(capsys, "--limit", "2", "--method", "cot", "--preset",
                                "paper_prose", "-o", str(out))
    assert rc == 0
    assert stdout.startswith("SIMULATED backend — cot on 2 papers")
    assert "generate" in err  # the progress bar is on stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "cot" and summary["preset"] == "paper_prose"
    assert all(e["max_rounds"] == 1 for e in _lines(out / "episodes.jsonl"))


def test_max_rounds_flag_sets_the_round_budget(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    assert _generate(capsys, "--limit", "2", "--max-rounds", "2", "-o", str(out), "--json")[0] == 0
    episodes = _lines(out / "episodes.jsonl")
    assert all(e["max_rounds"] == 2 and len(e["rounds"]) <= 2 for e in episodes)


def test_invalid_harness_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    harness = tmp_path / "h"
    shutil.copytree(DILIGENT, harness)
    (harness / "agent.py").write_text("def run_episode(ctx)\n")
    rc, _, err = _generate(capsys, "--limit", "1", "--harness", str(harness),
                           "-o", str(tmp_path / "out"))
    assert rc == 1
    assert err.startswith("autodata: error: harness ") and "does not compile" in err
    assert not (tmp_path / "out").exists()


def test_papers_file_without_split_uses_every_paper(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "papers.jsonl"
    paper = {"id": "local:1", "title": "A Local Paper", "abstract": "We test loading.",
             "sections": [{"heading": "Method", "text": "We propose a method. It works."}]}
    corpus.write_text(json.dumps(paper) + "\n")
    rc, stdout, _ = _generate(capsys, "--papers", str(corpus), "-o", str(tmp_path / "o"),
                              "--json")
    assert rc == 0 and json.loads(stdout)["papers"] == 1
    rc, _, err = _generate(capsys, "--papers", str(corpus), "--ids", "local:2",
                           "-o", str(tmp_path / "o2"))
    assert rc == 1 and "ids not in" in err


def test_cumulative_usage_adds_field_by_field() -> None:
    now = {"roles": {"judge": {"calls": 2, "errors": {"429": 1}, "cost_usd": 0.5}},
           "total": {"calls": 2, "errors": {"429": 1}, "cost_usd": 0.5}, "elapsed_s": 1.0}
    before = {"roles": {"judge": {"calls": 3, "errors": {"5xx": 2}, "cost_usd": 1.0},
                        "challenger": {"calls": 1}},
              "total": {"calls": 4, "errors": {"5xx": 2}, "cost_usd": 1.0}, "elapsed_s": 2.0}
    merged = cumulative_usage(now, before)
    assert merged["roles"]["judge"] == {"calls": 5, "errors": {"5xx": 2, "429": 1},
                                        "cost_usd": 1.5}
    assert merged["roles"]["challenger"] == {"calls": 1}
    assert merged["total"]["calls"] == 6 and merged["elapsed_s"] == 3.0
    assert cumulative_usage(now, None) is now
