"""Connections to a run's database: one writer, any number of readers, never refused.

DuckDB lets one process hold a read-write connection; while it does, no other process may open
the file at all. So:
- The writer (evolve.store.writer.Store) keeps `autodata.duckdb` open for the whole run and,
  after its write transactions, *publishes* a read snapshot: `COPY FROM DATABASE` into a fresh
  `autodata.read.duckdb.tmp`, then an atomic rename to `autodata.read.duckdb`. (Not a file copy:
  DuckDB's lock is a POSIX fcntl lock, and closing ANY descriptor of the file in the writer's
  process would silently drop it.) Publishing is
  throttled (SnapshotPublisher) and a pending change is published by a timer, so a snapshot is at
  most about `interval` seconds behind the last commit.
- A reader (StoreReader) first tries `autodata.duckdb` read-only (fresh: works whenever no writer
  runs, also after a crash, when DuckDB replays the WAL in memory); on the lock error it opens
  the snapshot read-only. The rename never disturbs a reader that already has the old snapshot
  open (it keeps the old inode).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from evolve.store import queries
from evolve.store import texts as stored_texts
from evolve.store.migrate import check_version, latest_version
from inner_loop.errors import UserError

DB_NAME = "autodata.duckdb"
SNAPSHOT_NAME = "autodata.read.duckdb"


_CORRUPT = ("not a valid duckdb database", "could not read enough bytes", "corrupt", "checksum",
            "serialization", "failed to read", "invalid block", "replaying wal")


def failure_cause(exc: BaseException) -> str | None:
    """The real cause of a failure to read or write a run folder, as a hint for the one-line
    error; None when the exception is none of these (not an I/O problem of ours)."""
    text = " ".join(str(exc).split()).lower()
    errno = getattr(exc, "errno", None)
    if errno == 28 or "no space left" in text or "disk full" in text:
        return "the disk is full: free space, then `autodata resume` the run"
    if errno in (13, 30) or "read-only file system" in text or "permission denied" in text:
        return "the folder is read-only: make it writable, then `autodata resume` the run"
    if isinstance(exc, duckdb.Error) and any(k in text for k in _CORRUPT):
        return ("the database file is corrupt or truncated: restore autodata.duckdb from a "
                "backup (autodata.read.duckdb holds a recent copy)")
    if isinstance(exc, (OSError, duckdb.IOException)):
        return "an I/O error: fix its cause, then `autodata resume` the run"
    return None


def is_busy_error(exc: BaseException) -> bool:
    """The file is held by another connection: another process's lock, or this process's writer."""
    if isinstance(exc, duckdb.ConnectionException):
        return "different configuration" in str(exc)
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def connect_with_retry(path: Path, read_only: bool, timeout_s: float) -> duckdb.DuckDBPyConnection:
    """Open `path`, retrying with backoff while another connection holds it."""
    deadline = time.monotonic() + timeout_s
    delay = 0.02
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            if not is_busy_error(exc) or time.monotonic() + delay > deadline:
                if is_busy_error(exc):
                    raise UserError(f"{path} is in use by another process ({exc})") from None
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


class SnapshotPublisher:
    """Copies the checkpointed database to the read snapshot, at most every `interval` seconds.

    The caller holds `lock` around its writes; the publisher takes it too, so a copy never
    overlaps a write. Interval adapts: at least 10x the time the last copy took."""

    def __init__(self, con: duckdb.DuckDBPyConnection, db_path: Path, lock: threading.RLock,
                 min_interval_s: float):
        self._con = con
        self._db_path = db_path
        self.snapshot_path = db_path.with_name(SNAPSHOT_NAME)
        self._lock = lock
        self._min_interval_s = min_interval_s
        self._interval_s = min_interval_s
        self._last = 0.0
        self._dirty = False
        self._timer: threading.Timer | None = None

    def publish(self) -> None:
        with self._lock:
            started = time.monotonic()
            tmp = self.snapshot_path.with_name(SNAPSHOT_NAME + ".tmp")
            for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
                stale.unlink(missing_ok=True)
            source = self._con.execute("SELECT current_database()").fetchone()[0]
            self._con.execute(f"ATTACH '{_sql_path(tmp)}' AS autodata_snapshot")
            try:
                self._con.execute(f'COPY FROM DATABASE "{source}" TO autodata_snapshot')
            finally:
                self._con.execute("DETACH autodata_snapshot")
            os.replace(tmp, self.snapshot_path)
            self._last = time.monotonic()
            self._interval_s = max(self._min_interval_s, 10 * (self._last - started))
            self._dirty = False

    def wrote(self) -> None:
        """After a committed write: publish now if due, else make sure a timer will."""
        with self._lock:
            self._dirty = True
            wait = self._last + self._interval_s - time.monotonic()
            if wait <= 0:
                self.publish()
            elif self._timer is None:
                self._timer = threading.Timer(wait, self._on_timer)
                self._timer.daemon = True
                self._timer.start()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
            if self._dirty and self._con is not None:
                self.publish()

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._dirty:
                self.publish()
            self._con = None  # type: ignore[assignment]


class Reads:
    """The read API, shared by the writer (its own connection) and StoreReader."""

    def _read(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def candidate_scores(self, accepted_only: bool = False) -> dict[str, tuple[float, int]]:
        return self._read(queries.candidate_scores, accepted_only)

    def outcomes(self, candidate_id: str | None = None, purpose: str = "validation",
                 upto: int | None = None, iteration: int | None = None) -> list[queries.Outcome]:
        return self._read(queries.outcomes, candidate_id, purpose, upto, iteration)

    def refusals(self, candidate_id: str) -> list[queries.RefusalRow]:
        return self._read(queries.refusals, candidate_id)

    def attempt_states(self) -> dict[str, str]:
        return self._read(queries.attempt_states)

    def candidate_statuses(self) -> list[queries.CandidateStatus]:
        return self._read(queries.candidate_statuses)

    def candidate_status(self, candidate_id: str) -> queries.CandidateStatus | None:
        return self._read(queries.candidate_status, candidate_id)

    def trajectory(self) -> list[queries.TrajectoryRow]:
        return self._read(queries.trajectory)

    def finished_episode_ids(self) -> set[str]:
        return self._read(queries.finished_episode_ids)

    def finished_evaluations(self, candidate_id: str | None = None) -> set[tuple[str, str, str, int]]:
        return self._read(queries.finished_evaluations, candidate_id)

    def get_blob(self, sha256: str) -> str:
        """The whole text of a blob, its segments reassembled (evolve/store/texts.py)."""
        return self._read(stored_texts.read_blob, sha256)

    def get_blobs(self, shas: list[str]) -> dict[str, str]:
        """sha256 -> whole text for many blobs in two queries; hashes not stored are left out."""
        return self._read(stored_texts.read_blobs, shas)

    def footprint(self) -> dict[str, Any]:
        """What the records weigh: bytes of every blob as written and as kept (each segment
        once), the database file's bytes, and each per episode (texts.footprint)."""
        return self._read(stored_texts.footprint, getattr(self, "path", None))

    def run_info(self) -> dict | None:
        return self._read(queries.run_info)

    def query(self, sql: str, params: list | None = None) -> list[dict]:
        """Ad-hoc SQL (tables and views of evolve/store/README.md), rows as dicts."""
        return self._read(queries._rows, sql, params)


class StoreReader(Reads):
    """A read-only view of a run's database; `source` says whether it is live or a snapshot."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, source: str):
        self._con = con
        self.path = path
        self.source = source  # "live": autodata.duckdb itself; "snapshot": the published copy
        self.snapshot_mtime = path.stat().st_mtime if source == "snapshot" else None

    @classmethod
    def open(cls, run_dir: str | Path, timeout_s: float = 10.0) -> "StoreReader":
        run_dir = Path(run_dir)
        main, snap = run_dir / DB_NAME, run_dir / SNAPSHOT_NAME
        if not main.exists() and not snap.exists():
            raise UserError(f"{run_dir}: no {DB_NAME} (not a run folder?)")
        deadline = time.monotonic() + timeout_s
        while True:
            for path, source in ((main, "live"), (snap, "snapshot")):
                con = _try_read_only(path)
                if con is not None:
                    return cls._checked(con, path, source)
            if time.monotonic() > deadline:
                raise UserError(f"{main} is in use and has no read snapshot yet; try again shortly")
            time.sleep(0.1)

    @classmethod
    def _checked(cls, con: duckdb.DuckDBPyConnection, path: Path, source: str) -> "StoreReader":
        try:
            version = check_version(con, str(path))
            if version < latest_version():
                raise UserError(
                    f"{path}: schema version {version} is older than this autodata's "
                    f"{latest_version()}; open the run once with a writer (`autodata resume`) to migrate"
                )
        except BaseException:
            con.close()
            raise
        return cls(con, path, source)

    def _read(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return fn(self._con, *args, **kwargs)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> "StoreReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _try_read_only(path: Path) -> duckdb.DuckDBPyConnection | None:
    if not path.exists():
        return None
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        if is_busy_error(exc):
            return None
        raise
