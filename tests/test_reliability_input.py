"""Bad input and broken endpoints: exit 1, one line, nothing touched (docs/reliability.md §4).

Bad corpus lines, duplicate ids, invalid configs and the run lock are covered one by one in
test_papers_bad_input.py, test_config.py and test_resume.py; these are the run-level cases that
`scripts/chaos` found (each was a bug: a folder left behind, a rewritten database, a traceback,
a relative run folder that broke git)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest

from inner_loop.config import load_config
from evolve.cli import main
from evolve.context import RunSettings, make_run_config
from evolve.run import prepare_run_dir, start_run
from evolve.store import Store

SMALL = ["--set", "evolve.iterations=1", "--set", "evolve.minibatch=1", "--set",
         "inner_loop.max_rounds=1", "--set", "run.validation_limit=1",
         "--set", "evolve.final_repeats=0"]


def error_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("autodata: error:")]


def test_malformed_corpus_creates_no_run_folder(tmp_path: Path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "title": \n')
    run_dir = tmp_path / "run"
    assert main(["evolve", "--run-dir", str(run_dir), "--set", f"run.corpus_path={bad}"]) == 1
    err = capsys.readouterr().err
    assert len(error_lines(err)) == 1 and "Traceback" not in err
    assert not run_dir.exists()


def test_split_ids_missing_from_the_corpus_create_no_run_folder(tmp_path: Path, capsys):
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": ["nope:1"], "validation": ["nope:2"]}))
    run_dir = tmp_path / "run"
    assert main(["evolve", "--run-dir", str(run_dir), "--set", f"run.split_path={split}"]) == 1
    assert "not in the corpus" in error_lines(capsys.readouterr().err)[0]
    assert not run_dir.exists()


def test_resume_of_a_newer_schema_leaves_the_database_byte_identical(tmp_path: Path, capsys):
    run_dir = tmp_path / "run"
    prepare_run_dir(run_dir, make_run_config(load_config(None, []), RunSettings(), "run"))
    Store.open(run_dir, create=True).close()
    con = duckdb.connect(str(run_dir / "autodata.duckdb"))
    con.execute("INSERT INTO migrations VALUES (999, 'from_the_future', now())")
    con.close()
    db = run_dir / "autodata.duckdb"
    before = (hashlib.sha256(db.read_bytes()).hexdigest(), db.stat().st_mtime_ns)
    assert main(["resume", str(run_dir)]) == 1
    assert "version 999 (from_the_future) is newer" in error_lines(capsys.readouterr().err)[0]
    assert (hashlib.sha256(db.read_bytes()).hexdigest(), db.stat().st_mtime_ns) == before


def test_unreachable_endpoint_is_one_line_and_the_run_stays_resumable(tmp_path: Path, capsys):
    run_dir = tmp_path / "run"
    sets = ["retry.max_attempts=1"] + [
        f"roles.{role}.{k}" for role in ("orchestrator", "challenger", "verifier", "analyzer")
        for k in ("backend=openai", "base_url=http://127.0.0.1:9/v1", "model=m",
                  "timeout_s=2")]
    args = ["evolve", "--run-dir", str(run_dir), *SMALL]
    assert main(args + [a for s in sets for a in ("--set", s)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert error_lines(err)[0].endswith("(fix the endpoint or key, then `autodata resume` the run)")
    with Store.open(run_dir) as store:
        assert store.run_info()["status"] == "failed"
        # the harness did not fail: no episode of an unreachable endpoint was scored
        assert store.query("SELECT count(*) AS n FROM evaluations")[0]["n"] == 0


def test_a_relative_run_folder_works(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(None, ["evolve.iterations=1", "evolve.minibatch=1",
                                "inner_loop.max_rounds=1"])
    summary = start_run(config, RunSettings(validation_limit=1), Path("results/rel"),
                        show_progress=False)
    assert summary.status == "finished" and summary.iterations_done == 1
    assert not any((tmp_path / "results" / "rel" / "harness").glob("results"))


def _userns() -> bool:
    import shutil
    import subprocess
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-rm", "true"], capture_output=True).returncode == 0


def test_read_only_run_folder_is_one_line_and_untouched(tmp_path: Path):
    import subprocess
    import sys
    if not _userns():
        pytest.skip("needs unshare -rm (a read-only bind mount without root)")
    run_dir = tmp_path / "run"
    prepare_run_dir(run_dir, make_run_config(load_config(None, []), RunSettings(), "run"))
    before = sorted(p.name for p in run_dir.rglob("*"))
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", f'mount --bind -o ro "{run_dir}" '
                           f'"{run_dir}" && exec "$@"', "sh", sys.executable, "-m", "evolve.cli",
                           "resume", str(run_dir)], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 1
    assert error_lines(proc.stderr) == proc.stderr.strip().splitlines()
    assert "Read-only file system" in proc.stderr and "(the folder is read-only: " in proc.stderr
    assert sorted(p.name for p in run_dir.rglob("*")) == before


def test_a_judge_that_never_answers_in_json_is_named_as_such(tmp_path: Path, capsys):
    run_dir = tmp_path / "run"
    sets = ["evolve.iterations=0", "run.validation_limit=2",
            "roles.judge.model=sim-weak_solver"]  # the judge served by a model that writes prose
    assert main(["evolve", "--run-dir", str(run_dir), *(a for s in sets for a in ("--set", s))]) == 1
    line = error_lines(capsys.readouterr().err)[0]
    assert "no parseable reply" in line and line.count("infrastructure:") == 1
    assert line.endswith("(use a model that answers in the asked JSON format, then "
                         "`autodata resume` the run)")
