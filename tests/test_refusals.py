"""Implementer refusals are facts (table `refusals`, migration 005), not text read back from the
summary: the loop's `no change` / `implementer attempted protected path` reason reads them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb

from inner_loop.config import load_config
from evolve.context import RunSettings
from evolve.run import start_run
from evolve.store import Store, StoreReader
from evolve.store.migrate import MIGRATIONS_DIR, migrate

from scripted_endpoint import ScriptedEndpoint, Tools

SETS = ["seed=2", "evolve.iterations=1", "evolve.minibatch=1", "inner_loop.max_rounds=1",
        "evolve.final_repeats=0", "retry.max_attempts=2", "retry.base_delay_s=0.0"]
# The attack: only refused paths, one that names itself like a summary's tail.
REFUSED = [("write_file", json.dumps({"path": "harness.toml", "content": "[harness]\n"})),
           ("write_file", json.dumps({"path": "../outside.py", "content": "x = 1\n"})),
           ("read_file", json.dumps({"path": ".git/config]"}))]


def _implementer(role: str, body: dict):
    if role != "implementer":
        return None  # the simulated world answers every other role
    if not any(m["role"] == "assistant" for m in body["messages"]):
        return Tools(REFUSED)
    return Tools([("finish", json.dumps({"summary": "tried [refused protected path x.py]"}))])


def test_a_refused_only_implementer_is_invalid_from_the_recorded_refusals(tmp_path: Path):
    with ScriptedEndpoint(_implementer) as ep:
        roles = [f"roles.implementer.{k}" for k in ("backend=openai", f"base_url={ep.base_url}",
                                                     "model=sim-implementer")]
        summary = start_run(load_config(None, SETS + roles), RunSettings(validation_limit=1),
                            tmp_path / "run", show_progress=False)
    assert summary.status == "finished" and summary.counts["invalid"] == 1
    with StoreReader.open(tmp_path / "run") as reader:
        cid = reader.query("SELECT candidate_id FROM iterations")[0]["candidate_id"]
        refusals = reader.refusals(cid)
        reason = reader.candidate_status(cid).reason
    assert [(r.tool, r.kind, r.path) for r in refusals] == [
        ("write_file", "protected", "harness.toml"), ("write_file", "escape", "../outside.py"),
        ("read_file", "escape", ".git/config]")]
    assert reason == "implementer attempted protected path harness.toml"  # the first refusal


def test_refusals_are_written_once_with_their_proposal(tmp_path: Path):
    rows = [{"tool": "write_file", "kind": "protected", "path": "harness.toml", "reason": "r"}]
    with Store.open(tmp_path, create=True) as store:
        store.record_candidate(1, "c1", "seed")
        assert store.record_proposal("c1", "", "{}", "s", [], rows)
        assert not store.record_proposal("c1", "", "{}", "s", [], rows)  # a resume: no-op
        assert [r.path for r in store.refusals("c1")] == ["harness.toml"]
        assert store.refusals("c2") == []


def test_migration_keeps_a_refusal_recorded_only_in_an_old_summary(tmp_path: Path):
    """A run recorded before migration 005 resumes with its refusal as a fact."""
    old = tmp_path / "migrations"
    old.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("00[1-4]_*.sql")):
        shutil.copy(path, old / path.name)
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    migrate(con, "old", old)
    for cid, summary in (("c1", "edit [refused protected path harness.toml]"),
                         ("c2", "an edit"), ("c3", "x [refused escape path ../a b]")):
        con.execute("INSERT INTO proposals (candidate_id, summary, created_at) "
                    "VALUES (?, ?, now())", [cid, summary])
    assert migrate(con, "old") == [5]
    got = con.execute("SELECT candidate_id, seq, tool, kind, path FROM refusals "
                      "ORDER BY candidate_id").fetchall()
    con.close()
    assert got == [("c1", 0, "unknown", "protected", "harness.toml"),
                   ("c3", 0, "unknown", "escape", "../a b")]
