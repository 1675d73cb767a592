"""No call row lost on SIGKILL: the call journal (evolve/store/journal.py) on real files.

A CallBuffer with a journal has each record on disk before the call returns; a process that
dies with rows still buffered (simulated here by abandoning the buffer, never flushing it) leaves
them in the journal, and replay writes exactly what DuckDB lacks, once, across repeated replays."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from evolve.store import CallBuffer, Store
from evolve.store.journal import JOURNAL_DIR, CallJournal, read_segment, replay


def call(i: int, **over) -> dict:
    return {"call_id": uuid.uuid4().hex, "role": "judge", "model": "sim-judge", "endpoint": "sim",
            "tag": f"it0/seed/validation/p{i}/r0", "sample_index": i, "seed": i,
            "messages": [{"role": "user", "content": f"question {i}"}],
            "response": None, "started_at": "2026-01-01T00:00:00+00:00", "duration_ms": 1.0,
            "attempts": 1, "error_kinds": [], "cost_usd": 0.001, "cached": False,
            "simulated": True, "error": None, **over}


def rows(store: Store) -> int:
    return store.query("SELECT count(*) AS n FROM llm_calls")[0]["n"]


def opened(run_dir: Path) -> Store:
    store = Store.open(run_dir, create=True)
    store.record_run("run-1", "{}", "digest", True)
    return store


def test_buffered_rows_of_a_killed_process_are_replayed_once(tmp_path):
    store = opened(tmp_path)
    buffer = CallBuffer(store, max_rows=8, max_age_s=3600, journal=CallJournal(tmp_path))
    for i in range(13):  # one batch of 8 reaches DuckDB; 5 stay buffered
        buffer(call(i))
    assert rows(store) == 8
    segments = list((tmp_path / JOURNAL_DIR).glob("*.jsonl"))
    assert len(segments) == 1 and len(read_segment(segments[0])[0]) == 5  # the flushed one is gone
    del buffer  # the process dies: nothing flushed, nothing closed
    store.close()
    store = opened(tmp_path)
    assert replay(store, tmp_path) == (5, 0)
    assert rows(store) == 13 and not list((tmp_path / JOURNAL_DIR).glob("*.jsonl"))
    assert replay(store, tmp_path) == (0, 0) and rows(store) == 13
    store.close()


def test_a_kill_between_commit_and_segment_delete_replays_nothing_twice(tmp_path):
    store = opened(tmp_path)
    journal = CallJournal(tmp_path)
    records = [call(i) for i in range(4)]
    for r in records:
        journal.append(r)
    store.record_calls(records)  # DuckDB committed, the segment not yet deleted
    assert replay(store, tmp_path) == (0, 0) and rows(store) == 4
    store.close()


def test_a_torn_last_line_is_skipped_and_counted(tmp_path):
    store = opened(tmp_path)
    journal = CallJournal(tmp_path)
    journal.append(call(1))
    path = journal.close()
    with path.open("a") as fh:
        fh.write(json.dumps(call(2))[:40])  # a write cut short by a power loss
    assert replay(store, tmp_path) == (1, 1) and rows(store) == 1
    store.close()


def test_a_row_the_store_refuses_does_not_block_the_others(tmp_path):
    store = opened(tmp_path)
    journal = CallJournal(tmp_path)
    journal.append(call(1))
    journal.append({**call(2), "unexpected": "field"})
    journal.append(call(3))
    journal.close()
    assert replay(store, tmp_path) == (2, 1) and rows(store) == 2
    store.close()


def test_close_leaves_no_segment_behind(tmp_path):
    store = opened(tmp_path)
    buffer = CallBuffer(store, journal=CallJournal(tmp_path))
    for i in range(3):
        buffer(call(i))
    buffer.close()
    assert rows(store) == 3 and not list((tmp_path / JOURNAL_DIR).iterdir())
    store.close()


@pytest.mark.slow
def test_sigkills_of_a_live_run_lose_no_call_row(tmp_path):
    """A real `autodata evolve` over HTTP, SIGKILLed 4 times with rows in its buffer, resumed to
    the end: every request the endpoint answered is a recorded attempt, except those in flight
    at a kill (never returned to their episode), and the journal replayed the buffered rows."""
    import re
    import signal
    import subprocess
    import sys
    import time

    from inner_loop.roles import ROLES
    from inner_loop.sim.server import SimServer
    from evolve.store import StoreReader

    root = Path(__file__).resolve().parents[1]
    run_dir = tmp_path / "run"
    log = run_dir / "logs" / "run.log"

    def starts() -> int:
        text = log.read_text() if log.exists() else ""
        return text.count("started run ") + text.count("resumed run ")

    with SimServer() as server:
        sets = ["seed=2", "evolve.iterations=4", "evolve.minibatch=1", "inner_loop.max_rounds=2",
                "run.validation_limit=2", "evolve.final_repeats=0"]
        for role in ROLES:
            sets += [f"roles.{role}.backend=openai", f"roles.{role}.base_url={server.base_url}",
                     f"roles.{role}.model=sim-{role}", f"roles.{role}.max_concurrency=4"]
        cmd = [sys.executable, "-m", "evolve.cli", "evolve", "--run-dir", str(run_dir),
               *(a for s in sets for a in ("--set", s))]
        kills = 0
        for i in range(4):
            before = starts()
            proc = subprocess.Popen(cmd if i == 0 else [sys.executable, "-m", "evolve.cli",
                                                        "resume", str(run_dir)],
                                    cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while proc.poll() is None and not (starts() > before and any(
                    p.stat().st_size > 0 for p in (run_dir / "logs" / "calls").glob("*.jsonl"))):
                time.sleep(0.02)  # until the journal holds rows DuckDB does not have yet
            proc.kill()
            kills += proc.wait() == -signal.SIGKILL
        done = subprocess.run([sys.executable, "-m", "evolve.cli", "resume", str(run_dir)],
                              cwd=root, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        requests = server.requests
    with StoreReader.open(run_dir) as reader:
        attempts = reader.query("SELECT sum(attempts) AS n FROM llm_calls WHERE NOT cached")[0]["n"]
    replayed = sum(int(m) for m in re.findall(r"journal: (\d+) call rows replayed", log.read_text()))
    assert kills == 4 and replayed > 0
    assert 0 <= requests - attempts <= 4 * kills  # at most the endpoint cap in flight per kill
