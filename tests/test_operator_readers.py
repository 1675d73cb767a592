"""Readers survive bad runs: one corrupt, truncated or newer-schema database never hides the
other runs, and error hints name the real cause (real DuckDB files broken on tmp_path)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest

from inner_loop.config import load_config
from evolve.cli import main
from evolve.context import RunSettings, make_run_config
from evolve.run import prepare_run_dir
from evolve.store import Store
from evolve.store.db import failure_cause


def make_run(results: Path, name: str) -> Path:
    run_dir = results / name
    rc = make_run_config(load_config(None, []), RunSettings(), name)
    prepare_run_dir(run_dir, rc)
    with Store.open(run_dir, create=True) as store:
        store.record_run(name, rc.public_json(), "digest", True)
    (run_dir / "autodata.read.duckdb").unlink()  # a run after its writer closed: no snapshot
    return run_dir


def truncate(db: Path) -> None:
    os.truncate(db, db.stat().st_size // 2)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """Read-only for the tests (each checks its files are unchanged)."""
    root = tmp_path_factory.mktemp("readers") / "results"
    make_run(root, "good")
    truncate(make_run(root, "truncated") / "autodata.duckdb")
    (make_run(root, "garbage") / "autodata.duckdb").write_bytes(b"not a database\n" * 100)
    newer = make_run(root, "newer") / "autodata.duckdb"
    con = duckdb.connect(str(newer))
    con.execute("INSERT INTO migrations VALUES (999, 'from_the_future', now())")
    con.close()
    return root


def test_runs_lists_every_unreadable_run_with_its_reason_and_goes_on(results, capsys):
    assert main(["runs", "--results", str(results), "--json"]) == 0
    runs = {r["run_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert runs["good"]["status"] == "interrupted"
    for name in ("truncated", "garbage"):
        assert runs[name]["status"] == "unreadable"
        assert runs[name]["detail"] == "the database file is corrupt or truncated"
    assert runs["newer"]["status"] == "unreadable" and "newer" in runs["newer"]["detail"]
    assert main(["runs", "--results", str(results)]) == 0
    table = capsys.readouterr().out
    assert table.count("unreadable") == 3 and "good" in table


@pytest.mark.parametrize("name", ["truncated", "garbage"])
@pytest.mark.parametrize("command", ["show", "resume"])
def test_a_corrupt_database_is_named_as_the_cause(results, capsys, name, command):
    db = results / name / "autodata.duckdb"
    before = db.read_bytes()
    assert main([command, str(results / name)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "the database file is corrupt or truncated" in lines[0]
    assert "full disk" not in lines[0] and db.read_bytes() == before


def test_a_full_disk_is_named_as_the_cause():
    with pytest.raises(OSError) as exc, open("/dev/full", "w") as fh:
        fh.write("x" * 10)
        fh.flush()
    assert failure_cause(exc.value).startswith("the disk is full")

