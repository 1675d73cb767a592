"""The run database: schema, append-only records, idempotence, reads and views (real DuckDB)."""

import duckdb
import pytest

from evolve.selection import view_of
from evolve.store import Store, StoreReader
from evolve.store.migrate import available_migrations, latest_version
from inner_loop.errors import UserError
from inner_loop.llm.accounting import CallRecord
from store_fixtures import call, count, episode, store, to_scored  # noqa: F401  (store is a fixture)


# -- schema and migrations -----------------------------------------------------------------------


def test_open_without_create_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no autodata.duckdb"):
        Store.open(tmp_path)


def test_create_records_every_migration(store):
    rows = store.query("SELECT version, name FROM migrations ORDER BY version")
    assert [(r["version"], r["name"]) for r in rows] == [(m.version, m.name) for m in available_migrations()]
    assert rows[0] == {"version": 1, "name": "init"}


def test_reopening_applies_nothing_twice(tmp_path, store):
    store.close()
    with Store.open(tmp_path) as again:
        assert count(again, "migrations") == latest_version()
        assert count(again, "candidates") == 1


def test_database_of_a_newer_autodata_is_refused(tmp_path, store):
    store.close()
    con = duckdb.connect(str(tmp_path / "autodata.duckdb"))
    con.execute("INSERT INTO migrations VALUES (99, 'future', now())")
    con.close()
    with pytest.raises(UserError, match=r"version 99 \(future\).*upgrade autodata"):
        Store.open(tmp_path)
    with pytest.raises(UserError, match="upgrade autodata"):
        StoreReader.open(tmp_path)


def test_every_table_and_view_says_what_one_row_means(store):
    tables = store.query("SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = 'main'")
    views = store.query("SELECT view_name, comment FROM duckdb_views() WHERE NOT internal AND schema_name = 'main'")
    assert len(tables) >= 13 and len(views) >= 6
    assert all(r["comment"] for r in tables + views), [r for r in tables + views if not r["comment"]]


def test_no_column_could_hold_an_api_key(store):
    names = [r["column_name"] for r in store.query("SELECT column_name FROM duckdb_columns() WHERE schema_name = 'main' AND NOT internal")]
    assert not [n for n in names if any(w in n for w in ("key", "secret", "password", "auth"))]


def test_call_record_with_an_unknown_field_is_refused(store):
    bad = {**call("c1"), "api_key": "sk-123"}
    with pytest.raises(ValueError, match="api_key"):
        store.record_calls([bad])
    assert count(store, "llm_calls") == 0
    assert "sk-123" not in str(store.query("SELECT text FROM blobs"))


# -- blobs ---------------------------------------------------------------------------------------


def test_blobs_are_content_addressed_and_stored_once(store):
    sha = store.put_blob("a long diagnosis")
    assert store.put_blob("a long diagnosis") == sha
    assert len(sha) == 64 and store.get_blob(sha) == "a long diagnosis"
    assert store.query("SELECT count(*) AS n FROM blobs WHERE sha256 = ?", [sha])[0]["n"] == 1


# -- attempts ------------------------------------------------------------------------------------


def test_attempt_states_report_the_last_state_of_each_attempt(store):
    store.record_candidate(1, "c1", "seed")
    to_scored(store, "c2", 2)
    store.record_decision("c2", "accepted", "beats parent", "strict", 0.6, 0.4)
    assert store.attempt_states() == {"seed": "accepted", "c1": "selected", "c2": "committing"}
    store.record_commit("c2", "b" * 40)
    assert store.attempt_states()["c2"] == "accepted"
    states = [r["state"] for r in store.query("SELECT state FROM candidate_events WHERE candidate_id='c2' ORDER BY seq")]
    assert states == ["selected", "proposing", "proposed", "validating", "scoring", "scored", "committing", "accepted"]


def test_illegal_transition_is_a_bug_and_writes_nothing(store):
    store.record_candidate(1, "c1", "seed")
    with pytest.raises(ValueError, match="selected -> scoring"):
        store.record_candidate_event("c1", "scoring")
    with pytest.raises(ValueError, match="selected -> committing"):
        store.record_decision("c1", "accepted", "too early")
    assert count(store, "decisions") == 1  # the seed's only
    assert store.attempt_states()["c1"] == "selected"


def test_reentering_the_current_state_on_resume_writes_no_row(store):
    to_scored(store, "c1", 1)
    before = count(store, "candidate_events")
    assert store.record_candidate_event("c1", "scored") is False
    assert store.record_candidate(1, "c1", "seed") is False
    assert store.record_proposal("c1", "diff of c1\n", "diagnosis", "idea c1") is False
    assert count(store, "candidate_events") == before


def test_a_different_fact_under_the_same_key_is_refused(store):
    store.record_candidate(1, "c1", "seed")
    with pytest.raises(ValueError, match="already recorded"):
        store.record_candidate(1, "c1", "other-parent")
    store.record_decision("c1", "invalid", "protected path changed: harness.toml")
    assert store.record_decision("c1", "invalid", "protected path changed: harness.toml") is False
    with pytest.raises(ValueError):
        store.record_decision("c1", "rejected", "")


def test_invalid_attempt_ends_without_scores(store):
    store.record_candidate(1, "c1", "seed")
    store.record_candidate_event("c1", "proposing")
    store.record_proposal("c1", "diff --git a/harness.toml b/harness.toml\n", "diag", "edit manifest")
    store.record_candidate_event("c1", "validating")
    store.record_decision("c1", "invalid", "protected path changed: harness.toml")
    row = store.candidate_status("c1")
    assert (row.state, row.status, row.reason, row.commit_sha) == (
        "invalid", "invalid", "protected path changed: harness.toml", None)
    assert store.get_blob(row.diff_blob).startswith("diff --git a/harness.toml")


def test_commit_needs_an_accepted_decision(store):
    to_scored(store, "c1", 1)
    store.record_decision("c1", "rejected", "child 0.3 <= parent 0.4")
    with pytest.raises(ValueError, match="without an accepted decision"):
        store.record_commit("c1", "c" * 40)


# -- llm calls -----------------------------------------------------------------------------------


def test_record_calls_writes_a_batch_with_blobs_and_is_idempotent(store):
    batch = [call("k1"), call("k2", role="challenger", tokens=(100, 40), cost=0.5), call("k3", response=False)]
    assert store.record_calls(batch, iteration=3, candidate_id="seed") == 3
    assert store.record_calls(batch, iteration=3, candidate_id="seed") == 0
    row = store.query("SELECT * FROM llm_calls WHERE call_id = 'k3'")[0]
    assert (row["run_id"], row["iteration"], row["candidate_id"]) == ("run-1", 3, "seed")
    assert row["response_blob"] is None and row["error_kinds"] == ["timeout"] and row["attempts"] == 2
    k2 = store.query("SELECT * FROM llm_calls WHERE call_id = 'k2'")[0]
    assert (k2["input_tokens"], k2["output_tokens"]) == (100, 40)
    assert '"content":"a"' in store.get_blob(k2["response_blob"])
    assert store.get_blob(k2["request_blob"]) == '[{"content":"q","role":"user"}]'


def test_insert_many_binds_columns_and_reads_back_every_value_as_given():
    """insert_many binds one list per column (unnest): nested lists, empty lists, NULLs, mixed
    int/float, timestamps and long unicode text come back exactly; duplicates are no-ops."""
    from datetime import datetime, timezone

    from evolve.store.records import insert_many

    con = duckdb.connect()
    con.execute("CREATE TABLE t (k VARCHAR PRIMARY KEY, kinds VARCHAR[] NOT NULL, "
                "ts TIMESTAMPTZ NOT NULL, x DOUBLE, n INTEGER, s VARCHAR)")
    at = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    rows = [{"k": "a", "kinds": [], "ts": at, "x": 1, "n": None, "s": None},
            {"k": "b", "kinds": ["timeout", "rate_limit"], "ts": at, "x": 2.5, "n": 3,
             "s": "Ünïcode ✓ " * 5000},
            {"k": "c", "kinds": [], "ts": at, "x": None, "n": None, "s": ""}]
    insert_many(con, "t", rows)
    insert_many(con, "t", rows[:1] + [{**rows[2], "s": "other"}])  # duplicates: no-ops
    insert_many(con, "t", [])
    got = con.execute("SELECT k, kinds, ts, x, n, s FROM t ORDER BY k").fetchall()
    assert [(k, kinds, a.astimezone(timezone.utc), x, n, s) for k, kinds, a, x, n, s in got] == [
        tuple(r.values()) for r in rows]


def test_a_bad_call_in_a_batch_rolls_back_the_whole_batch(store):
    broken = call("k2")
    del broken["role"]
    with pytest.raises(KeyError):
        store.record_calls([call("k1"), broken])
    assert count(store, "llm_calls") == 0


def test_call_buffer_writes_in_batches(store):
    from evolve.store import CallBuffer

    buffer = CallBuffer(store, iteration=1, candidate_id="seed", max_rows=3, max_age_s=60)
    buffer(CallRecord(**call("k1")))
    buffer(call("k2"))
    assert count(store, "llm_calls") == 0
    buffer(call("k3"))
    assert count(store, "llm_calls") == 3
    buffer(call("k4"))
    assert buffer.flush() == 1 and count(store, "llm_calls") == 4


# -- iterations, history, views -----------------------------------------------------------------


def test_the_view_reads_one_history_line_per_iteration_up_to_its_own(store):
    """The history later analyzers read is the iteration rows, through selection.view_of."""
    for i, status in enumerate(["rejected", "accepted", "invalid"], start=1):
        store.record_iteration(i, f"c{i}", "seed", status, f"idea {i}", 0.4, 0.5 if status != "invalid" else None)
    lines = view_of(store, 3).history
    assert lines[0] == "- iteration 1 (parent seed): rejected — idea 1 (validation 0.40 -> 0.50)"
    assert len(lines) == 3 and lines[2].endswith("idea 3 (validation 0.40 -> -)")
    assert view_of(store, 2).history == lines[:2]


def test_pass_rate_trajectory_tracks_the_best_accepted_candidate(store):
    store.record_episode(episode("p1", False), "seed", "validation", 0, 1)
    to_scored(store, "c1", 1)
    store.record_episode(episode("p1", True), "c1", "validation", 0, 1)
    store.record_decision("c1", "accepted", "", "strict", 1.0, 0.0)
    store.record_commit("c1", "c" * 40)
    to_scored(store, "c2", 2, parent="c1")
    store.record_episode(episode("p1", False), "c2", "validation", 0, 2)
    store.record_decision("c2", "rejected", "", "strict", 0.0, 1.0)
    rows = store.trajectory()
    assert [(r.candidate_id, r.status, r.pass_rate, r.n_evaluations, r.best_so_far) for r in rows] == [
        ("seed", "accepted", 0.0, 1, 0.0), ("c1", "accepted", 1.0, 1, 1.0), ("c2", "rejected", 0.0, 1, 1.0)]
    assert rows[1].commit_sha == "c" * 40 and rows[2].parent_id == "c1"
    lineage = {r["candidate_id"]: r["depth"] for r in store.query("SELECT * FROM lineage")}
    assert lineage == {"seed": 0, "c1": 1, "c2": 2}


def test_failure_reasons_and_cost_by_role(store):
    store.record_episode(episode("p1", True, ("too_easy", "too_easy", "accepted")), "seed", "validation", 0, 1)
    store.record_episode(episode("p2", False, ("failed_quality",)), "seed", "minibatch", 0, 2)
    reasons = store.query("SELECT iteration, purpose, outcome, n FROM failure_reasons ORDER BY iteration")
    assert reasons == [{"iteration": 1, "purpose": "validation", "outcome": "too_easy", "n": 2},
                       {"iteration": 2, "purpose": "minibatch", "outcome": "failed_quality", "n": 1}]
    store.record_calls([call("k1", cost=0.25), call("k2", cost=0.5), call("k3", role="challenger")])
    cost = {r["role"]: r for r in store.query("SELECT * FROM cost_by_role")}
    assert cost["judge"]["calls"] == 2 and cost["judge"]["usd"] == 0.75 and cost["judge"]["tokens"] == 30


def test_run_status_is_the_latest_run_event(store):
    store.record_run_event("running")
    store.record_run_event("stopped", "USD budget spent")
    info = store.run_info()
    assert (info["run_id"], info["status"], info["detail"], info["simulated"]) == (
        "run-1", "stopped", "USD budget spent", True)
    assert store.record_run("run-1", "{}", "tree0", True) is False
