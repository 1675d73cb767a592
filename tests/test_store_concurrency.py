"""Single writer, readers never refused: real processes on a real DuckDB file."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from evolve.store import SNAPSHOT_NAME, Store, StoreReader
from inner_loop.errors import UserError

ROOT = Path(__file__).resolve().parents[1]

WRITER = textwrap.dedent("""
    import sys, time
    from evolve.store import Store
    run_dir, n, pause_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    store = Store.open(run_dir, create=True, snapshot_interval_s=0.05)
    store.record_run("run-x", "{}", "tree", True)
    store.record_seed("a" * 40)
    print("ready", flush=True)
    for i in range(1, n + 1):
        store.record_iteration(i, f"c{i}", "seed", "rejected", f"idea {i}", 0.1, 0.0)
        time.sleep(pause_s)
    if sys.argv[4] == "close":
        store.close()
        print("closed", flush=True)
    else:
        print("done", flush=True)
        time.sleep(600)  # hold the database until killed
""")


def start_writer(run_dir, n, pause_s, end="close"):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(run_dir), str(n), str(pause_s), end],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def n_iterations(reader):
    return reader.query("SELECT count(*) AS n FROM iterations")[0]["n"]


def test_reader_in_the_writers_process_opens_the_snapshot(tmp_path):
    with Store.open(tmp_path, create=True, snapshot_interval_s=0.0) as store:
        store.record_run("r", "{}", "tree", True)
        store.publish_snapshot()
        with StoreReader.open(tmp_path) as reader:
            assert reader.source == "snapshot" and reader.run_info()["run_id"] == "r"


def test_reads_keep_working_while_another_process_writes(tmp_path):
    writer = start_writer(tmp_path, n=60, pause_s=0.02)
    seen, sources = [], set()
    while writer.poll() is None:
        with StoreReader.open(tmp_path, timeout_s=5) as reader:  # never refused
            sources.add(reader.source)
            seen.append(n_iterations(reader))
    assert writer.wait() == 0, writer.stderr.read()
    assert "snapshot" in sources
    assert seen == sorted(seen), "a reader saw rows disappear"
    assert len(seen) > 5 and seen[-1] > 0
    with StoreReader.open(tmp_path) as reader:
        assert reader.source == "live" and n_iterations(reader) == 60


def test_snapshot_catches_up_without_further_writes(tmp_path):
    writer = start_writer(tmp_path, n=5, pause_s=0.0, end="hold")
    try:
        assert writer.stdout.readline().strip() == "done"
        deadline = time.monotonic() + 5
        while True:
            with StoreReader.open(tmp_path) as reader:
                assert reader.source == "snapshot"
                if n_iterations(reader) == 5:
                    break
            assert time.monotonic() < deadline, "the last writes were never published"
            time.sleep(0.05)
    finally:
        writer.kill()
        writer.wait()


def test_rows_committed_before_sigkill_are_read_back(tmp_path):
    writer = start_writer(tmp_path, n=7, pause_s=0.0, end="hold")
    assert writer.stdout.readline().strip() == "done"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    with StoreReader.open(tmp_path) as reader:
        assert reader.source == "live" and n_iterations(reader) == 7
    with Store.open(tmp_path) as store:  # the writer can take over again
        assert n_iterations(store) == 7


def test_writer_waits_for_a_reader_of_the_live_file_then_gives_a_clear_error(tmp_path):
    Store.open(tmp_path, create=True).close()
    (tmp_path / SNAPSHOT_NAME).unlink()
    code = "import sys; from evolve.store import Store; Store.open(sys.argv[1], lock_timeout_s=0.5)"
    with StoreReader.open(tmp_path) as reader:
        assert reader.source == "live"
        started = time.monotonic()
        blocked = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT,
                                 capture_output=True, text=True)
        assert time.monotonic() - started >= 0.5
    assert blocked.returncode != 0 and "is in use by another process" in blocked.stderr
    ok = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr


def test_reader_of_a_folder_without_a_database_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not a run folder"):
        StoreReader.open(tmp_path)


def test_publishing_snapshots_never_drops_the_writers_lock(tmp_path):
    writer = start_writer(tmp_path, n=20, pause_s=0.01, end="hold")  # publishes many snapshots
    try:
        assert writer.stdout.readline().strip() == "done"
        time.sleep(0.2)
        with pytest.raises(UserError, match="in use by another process"):
            Store.open(tmp_path, lock_timeout_s=0.3)
    finally:
        writer.kill()
        writer.wait()


def test_threads_of_one_process_share_one_writer(tmp_path):
    import threading

    def episode(paper_id, accepted):
        return {"paper_id": paper_id, "status": "done", "accepted": accepted, "duration_ms": 1.0,
                "rounds": [{"index": 0, "outcome": "accepted" if accepted else "too_easy"}]}

    def call(call_id):
        return {"call_id": call_id, "role": "judge", "model": "sim-judge", "endpoint": "sim", "messages": [],
                "started_at": "2025-01-01T00:00:00+00:00", "duration_ms": 1.0, "attempts": 1}

    with Store.open(tmp_path, create=True, snapshot_interval_s=0.01) as store:
        store.record_run("r", "{}", "tree", True)
        store.record_seed("a" * 40)
        errors = []

        def work(t):
            try:
                for i in range(10):
                    store.record_episode(episode(f"p{t}-{i}", i % 2 == 0), "seed", "validation", 0, 1)
                    store.record_calls([call(f"k{t}-{i}-{j}") for j in range(3)], iteration=1)
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert errors == []
        assert store.candidate_scores() == {"seed": (0.5, 80)}
        assert store.query("SELECT count(*) AS n FROM llm_calls")[0]["n"] == 240
