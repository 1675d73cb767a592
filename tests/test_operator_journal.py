"""No call row lost on SIGKILL: the call journal (evolve/store/journal.py) on real files.

A CallBuffer with a journal has each record on disk before the call returns; a process that
dies with rows still buffered (simulated here by abandoning the buffer, never flushing it) leaves
them in the journal, and replay writes exactly what DuckDB lacks, once, across repeated replays."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

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
