"""The run database: one DuckDB file per run (`<run_dir>/autodata.duckdb`). See README.md.

`Store` is the single writer (one per run, thread-safe); `StoreReader` is a read-only view that
works while a run is live (it falls back to the published read snapshot)."""

from evolve.store.db import DB_NAME, SNAPSHOT_NAME, StoreReader
from evolve.store.queries import CandidateStatus, TrajectoryRow
from evolve.store.records import TRANSITIONS
from evolve.store.calls import CallBuffer
from evolve.store.writer import SEED_ID, Store

__all__ = [
    "DB_NAME", "SNAPSHOT_NAME", "SEED_ID", "TRANSITIONS",
    "CallBuffer", "CandidateStatus", "Store", "StoreReader", "TrajectoryRow",
]
