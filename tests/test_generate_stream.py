"""`generate` at corpus scale: papers read lazily with a bounded window, resume from a stream,
a bad record mid-corpus, the torn-line repairs (sim backend, real CLI and files)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from evolve.cli import main
from inner_loop.config import load_config
from inner_loop.generate import iter_episodes, read_episodes, run_generate, summarise_run
from inner_loop.llm.client import LLMClient
from inner_loop.papers import Paper, default_corpus_path, iter_papers

SETS = ["inner_loop.max_rounds=1", "inner_loop.concurrency=2"]
NUMBERS = ("papers", "accepted", "mean_rounds", "weak_avg", "strong_avg", "gap",
           "failure_counts", "statuses", "confinement", "episode_usage")


def _corpus(n: int, pulled: list[str] | None = None) -> Iterator[Paper]:
    for paper in iter_papers(default_corpus_path()):
        if n == 0:
            return
        n -= 1
        if pulled is not None:
            pulled.append(paper.id)
        yield paper


def test_papers_are_pulled_no_further_than_the_window(tmp_path: Path) -> None:
    config = load_config(None, SETS)
    pulled: list[str] = []
    ahead: list[int] = []

    def progress(done: int, total: int | None, record: object) -> None:
        assert total is None  # a stream has no length
        ahead.append(len(pulled) - done)

    summary = run_generate(_corpus(6, pulled), tmp_path, config=config,
                           client=LLMClient(config), progress=progress)
    assert summary["papers"] == 6 and len(ahead) == 6
    assert max(ahead) <= 2  # never more than `concurrency` papers read and not finished
    assert ahead[-1] == 0


def test_a_stream_resumes_and_its_tally_is_the_summary_of_the_file(tmp_path: Path) -> None:
    config = load_config(None, SETS)
    run_generate(_corpus(3), tmp_path, config=config, client=LLMClient(config))
    first = (tmp_path / "episodes.jsonl").read_bytes()
    client = LLMClient(config)
    summary = run_generate(_corpus(5), tmp_path, config=config, client=client)
    assert summary["resumed_episodes"] == 3 and summary["papers"] == 5
    assert (tmp_path / "episodes.jsonl").read_bytes().startswith(first)
    records = read_episodes(tmp_path / "episodes.jsonl")
    assert len(records) == 5 and len({r.paper_id for r in records}) == 5  # none run twice
    whole = summarise_run(records, config=config, usage=summary["usage"], method="agentic",
                          harness_dir=Path(summary["harness_dir"]),
                          harness_version=summary["harness_version"], duration_s=0, resumed=0)
    assert {k: summary[k] for k in NUMBERS} == {k: whole[k] for k in NUMBERS}
    # a narrower stream: the summary covers only the papers it selects
    narrow = run_generate(_corpus(2), tmp_path, config=config, client=LLMClient(config))
    assert narrow["papers"] == 2 and narrow["resumed_episodes"] == 2


def test_a_repeated_id_in_the_stream_runs_once(tmp_path: Path) -> None:
    config = load_config(None, SETS)
    paper = next(_corpus(1))
    summary = run_generate(iter([paper, paper, paper]), tmp_path, config=config,
                           client=LLMClient(config))
    assert summary["papers"] == 1 and len(read_episodes(tmp_path / "episodes.jsonl")) == 1


def _write_corpus(path: Path, bad_at: int | None, n: int) -> None:
    lines = [json.dumps(p.model_dump(mode="json")) for p in _corpus(n)]
    if bad_at is not None:
        lines.insert(bad_at, "{this is not json")
    path.write_text("\n".join(lines) + "\n")


def test_a_bad_record_mid_corpus_keeps_what_ran_and_resumes_with_skip_bad(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    corpus, out = tmp_path / "corpus.jsonl", tmp_path / "out"
    _write_corpus(corpus, bad_at=3, n=5)
    base = ["generate", "--papers", str(corpus), "-o", str(out), "--max-rounds", "1",
            "--set", "inner_loop.concurrency=2", "--json"]
    assert main(base) == 1
    err = capsys.readouterr().err
    assert f"{corpus}:4: malformed_json" in err and len(err.strip().splitlines()) <= 3
    assert len(read_episodes(out / "episodes.jsonl")) == 3  # the papers before it, written
    assert json.loads((out / "summary.json").read_text())["papers"] == 3
    assert main([*base, "--skip-bad"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["papers"] == 5 and summary["resumed_episodes"] == 3
    assert main([*base, "--skip-bad", "--limit", "2"]) == 0  # a streamed corpus's first 2
    assert json.loads(capsys.readouterr().out)["papers"] == 2


def test_an_empty_corpus_is_no_papers_before_any_work(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("{not json\n")
    out = tmp_path / "out"
    assert main(["generate", "--papers", str(corpus), "--format", "normalised", "--skip-bad",
                 "-o", str(out)]) == 1
    assert "no papers selected" in capsys.readouterr().err and not out.exists()


def test_a_whole_last_record_without_its_newline_gets_it_back(tmp_path: Path) -> None:
    config = load_config(None, SETS)
    run_generate(_corpus(1), tmp_path, config=config, client=LLMClient(config))
    path = tmp_path / "episodes.jsonl"
    path.write_bytes(path.read_bytes().rstrip(b"\n"))  # a crash between record and newline
    assert len(list(iter_episodes(path))) == 1
    assert path.read_bytes().endswith(b"}\n")
    run_generate(_corpus(2), tmp_path, config=config, client=LLMClient(config))
    assert len(read_episodes(path)) == 2  # the next append started a line of its own
