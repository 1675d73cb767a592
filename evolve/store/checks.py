"""Checks of a run database's file before the writer opens it read-write (an open that DuckDB
would answer by rewriting the file): a database from a newer autodata, a corrupt one, or a
checkpointed file that lost its tail is refused with a one-line error, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import duckdb

from evolve.store.db import is_busy_error
from evolve.store.migrate import check_version
from inner_loop.errors import UserError


def refuse_unsafe(path: Path) -> None:
    """A database from a newer autodata, or a corrupt one, is refused before any read-write
    open (which would rewrite its file). Held by another process: the writer's own open waits
    and checks."""
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        if is_busy_error(exc):
            return
        raise  # corrupt or truncated: a read-write open would write to the damaged file
    try:
        check_version(con, str(path))
        refuse_truncated(con, path)
    finally:
        con.close()


_HEADERS = 3 * 4096  # DuckDB's file header and its two database headers precede the blocks


def refuse_truncated(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """A checkpointed file (no WAL) shorter than the blocks it uses lost its tail (a power loss,
    a copy cut short): opening it read-write would checkpoint over what is left. Free blocks
    at the end may be cut off by DuckDB itself, so only used blocks count; with a WAL the data
    replayed from it is not in the file yet, and the check is skipped."""
    if path.with_name(path.name + ".wal").exists():
        return
    _name, _size, block_size, _total, used_blocks, *_ = con.execute(
        "SELECT * FROM pragma_database_size()").fetchone()
    expected = _HEADERS + int(block_size) * int(used_blocks)
    size = path.stat().st_size
    if size < expected:
        raise UserError(f"{path}: the database file is corrupt or truncated ({size} of {expected} "
                        f"bytes): restore autodata.duckdb from a backup (autodata.read.duckdb "
                        f"holds a recent copy); nothing was written")
