"""Graceful stop: SIGTERM and SIGINT to a live `autodata evolve` (a real subprocess).

The first signal: no new work, the buffered rows flushed, a `stopped` event with `signal: ...`,
the lock released, the WAL checkpointed, no episode work dir left; exit 143 / 130 with one line;
`autodata resume` then finishes the run. A second signal exits at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evolve.store import StoreReader

ROOT = Path(__file__).resolve().parents[1]
SETS = ["seed=2", "evolve.iterations=3", "evolve.minibatch=1", "inner_loop.max_rounds=2",
        "run.validation_limit=2", "evolve.final_repeats=0"]
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "evolve.cli", *args]


def start(run_dir: Path) -> subprocess.Popen:
    return subprocess.Popen(cli("evolve", "--run-dir", str(run_dir),
                                *(a for s in SETS for a in ("--set", s))),
                            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_started(run_dir: Path, proc: subprocess.Popen, extra_s: float) -> None:
    """Until the run logged its start (lock held, DuckDB open), then `extra_s` more."""
    log = run_dir / "logs" / "run.log"
    deadline = time.monotonic() + 60
    while not (log.exists() and "started run" in log.read_text()):
        assert proc.poll() is None and time.monotonic() < deadline, "the run did not start"
        time.sleep(0.05)
    time.sleep(extra_s)


def autodata_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("autodata:")]


def last_event(run_dir: Path) -> tuple[str, str]:
    with StoreReader.open(run_dir) as reader:
        row = reader.query("SELECT status, detail FROM run_events ORDER BY seq DESC LIMIT 1")[0]
    return row["status"], row["detail"]


def stop_with(tmp_path: Path, signum: signal.Signals) -> Path:
    run_dir = tmp_path / "run"
    proc = start(run_dir)
    wait_started(run_dir, proc, 0.5)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err
    lines = autodata_lines(err)
    assert len(lines) == 1 and lines[0].startswith(f"autodata: stopped by {signum.name}: "), err
    assert f"autodata resume {run_dir}" in lines[0] and "Traceback" not in err
    assert last_event(run_dir) == ("stopped", f"signal: {signum.name}")
    assert not (run_dir / "run.lock").exists()
    assert not (run_dir / "autodata.duckdb.wal").exists()
    assert not (run_dir / "work").exists() or not any((run_dir / "work").iterdir())
    return run_dir


def test_sigterm_stops_the_run_gracefully_with_exit_143(tmp_path):
    stop_with(tmp_path, signal.SIGTERM)


@pytest.mark.slow
def test_sigint_stops_the_run_gracefully_and_resume_finishes_it(tmp_path):
    run_dir = stop_with(tmp_path, signal.SIGINT)
    runs = subprocess.run(cli("runs", "--results", str(tmp_path)), cwd=ROOT, env=ENV,
                          capture_output=True, text=True)
    assert "interrupted" in runs.stdout
    done = subprocess.run(cli("resume", str(run_dir)), cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert last_event(run_dir) == ("finished", "")
    with StoreReader.open(run_dir) as reader:
        assert reader.query("SELECT count(*) AS n FROM iterations")[0]["n"] == 3


@pytest.mark.slow
def test_a_second_signal_exits_at_once_and_the_run_stays_resumable(tmp_path):
    run_dir = tmp_path / "run"
    proc = start(run_dir)
    wait_started(run_dir, proc, 0.5)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143
    assert "SIGTERM again: exiting now" in err or "stopped by SIGTERM" in err
    assert time.monotonic() - t0 < 10
    stale = subprocess.run(cli("resume", str(run_dir), "--json"), cwd=ROOT, env=ENV,
                           capture_output=True, text=True, timeout=300)
    assert stale.returncode == 0, stale.stderr
    assert last_event(run_dir) == ("finished", "")
