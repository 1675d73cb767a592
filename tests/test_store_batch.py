"""The writer's hot paths (evolve/store/batch.py) on real DuckDB: one lookup query, plain
inserts, the journal line made from the texts the store keeps. Attacks: a call row already
stored and one repeated in its batch, lone surrogates and missing keys in a journal line, an
episode row recorded without an evaluation, a text_id taken by a segment of another blob."""

import json
import uuid

from evolve.store import CallBuffer, Store
from evolve.store import texts
from evolve.store.batch import PreparedCall
from evolve.store.journal import CallJournal, read_segment, replay

PAPER = "\n".join(f"Paragraph {i}: " + " ".join(f"w{i}.{j}" for j in range(80)) for i in range(20))


def call(call_id=None, content="question", **over):
    return {"call_id": call_id or uuid.uuid4().hex, "role": "judge", "model": "sim-judge",
            "endpoint": "sim", "tag": "it0/seed/validation/p/r0", "sample_index": 0, "seed": 1,
            "messages": [{"role": "user", "content": content}],
            "response": {"content": "PASS", "usage": {"input_tokens": 5, "output_tokens": 1}},
            "started_at": "2026-01-01T00:00:00+00:00", "duration_ms": 1.0, "attempts": 1,
            "error_kinds": [], "cost_usd": 0.0, "cached": False, "simulated": True,
            "error": None, **over}


def opened(path):
    store = Store.open(path, create=True)
    store.record_run("run-1", "{}", "tree", True)
    return store


def table(store, name, order):
    rows = store.query(f"SELECT * FROM {name} ORDER BY {order}")
    return [{k: v for k, v in r.items() if not k.endswith("_at") or k == "started_at"} for r in rows]


def test_a_journal_line_parses_back_to_exactly_the_record():
    for record in (call(content="lone \ud800 surrogate, é, \u2028"), call(response=None),
                   call(error="failed at https://user:secret@host/v1"), {"call_id": "bare"},
                   {"call_id": "x", "response": {"n": 1.5e-07, "s": "\udfff"}}):
        prepared = PreparedCall.of(record)
        line = prepared.journal_line()
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        line.decode("utf-8")  # always valid UTF-8
        assert json.loads(line) == prepared.record
    assert "secret" not in PreparedCall.of(call(error="https://user:secret@host")).journal_line().decode()


def test_a_call_already_stored_or_repeated_in_its_batch_is_one_row(tmp_path):
    store = opened(tmp_path)
    first = call("c1")
    assert store.record_calls([first]) == 1
    assert store.record_calls([first, call("c2"), call("c2", content="other"), call("c3")]) == 2
    rows = store.query("SELECT call_id, request_blob FROM llm_calls ORDER BY call_id")
    assert [r["call_id"] for r in rows] == ["c1", "c2", "c3"]
    question = store.get_blob(rows[1]["request_blob"])
    assert json.loads(question)[0]["content"] == "question"  # the first c2 of the batch is kept
    store.close()


def test_the_buffer_journal_replays_to_the_rows_record_calls_writes(tmp_path):
    one, two = tmp_path / "buffered", tmp_path / "direct"
    records = [call(f"k{i}", content=f"{PAPER}\nquestion {i} \ud800") for i in range(5)]
    buffered = opened(one)
    buffer = CallBuffer(buffered, max_rows=100, max_age_s=3600, journal=CallJournal(one))
    for r in records:
        buffer(r)
    (segment,) = (one / "logs" / "calls").glob("*.jsonl")
    assert read_segment(segment) == ([PreparedCall.of(r).record for r in records], 0)
    assert replay(buffered, one) == (5, 0)  # as a resume after a SIGKILL would
    direct = opened(two)
    assert direct.record_calls(records) == 5
    for name, order in (("llm_calls", "call_id"), ("stored_blobs", "sha256"), ("texts", "text_id")):
        assert table(buffered, name, order) == table(direct, name, order)
    buffered.close()
    direct.close()


def test_the_hot_path_keeps_the_same_texts_as_put_blob(tmp_path):
    """A blob written by record_calls and by the one-query-per-fact path (put_blob) is stored
    as the same segments, each once, whatever was stored before it."""
    one, two = opened(tmp_path / "a"), opened(tmp_path / "b")
    request = call("r1", content=PAPER + "\nfirst question")
    blob = texts.BlobPlan(PreparedCall.of(request).texts).unique
    one.put_blob(PAPER)
    two.put_blob(PAPER)
    one.record_calls([request])
    for text in blob.values():
        two.put_blob(text)
    for name, order in (("stored_blobs", "sha256"), ("texts", "text_id")):
        assert table(one, name, order) == table(two, name, order)
    assert one.query("SELECT count(*) AS n FROM texts")[0]["n"] == \
        one.query("SELECT count(DISTINCT text_id) AS n FROM texts")[0]["n"]
    one.close()
    two.close()


def test_a_segment_id_taken_by_another_text_is_told_apart_on_the_hot_path(tmp_path):
    store = opened(tmp_path)
    request = call("r1", content=PAPER)
    (text,) = [t for t in PreparedCall.of(request).texts if len(t) >= texts.WHOLE_CHARS]
    tid, check = texts.text_key(texts.segments(text)[0])
    store._con.execute("INSERT INTO texts VALUES (?, ?, 'an impostor', 11)", [tid, check + 1])
    assert store.record_calls([request]) == 1
    blob = store.query("SELECT request_blob FROM llm_calls")[0]["request_blob"]
    assert store.get_blob(blob) == text  # stored whole, not made of the impostor
    store.close()


def test_an_unscored_episode_then_its_scored_rerun(tmp_path):
    store = opened(tmp_path)
    store.record_seed("abc")
    stopped = {"paper_id": "p1", "status": "budget", "accepted": False, "rounds": []}
    first = store.record_episode(stopped, "seed", "validation", 0, 0)
    assert store.record_episode(stopped, "seed", "validation", 0, 0) == first  # no evaluation
    done = {"paper_id": "p1", "status": "rejected", "accepted": False,
            "rounds": [{"index": 0, "outcome": "too_easy", "weak": {"avg": 0.9}}]}
    second = store.record_episode(done, "seed", "validation", 0, 0)
    assert second != first
    assert store.record_episode(done, "seed", "validation", 0, 0) == second
    counts = store.query("SELECT (SELECT count(*) FROM episodes) AS e, (SELECT count(*) FROM "
                         "episode_rounds) AS r, (SELECT count(*) FROM evaluations) AS v")[0]
    assert counts == {"e": 2, "r": 1, "v": 1}
    store.close()


def test_one_row_is_written_exactly_as_in_a_batch():
    """insert_many writes a lone row with VALUES, a batch by unnesting lists: every value (a
    nested and an empty list, NULLs, an int in a DOUBLE, a timestamp, long unicode, a list of
    BIGINTs) reads back the same either way; on_conflict keeps its meaning."""
    from datetime import datetime, timezone

    import duckdb
    import pytest

    from evolve.store.records import insert_many

    con = duckdb.connect()
    for name in ("alone", "batch"):
        con.execute(f"CREATE TABLE {name} (k VARCHAR PRIMARY KEY, kinds VARCHAR[] NOT NULL, "
                    "ts TIMESTAMPTZ NOT NULL, x DOUBLE, n INTEGER, s VARCHAR, parts BIGINT[])")
    at = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    rows = [{"k": "a", "kinds": [], "ts": at, "x": 1, "n": None, "s": None, "parts": None},
            {"k": "b", "kinds": ["timeout", "rate_limit"], "ts": at, "x": 2.5, "n": 3,
             "s": "Ünïcode ✓ '); DROP TABLE batch; --" * 500, "parts": [-2**63, 0, 2**63 - 1]},
            {"k": "c", "kinds": [], "ts": at, "x": None, "n": None, "s": "", "parts": []}]
    for row in rows:
        insert_many(con, "alone", [row], on_conflict=False)
    insert_many(con, "batch", rows, on_conflict=False)
    insert_many(con, "alone", [{**rows[0], "s": "other"}])  # a duplicate: a no-op
    with pytest.raises(duckdb.ConstraintException):
        insert_many(con, "alone", [rows[1]], on_conflict=False)
    alone, batch = (con.execute(f"SELECT * FROM {t} ORDER BY k").fetchall() for t in ("alone", "batch"))
    assert alone == batch and len(alone) == 3
