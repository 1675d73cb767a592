"""Numbered schema migrations: `migrations/NNN_name.sql`, applied in order, each in a transaction.

The `migrations` table records (version, name, applied_at) for every applied file. A database
whose newest version is beyond what this code knows was written by a newer autodata: refuse with
a UserError rather than guess at its schema.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import duckdb

from inner_loop.errors import UserError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS migrations (
    version INTEGER PRIMARY KEY,
    name VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE migrations IS 'One schema migration applied to this database (migrations/NNN_name.sql).';
"""


class Migration(NamedTuple):
    version: int
    name: str
    path: Path


def available_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files this code knows, by version; versions must be 1, 2, 3, ... ."""
    found = []
    for path in directory.glob("*.sql"):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file not named NNN_name.sql: {path.name}")
        found.append(Migration(int(match.group(1)), match.group(2), path))
    found.sort()
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise ValueError(f"migration versions must be 1..N without gaps, got {versions}")
    return found


def latest_version(directory: Path = MIGRATIONS_DIR) -> int:
    return len(available_migrations(directory))


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The newest applied migration; 0 for an empty database."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'migrations' AND schema_name = 'main'"
    ).fetchone()[0]
    if not exists:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM migrations").fetchone()[0]


def check_version(con: duckdb.DuckDBPyConnection, where: str, directory: Path = MIGRATIONS_DIR) -> int:
    """Refuse a database written by a newer autodata; return its version."""
    version = current_version(con)
    known = latest_version(directory)
    if version > known:
        name = con.execute("SELECT name FROM migrations WHERE version = ?", [version]).fetchone()[0]
        raise UserError(
            f"{where}: database schema version {version} ({name}) is newer than this autodata "
            f"knows (up to {known}); upgrade autodata to read this run"
        )
    return version


def migrate(con: duckdb.DuckDBPyConnection, where: str, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply every migration newer than the database, each in its own transaction.

    Returns the versions applied (empty when the database is up to date)."""
    con.execute("BEGIN TRANSACTION")
    con.execute(_CREATE_TABLE)
    con.execute("COMMIT")
    version = check_version(con, where, directory)
    applied = []
    for migration in available_migrations(directory)[version:]:
        sql = migration.path.read_text(encoding="utf-8")
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute(
                "INSERT INTO migrations (version, name, applied_at) VALUES (?, ?, now())",
                [migration.version, migration.name],
            )
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        applied.append(migration.version)
    return applied
