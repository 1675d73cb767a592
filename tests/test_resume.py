"""Resume: the run lock, and `autodata resume` after SIGKILL at several moments.

The kill test runs `autodata evolve` in a subprocess, kills it with SIGKILL at different moments
(and each resume after it), resumes to the end, and compares the result with an uninterrupted run
of the same seed: same attempts, same evaluations, same accepted commits; git and DuckDB agree.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from inner_loop.config import load_config
from evolve.cli import main
from evolve.repo import HarnessRepo
from evolve.context import make_run_config
from evolve.lock import RunHeld, RunLock
from evolve.run import prepare_run_dir
from evolve.store import StoreReader

from test_loop import RUN_SETS, SETTINGS, attempt_facts, rows

ROOT = Path(__file__).resolve().parents[1]


def live_process() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def write_lock(run_dir: Path, pid: int) -> None:
    start = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19] \
        if Path(f"/proc/{pid}/stat").exists() else None
    (run_dir / "run.lock").write_text(json.dumps({"pid": pid, "start": start}))


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    path = tmp_path / "run"
    config = load_config(None, RUN_SETS)
    prepare_run_dir(path, make_run_config(config, SETTINGS, path.name))
    return path


def test_lock_held_by_a_live_process_refuses(run_folder: Path):
    holder = live_process()
    try:
        write_lock(run_folder, holder.pid)
        with pytest.raises(RunHeld, match=f"pid {holder.pid}"):
            RunLock(run_folder).acquire()
    finally:
        holder.kill()
        holder.wait()


def test_resume_cli_refuses_a_held_run_with_exit_1(run_folder: Path, capsys):
    holder = live_process()
    try:
        write_lock(run_folder, holder.pid)
        assert main(["resume", str(run_folder)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("autodata: error: run ") and "held by another process" in err
        assert not (run_folder / "autodata.duckdb").exists()
    finally:
        holder.kill()
        holder.wait()


def test_stale_lock_of_a_dead_process_is_taken_over(run_folder: Path):
    dead = live_process()
    dead.kill()
    dead.wait()
    write_lock(run_folder, dead.pid)
    lock = RunLock(run_folder)
    lock.acquire()
    assert json.loads((run_folder / "run.lock").read_text())["pid"] == os.getpid()
    lock.release()
    assert not (run_folder / "run.lock").exists()


def test_lock_of_a_reused_pid_is_stale(run_folder: Path):
    holder = live_process()
    try:
        (run_folder / "run.lock").write_text(json.dumps({"pid": holder.pid, "start": "1"}))
        with RunLock(run_folder):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_resume_of_a_folder_without_config_is_a_user_error(tmp_path: Path, capsys):
    assert main(["resume", str(tmp_path)]) == 1
    assert "not a run folder" in capsys.readouterr().err


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "evolve.cli", *args]


# Each process draws its own PYTHONHASHSEED: determinism must not depend on string hashing.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}


def _run_until(cmd: list[str], kill_after_s: float | None) -> int:
    proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        return proc.wait(timeout=kill_after_s)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        return proc.wait()


@pytest.mark.slow
def test_resume_after_sigkill_at_several_moments_reaches_the_same_lineage(tmp_path: Path):
    sets = [a for s in RUN_SETS + ["run.validation_limit=3", "evolve.iterations=8"]
            for a in ("--set", s)]  # ~13 s uninterrupted: four kills land before the end
    reference = tmp_path / "reference"
    assert _run_until(_cli("evolve", "--run-dir", str(reference), *sets), None) == 0
    path = tmp_path / "killed"
    start = _cli("evolve", "--run-dir", str(path), *sets)
    kills = 0
    for i, delay in enumerate((2.5, 3.0, 3.0, 3.5)):
        rc = _run_until(start if i == 0 else _cli("resume", str(path)), delay)
        kills += rc == -signal.SIGKILL
    assert kills >= 2, "the run finished before it could be killed twice"
    assert _run_until(_cli("resume", str(path), "--json"), None) == 0

    assert attempt_facts(path) == attempt_facts(reference)
    repo = HarnessRepo.open(path)
    accepted = {r["candidate_id"]: r["commit_sha"] for r in rows(
        path, "SELECT candidate_id, commit_sha FROM candidate_status WHERE status = 'accepted'")}
    assert repo.candidate_refs() == accepted
    for table, key in (("evaluations", "candidate_id, paper_id, purpose, repeat"),
                       ("iterations", "iteration"), ("llm_calls", "call_id"),
                       ("candidates", "candidate_id")):
        dup = rows(path, f"SELECT {key}, count(*) AS n FROM {table} GROUP BY ALL HAVING n > 1")
        assert dup == [], table
    n_eval = rows(path, "SELECT count(*) AS n FROM evaluations")[0]["n"]
    assert rows(path, "SELECT count(*) AS n FROM episodes")[0]["n"] == n_eval
    with StoreReader.open(path) as reader:
        assert reader.run_info()["status"] == "finished"
    assert not (path / "run.lock").exists()
    assert not any((path / "scratch").iterdir())


def test_a_stale_candidate_export_is_removed_on_resume(tmp_path: Path):
    """A kill between recording an iteration and dropping its export left the copy forever."""
    from evolve.run import resume_run, start_run

    path = tmp_path / "run"
    start_run(load_config(None, ["evolve.iterations=0", "evolve.final_repeats=0"]), SETTINGS.model_copy(
        update={"validation_limit": 1}), path, show_progress=False)
    stale = path / "candidates" / "c0001-abcdef"
    stale.mkdir(parents=True)
    (stale / "agent.py").write_text("# a leftover export\n")
    resume_run(path, show_progress=False)
    assert not (path / "candidates").exists()


def test_resume_with_an_unset_key_variable_stops_before_any_work(tmp_path: Path, capsys,
                                                                   monkeypatch):
    monkeypatch.delenv("AUTODATA_RESUME_NO_KEY", raising=False)
    path = tmp_path / "run"
    config = load_config(None, RUN_SETS + [
        "roles.judge.backend=openai", "roles.judge.base_url=http://127.0.0.1:9/v1",
        "roles.judge.model=m", "roles.judge.api_key_env=AUTODATA_RESUME_NO_KEY"])
    prepare_run_dir(path, make_run_config(config, SETTINGS, path.name))
    assert main(["resume", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "AUTODATA_RESUME_NO_KEY" in err[0]
    assert not (path / "run.lock").exists() and not (path / "harness").exists()
