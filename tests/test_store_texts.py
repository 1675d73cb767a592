"""Long texts stored once per run (evolve/store/texts.py, migration 004), on real DuckDB.

A blob is cut into content-defined segments, each kept once in `texts`; every read gives back
the whole text, checked against its sha256. Attacks: huge, duplicate, odd and invalid Unicode
texts, a text_id taken by another segment, a segment altered on disk.
"""

import json
from pathlib import Path

import duckdb
import pytest

from evolve.store import CallBuffer, Store, StoreReader
from evolve.store import texts
from evolve.store.journal import CallJournal, replay
from evolve.store.migrate import MIGRATIONS_DIR, migrate
from inner_loop.llm.accounting import CallRecord
from inner_loop.llm.types import LLMResponse, Usage

PAPER = "\n\n".join(f"Section {i}. " + " ".join(f"token{i}-{j}" for j in range(90)) for i in range(30))


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path, create=True)
    s.record_run("run-1", "{}", "tree0", simulated=True)
    yield s
    s.close()


def call(call_id, content, reply="ok", error=None):
    return CallRecord(
        call_id=call_id, role="challenger", model="sim-challenger", endpoint="sim",
        messages=[{"role": "system", "content": "You are the challenger."},
                  {"role": "user", "content": content}],
        response=None if error else LLMResponse(content=reply, usage=Usage(input_tokens=9, output_tokens=3)).model_dump(),
        started_at="2025-01-01T00:00:00+00:00", duration_ms=1.0, attempts=1, cost_usd=0.0,
        simulated=True, error=error).model_dump(mode="json")


def prompt(i):
    return f"Write example {i} about the paper below.\n<paper>\n{PAPER}\n</paper>\nFeedback of round {i}: none."


def count(store, sql, params=None):
    return store.query(sql, params)[0]["n"]


def test_segments_put_back_together_and_cut_a_quoted_paper_the_same_way():
    one, two = texts.segments(json.dumps(prompt(1))), texts.segments(json.dumps(prompt(22)))
    assert "".join(one) == json.dumps(prompt(1)) and "".join(two) == json.dumps(prompt(22))
    shared = set(one) & set(two)
    assert sum(map(len, shared)) > 0.9 * len(json.dumps(PAPER))
    assert texts.segments("") == [""] and texts.segments("x" * 5000) == ["x" * 5000]


def test_the_paper_quoted_by_many_calls_is_stored_once(store):
    store.record_calls([call(f"c{i}", prompt(i)) for i in range(20)])
    marker = "token7-45 token7-46"
    assert count(store, "SELECT count(*) AS n FROM texts WHERE contains(text, ?)", [marker]) == 1
    assert count(store, "SELECT count(*) AS n FROM blobs WHERE contains(text, ?)", [marker]) == 20
    seen = texts.footprint(store._con)
    assert seen["stored_bytes"] < seen["logical_bytes"] / 8
    for r in store.query("SELECT request_blob FROM llm_calls"):
        text = store.get_blob(r["request_blob"])
        assert texts.sha256_hex(text) == r["request_blob"] and marker in text


def test_every_read_gives_the_text_back_exactly_and_the_view_agrees(store):
    odd = ["é" * 3000, "👩‍👩‍👧 zwj " * 400, "שלום עולם\u200f " * 300, "a\u0301" * 2000, "nul\x00 byte\n" * 400,
           "line\u2028sep\u2029 " * 500, "\uffff\U0010ffff" * 700, '"},{"":"' * 500 + "\\n" * 300]
    shas = [store.put_blob(t) for t in odd]
    assert store.get_blobs(shas) == dict(zip(shas, odd))
    assert {r["sha256"]: r["text"] for r in store.query("SELECT * FROM blobs")} == dict(zip(shas, odd))
    assert [store.get_blob(s) for s in shas] == odd
    assert store.put_blob(odd[0]) == shas[0] and count(store, "SELECT count(*) AS n FROM stored_blobs") == len(odd)


def test_huge_and_duplicate_texts_in_one_batch(store):
    one_line = "y" * 4_000_000  # no cut point: one segment
    many_cuts = "\n".join(f"{i}" * 20 for i in range(100_000))
    records = [call("big1", one_line), call("big2", one_line), call("cuts", many_cuts),
               *[call(f"dup{i}", prompt(1)) for i in range(50)]]
    assert store.record_calls(records) == len(records)
    assert store.record_calls(records) == 0  # idempotent: nothing new
    got = {r["call_id"]: json.loads(store.get_blob(r["request_blob"]))[1]["content"]
           for r in store.query("SELECT call_id, request_blob FROM llm_calls")}
    assert got["big1"] == got["big2"] == one_line and got["cuts"] == many_cuts and got["dup7"] == prompt(1)
    assert count(store, "SELECT count(*) AS n FROM texts WHERE n_chars >= 4000000") == 1
    assert count(store, "SELECT count(DISTINCT request_blob) AS n FROM llm_calls") == 3


def test_lone_surrogates_from_a_model_do_not_break_the_store(store, tmp_path):
    hostile = "before \ud800 middle \udfff after " * 100
    journal = CallJournal(tmp_path)
    buffer = CallBuffer(store, max_rows=1000, journal=journal)
    buffer(call("s1", hostile, reply="reply \udbff!"))  # the journal line, then the batch
    buffer(call("s2", "fine", error="endpoint said \ud834 no"))
    assert buffer.close() == 2
    rows = {r["call_id"]: r for r in store.query("SELECT call_id, request_blob, response_blob, error FROM llm_calls")}
    assert json.loads(store.get_blob(rows["s1"]["request_blob"]))[1]["content"] == hostile
    assert json.loads(store.get_blob(rows["s1"]["response_blob"]))["content"] == "reply \udbff!"
    assert rows["s2"]["error"] == "endpoint said \ufffd no"
    episode = {"paper_id": "p1", "status": "exhausted", "rounds": [],
               "transcript": [{"op": "log", "args": {"message": hostile}}], "error": "harness \udc80"}
    eid = store.record_episode(episode, "seed", "validation", 0, 1)
    blob = store.query("SELECT record_blob, error FROM episodes WHERE episode_id = ?", [eid])[0]
    assert json.loads(store.get_blob(blob["record_blob"])) == episode and blob["error"] == "harness \ufffd"
    assert store.put_blob("raw \ud800 text") == texts.sha256_hex("raw \ufffd text")


def test_journal_lines_with_lone_surrogates_replay_exactly(store, tmp_path):
    journal = CallJournal(tmp_path)
    journal.append(call("j1", "q \ud800" * 600))
    journal.close()
    assert replay(store, tmp_path) == (1, 0)
    request = store.query("SELECT request_blob FROM llm_calls WHERE call_id = 'j1'")[0]["request_blob"]
    assert json.loads(store.get_blob(request))[1]["content"] == "q \ud800" * 600


def test_a_text_id_taken_by_another_text_never_mixes_them_up(store, tmp_path):
    text = json.dumps(prompt(3))
    first = texts.segments(text)[1]
    tid, check = texts.text_key(first)
    with store._write() as con:  # another segment already holds this text_id (a collision)
        con.execute("INSERT INTO texts VALUES (?, ?, ?, ?)", [tid, check + 1, "impostor", 8])
    store.close()  # the writer knows the stored keys from memory, loaded at open (keys.py)
    store = Store.open(tmp_path)
    sha = store.put_blob(text)
    assert store.get_blob(sha) == text
    row = store.query("SELECT text IS NOT NULL AS whole, parts FROM stored_blobs WHERE sha256 = ?", [sha])[0]
    assert row == {"whole": True, "parts": None}  # stored whole: the impostor is never read for it


def test_a_segment_altered_on_disk_is_refused_not_returned(store):
    sha = store.put_blob(json.dumps(prompt(4)))
    with store._write() as con:
        con.execute("UPDATE texts SET text = replace(text, 'token3-', 'tokenX-')")
    with pytest.raises(ValueError, match="does not reassemble to its hash"):
        store.get_blob(sha)
    with pytest.raises(KeyError):
        store.get_blob("0" * 64)


def test_migration_004_keeps_the_blobs_of_an_older_run_readable(tmp_path):
    old_dir = tmp_path / "m"
    old_dir.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("00[123]_*.sql")):
        (old_dir / path.name).write_text(path.read_text())
    db = tmp_path / "autodata.duckdb"
    con = duckdb.connect(str(db))
    migrate(con, "old", old_dir)
    old_text = json.dumps(prompt(5))
    con.execute("INSERT INTO blobs VALUES (?, ?, ?)", [texts.sha256_hex(old_text), old_text, len(old_text)])
    con.close()
    with Store.open(tmp_path) as s:
        assert s.get_blob(texts.sha256_hex(old_text)) == old_text
        assert s.query("SELECT text FROM blobs")[0]["text"] == old_text
        new = s.put_blob(json.dumps(prompt(6)))
        assert s.query("SELECT parts IS NOT NULL AS p FROM stored_blobs WHERE sha256 = ?", [new])[0]["p"]
        assert sorted(r["text"] for r in s.query("SELECT text FROM blobs")) == sorted([old_text, json.dumps(prompt(6))])


def test_footprint_counts_what_is_written_and_what_is_kept(store):
    store.record_calls([call(f"c{i}", prompt(i)) for i in range(5)])
    seen = texts.footprint(store._con, Path(store.path))
    shas = {r[k] for r in store.query("SELECT request_blob, response_blob FROM llm_calls")
            for k in ("request_blob", "response_blob")}  # the 5 replies are one blob
    logical = sum(len(text.encode()) for text in store.get_blobs(list(shas)).values())
    assert seen["logical_bytes"] == logical and seen["calls"] == 5 and seen["episodes"] == 0
    assert 0 < seen["stored_bytes"] < logical and seen["file_bytes"] == Path(store.path).stat().st_size


def test_a_reader_of_the_snapshot_reads_whole_texts_while_the_writer_holds_the_file(store, tmp_path):
    shas = store.record_calls([call(f"c{i}", prompt(i)) for i in range(3)]) and \
        [r["request_blob"] for r in store.query("SELECT request_blob FROM llm_calls ORDER BY call_id")]
    store.publish_snapshot()
    with StoreReader.open(tmp_path) as reader:
        assert reader.source == "snapshot"
        got = reader.get_blobs(shas)
        assert [json.loads(got[s])[1]["content"] for s in shas] == [prompt(i) for i in range(3)]
        assert {r["sha256"]: r["text"] for r in reader.query("SELECT * FROM blobs")}.items() >= got.items()
