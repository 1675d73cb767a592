"""Numbered migrations: in order, once, each in a transaction (real DuckDB)."""

import duckdb
import pytest

from evolve.store.migrate import available_migrations, current_version, migrate
from inner_loop.errors import UserError


def write(directory, name, sql):
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(sql)


def test_migrations_apply_in_order_and_only_once(tmp_path):
    mig = tmp_path / "m"
    write(mig, "001_first.sql", "CREATE TABLE a (x INTEGER);")
    write(mig, "002_second.sql", "ALTER TABLE a ADD COLUMN y INTEGER; INSERT INTO a VALUES (1, 2);")
    con = duckdb.connect(str(tmp_path / "db.duckdb"))
    assert migrate(con, "db", mig) == [1, 2]
    assert migrate(con, "db", mig) == []
    assert con.execute("SELECT * FROM a").fetchall() == [(1, 2)]
    assert con.execute("SELECT version, name FROM migrations ORDER BY version").fetchall() == [
        (1, "first"), (2, "second")]


def test_a_failing_migration_leaves_no_trace(tmp_path):
    mig = tmp_path / "m"
    write(mig, "001_first.sql", "CREATE TABLE a (x INTEGER);")
    write(mig, "002_broken.sql", "CREATE TABLE b (x INTEGER); SELECT * FROM no_such_table;")
    con = duckdb.connect(str(tmp_path / "db.duckdb"))
    with pytest.raises(duckdb.CatalogException):
        migrate(con, "db", mig)
    assert current_version(con) == 1
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert tables == {"a", "migrations"}


def test_a_database_newer_than_the_code_is_refused_before_any_change(tmp_path):
    mig = tmp_path / "m"
    write(mig, "001_first.sql", "CREATE TABLE a (x INTEGER);")
    con = duckdb.connect(str(tmp_path / "db.duckdb"))
    migrate(con, "db", mig)
    con.execute("INSERT INTO migrations VALUES (2, 'from_the_future', now())")
    with pytest.raises(UserError, match="version 2 \\(from_the_future\\) is newer"):
        migrate(con, "db", mig)


@pytest.mark.parametrize("names", [["001_a.sql", "003_c.sql"], ["002_b.sql"], ["1_a.sql"], ["001_A-b.sql"]])
def test_migration_files_must_be_numbered_without_gaps(tmp_path, names):
    for name in names:
        write(tmp_path, name, "SELECT 1;")
    with pytest.raises(ValueError):
        available_migrations(tmp_path)


def test_the_shipped_migrations_start_at_001_init():
    assert available_migrations()[0].name == "init"
