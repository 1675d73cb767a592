"""The writer's in-memory index of stored keys (evolve/store/keys.py): a write on a store with
many rows reads nothing from it, and memory never claims a key the file does not hold (a
rolled-back transaction, a call_id hash shared by another call)."""

import json

import duckdb
import pytest

from evolve.store import Store
from evolve.store import batch
from evolve.store.db import DB_NAME
from evolve.store.keys import MERGE_MIN, SortedKeys, call_hash
from test_store_texts import PAPER, call, prompt, store  # noqa: F401  (store is a fixture)


class Logged:
    """A DuckDB connection that keeps the SQL of every statement it runs."""

    def __init__(self, con):
        self.con, self.sql = con, []

    def execute(self, sql, *args):
        self.sql.append(" ".join(sql.split()))
        return self.con.execute(sql, *args)

    def close(self):
        self.con.close()


def paper_episode(i):
    return {"paper_id": f"p{i}", "status": "exhausted", "accepted": False, "rounds": [],
            "duration_ms": 1.0, "transcript": [{"op": "prompt", "text": prompt(i) + f"\nvariant {i}\n" + PAPER}]}


def fill(tmp_path, n):
    store = Store.open(tmp_path, create=True)
    store.record_run("run-1", "{}", "tree0", simulated=True)
    for i in range(n):
        store.record_calls([call(f"c{i}-{j}", prompt(i * 10 + j) + f"\nvariant {i}") for j in range(4)])
        store.record_episode(paper_episode(i), "seed", "validation", 0, 0)
    store.close()


def test_a_write_on_a_store_with_many_rows_reads_nothing_from_it(tmp_path):
    fill(tmp_path, 40)
    logged = Logged(duckdb.connect(str(tmp_path / DB_NAME)))
    store = Store(logged, tmp_path / DB_NAME, 1e9)  # the keys are loaded here, once
    assert store.query("SELECT count(*) AS n FROM texts")[0]["n"] > 100
    store.record_calls([call("first", "q")])  # reads the run id, once per Store
    logged.sql.clear()
    store.record_episode(paper_episode(99), "seed", "validation", 0, 0)
    store.record_calls([call(f"new{j}", prompt(990 + j)) for j in range(4)])
    reads = [s for s in logged.sql if not s.startswith(("INSERT", "BEGIN", "COMMIT"))]
    assert reads == []  # no lookup query: 2 transactions, only their INSERTs
    assert store.record_episode(paper_episode(99), "seed", "validation", 0, 0)  # idempotent
    logged.sql.clear()
    assert store.record_calls([call("new0", prompt(990))]) == 0  # a replay: read, not written
    assert [s for s in logged.sql if s.startswith("SELECT")] == [
        "SELECT call_id FROM llm_calls WHERE call_id IN (SELECT unnest(?::VARCHAR[]))"]
    store.close()


def test_what_a_failed_transaction_staged_is_not_believed_stored(store):
    text = prompt(7) + "\nonly once"
    with pytest.raises(RuntimeError):
        with store._write() as con:
            batch.put_blobs(con, store._keys, [text])
            raise RuntimeError("the transaction fails after writing the blob")
    sha = store.put_blob(text)  # memory forgot the rolled-back blob and its segments
    assert store.get_blob(sha) == text
    store.record_calls([call("x1", text)])
    assert json.loads(store.get_blob(store.query("SELECT request_blob FROM llm_calls")[0]["request_blob"]))[1][
        "content"] == text


def test_a_call_id_whose_hash_is_known_is_checked_in_the_file(store):
    store._keys.calls.add({call_hash("shares-a-hash"): 0})  # as if another call_id had its hash
    assert store.record_calls([call("shares-a-hash", "q")]) == 1
    assert store.query("SELECT count(*) AS n FROM llm_calls")[0]["n"] == 1


def test_reopened_store_knows_what_the_file_holds(tmp_path):
    fill(tmp_path, 3)
    store = Store.open(tmp_path)
    before = store.query("SELECT (SELECT count(*) FROM texts) AS t, (SELECT count(*) FROM stored_blobs) AS b")
    assert store.record_calls([call(f"c{i}-{j}", prompt(i * 10 + j) + f"\nvariant {i}")
                               for i in range(3) for j in range(4)]) == 0
    store.record_episode(paper_episode(1), "seed", "validation", 0, 0)
    assert store.query("SELECT (SELECT count(*) FROM texts) AS t, (SELECT count(*) FROM stored_blobs) AS b") == before
    store.close()


@pytest.mark.parametrize("dtype, make", [("int64", lambda i: (i * 7919) % 100003 - 50000),
                                         ("S32", lambda i: i.to_bytes(4, "big") * 8)])
def test_sorted_keys_find_every_key_across_merges(dtype, make):
    keys = SortedKeys(dtype, [make(i) for i in range(100)], None if dtype == "S32" else list(range(100)))
    for start in range(100, 3 * MERGE_MIN, 1000):  # several merges into the sorted array
        keys.add({make(i): i for i in range(start, start + 1000)})
    wanted = [make(i) for i in range(0, 3 * MERGE_MIN + 200, 37)]
    found = keys.get(wanted)
    last = max(range(100, 3 * MERGE_MIN, 1000)) + 1000
    assert set(found) == {make(i) for i in range(0, 3 * MERGE_MIN + 200, 37) if i < last}
    if dtype == "int64":
        assert all(found[make(i)] == i for i in range(0, 3 * MERGE_MIN + 200, 37) if i < last)
    assert len(keys) == last
