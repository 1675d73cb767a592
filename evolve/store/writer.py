"""The single writer of a run's database: typed, append-only, idempotent records.

Each `record_*` method is one short transaction that writes a fact and, where the fact moves an
attempt forward, its candidate_events row with it. Thread-safe: one lock guards the connection,
so concurrent iterations of one process share one Store. LLM calls are written in batches
(`record_calls`, or a CallBuffer: evolve/store/calls.py), never one transaction per call.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from evolve.store import batch
from evolve.store import records as rec
from evolve.store.checks import refuse_unsafe
from evolve.store.db import DB_NAME, Reads, SnapshotPublisher, connect_with_retry
from evolve.store.keys import KnownKeys
from evolve.store.migrate import migrate
from inner_loop.errors import UserError

SEED_ID = "seed"
EVENT_STATES = frozenset({"proposing", "validating", "scoring", "scored"})
DECISION_EVENT = {"invalid": "invalid", "rejected": "rejected", "accepted": "committing"}


class Store(Reads):
    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, snapshot_interval_s: float):
        self._con = con
        self.path = path
        self._lock = threading.RLock()
        self._publisher = SnapshotPublisher(con, path, self._lock, snapshot_interval_s)
        self._closed = False
        self._run: str | None = None  # runs.run_id, once recorded
        self._keys = KnownKeys(con)  # what is stored, for the writes' lookups (keys.py)

    @classmethod
    def open(cls, run_dir: str | Path, create: bool = False, lock_timeout_s: float = 60.0,
             snapshot_interval_s: float = 2.0) -> "Store":
        """Open (or with create=True, create) `<run_dir>/autodata.duckdb`, migrated to the latest schema."""
        path = Path(run_dir) / DB_NAME
        if not path.exists() and not create:
            raise UserError(f"{run_dir}: no {DB_NAME} (not a run folder?)")
        if path.exists():
            refuse_unsafe(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        con = connect_with_retry(path, read_only=False, timeout_s=lock_timeout_s)
        try:
            # The writer runs small statements (a handful of rows, a batch of calls, a snapshot
            # copy): DuckDB's worker threads only add scheduling CPU to each (~25% of a write).
            con.execute("SET threads = 1")
            migrate(con, str(path))
        except BaseException:
            con.close()
            raise
        store = cls(con, path, snapshot_interval_s)
        store._publisher.publish()
        return store

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._publisher.close()
            self._con.close()
            self._closed = True

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def snapshot_path(self) -> Path:
        return self._publisher.snapshot_path

    def publish_snapshot(self) -> None:
        """Publish the read snapshot now (it is otherwise published at most every interval)."""
        with self._lock:
            if self._closed:
                raise ValueError("store is closed")
            self._publisher.publish()

    def _read(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            if self._closed:
                raise ValueError("store is closed")
            return fn(self._con, *args, **kwargs)

    @contextmanager
    def _write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock:
            if self._closed:
                raise ValueError("store is closed")
            self._con.execute("BEGIN TRANSACTION")
            try:
                yield self._con
            except BaseException:
                self._keys.discard()  # what this transaction staged is not written
                self._con.execute("ROLLBACK")
                raise
            try:
                self._con.execute("COMMIT")
            except BaseException:
                self._keys.discard()  # a failed COMMIT rolls the transaction back
                raise
            self._keys.commit()
            self._publisher.wrote()

    # -- the run ------------------------------------------------------------------------------

    def record_run(self, run_id: str, config_json: str, seed_harness_digest: str, simulated: bool) -> bool:
        """The run row (once) and its `created` event; True when new."""
        with self._write() as con:
            row = {"run_id": run_id, "created_at": rec.now(), "config_json": config_json,
                   "seed_harness_digest": seed_harness_digest, "simulated": simulated}
            new = rec.insert_fact(con, "runs", "run_id", row, ("run_id", "seed_harness_digest", "simulated"))
            if new:
                self._run_event(con, run_id, "created", "")
            return new

    def record_run_event(self, status: str, detail: str = "") -> None:
        with self._write() as con:
            run_id = con.execute("SELECT run_id FROM runs LIMIT 1").fetchone()
            if run_id is None:
                raise ValueError("record_run first")
            self._run_event(con, run_id[0], status, detail)

    @staticmethod
    def _run_event(con: duckdb.DuckDBPyConnection, run_id: str, status: str, detail: str) -> None:
        seq = con.execute("SELECT coalesce(max(seq) + 1, 0) FROM run_events WHERE run_id = ?", [run_id]).fetchone()[0]
        rec.insert_row(con, "run_events", {"run_id": run_id, "seq": seq, "occurred_at": rec.now(),
                                           "status": status, "detail": detail})

    def put_blob(self, text: str) -> str:
        with self._write() as con:
            return batch.put_blobs(con, self._keys, [text])[0]

    # -- attempts -----------------------------------------------------------------------------

    def record_candidate(self, iteration: int, candidate_id: str, parent_id: str) -> bool:
        """An attempt begins: its row (iteration, parent) and the `selected` event."""
        with self._write() as con:
            row = {"candidate_id": candidate_id, "iteration": iteration, "parent_id": parent_id,
                   "created_at": rec.now()}
            new = rec.insert_fact(con, "candidates", "candidate_id", row, ("iteration", "parent_id"))
            if new:
                rec.append_event(con, candidate_id, iteration, "selected", f"parent {parent_id}")
            return new

    def record_candidate_event(self, candidate_id: str, state: str, detail: str = "") -> bool:
        """A step without a fact of its own: proposing, validating, scoring, scored.

        False when the attempt is already in `state` (resume re-entering it)."""
        if state not in EVENT_STATES:
            raise ValueError(f"state {state!r} is written by its record_* method, not as a bare event")
        with self._write() as con:
            return rec.append_event(con, candidate_id, rec.iteration_of(con, candidate_id), state, detail)

    def record_proposal(self, candidate_id: str, diff: str, diagnosis: str, summary: str,
                        changed_paths: Sequence[dict[str, Any]] = (),
                        refusals: Sequence[dict[str, Any]] = ()) -> bool:
        """The analyzer's diagnosis, the implementer's git diff and the paths it was refused
        (`refusals` rows: tool, kind, path, reason); moves the attempt to `proposed`."""
        with self._write() as con:
            diff_blob = batch.put_blobs(con, self._keys, [diff])[0] if diff else None
            diag_blob = batch.put_blobs(con, self._keys, [diagnosis])[0] if diagnosis else None
            row = {"candidate_id": candidate_id, "diagnosis_blob": diag_blob, "diff_blob": diff_blob,
                   "summary": summary, "changed_paths_json": json.dumps(list(changed_paths)),
                   "created_at": rec.now()}
            new = rec.insert_fact(con, "proposals", "candidate_id", row, ("diagnosis_blob", "diff_blob"))
            if new:
                for seq, refusal in enumerate(refusals):
                    rec.insert_row(con, "refusals", {"candidate_id": candidate_id, "seq": seq, **refusal})
                rec.append_event(con, candidate_id, rec.iteration_of(con, candidate_id), "proposed", summary)
            return new

    def record_decision(self, candidate_id: str, status: str, reason: str = "", policy: str | None = None,
                        child_mean: float | None = None, parent_mean: float | None = None) -> bool:
        """invalid / rejected end the attempt; accepted moves it to `committing` (commit follows)."""
        if status not in DECISION_EVENT:
            raise ValueError(f"decision status must be invalid, rejected or accepted, not {status!r}")
        with self._write() as con:
            row = {"candidate_id": candidate_id, "status": status, "reason": reason, "policy": policy,
                   "child_mean": child_mean, "parent_mean": parent_mean, "decided_at": rec.now()}
            new = rec.insert_fact(con, "decisions", "candidate_id", row, ("status",))
            if new:
                rec.append_event(con, candidate_id, rec.iteration_of(con, candidate_id),
                                 DECISION_EVENT[status], reason)
            return new

    def record_commit(self, candidate_id: str, commit_sha: str) -> bool:
        """The git commit of an accepted candidate exists (ref included): the attempt is `accepted`."""
        with self._write() as con:
            decided = con.execute("SELECT status FROM decisions WHERE candidate_id = ?", [candidate_id]).fetchone()
            if decided is None or decided[0] != "accepted":
                raise ValueError(f"candidate {candidate_id}: commit without an accepted decision")
            row = {"candidate_id": candidate_id, "commit_sha": commit_sha, "committed_at": rec.now()}
            new = rec.insert_fact(con, "commits", "candidate_id", row, ("commit_sha",))
            if new:
                rec.append_event(con, candidate_id, rec.iteration_of(con, candidate_id), "accepted", commit_sha)
            return new

    def record_seed(self, commit_sha: str, summary: str = "seed harness") -> bool:
        """The seed harness as candidate `seed` (iteration 0): accepted, committed at `commit_sha`."""
        with self._write() as con:
            row = {"candidate_id": SEED_ID, "iteration": 0, "parent_id": None, "created_at": rec.now()}
            if not rec.insert_fact(con, "candidates", "candidate_id", row, ("iteration", "parent_id")):
                return False
            rec.insert_row(con, "decisions", {"candidate_id": SEED_ID, "status": "accepted", "reason": summary,
                                              "policy": None, "child_mean": None, "parent_mean": None,
                                              "decided_at": rec.now()})
            rec.append_event(con, SEED_ID, 0, "committing", summary)
            rec.insert_row(con, "commits", {"candidate_id": SEED_ID, "commit_sha": commit_sha,
                                            "committed_at": rec.now()})
            rec.append_event(con, SEED_ID, 0, "accepted", commit_sha)
            return True

    def record_iteration(self, iteration: int, candidate_id: str, parent_id: str | None, status: str,
                         summary: str, parent_score: float | None, child_score: float | None) -> bool:
        """The one-line outcome of a finished iteration (the history later analyzers read)."""
        with self._write() as con:
            row = {"iteration": iteration, "candidate_id": candidate_id, "parent_id": parent_id,
                   "status": status, "summary": summary, "parent_score": parent_score,
                   "child_score": child_score, "finished_at": rec.now()}
            return rec.insert_fact(con, "iterations", "iteration", row, ("candidate_id", "status"))

    # -- episodes and calls ---------------------------------------------------------------------

    def record_episode(self, record: dict[str, Any], candidate_id: str, purpose: str, repeat: int,
                       iteration: int) -> str:
        """An episode, its rounds and its evaluation, in one transaction; returns the episode_id.

        Idempotent: when (candidate, paper, purpose, repeat) is already evaluated, nothing is written
        and the episode_id on record is returned. An episode whose status is in UNSCORED_STATUSES
        (budget, runtime_error, infrastructure) is recorded without an evaluation: it is not the candidate's score."""
        plan = batch.episode_plan(record, candidate_id, purpose, repeat, iteration)
        with self._write() as con:
            return batch.write_episode(con, self._keys, plan, purpose, repeat)

    def record_calls(self, call_records: Sequence[dict[str, Any]], iteration: int | None = None,
                     candidate_id: str | None = None) -> int:
        """A batch of CallRecord dicts in one transaction; returns how many rows were new."""
        return self.record_prepared_calls([batch.PreparedCall.of(r) for r in call_records],
                                          iteration, candidate_id)

    def record_prepared_calls(self, calls: Sequence[batch.PreparedCall], iteration: int | None = None,
                              candidate_id: str | None = None) -> int:
        """record_calls for calls prepared already (a CallBuffer's: batch.PreparedCall)."""
        if not calls:
            return 0
        context = {"run_id": self._run_id(), "iteration": iteration, "candidate_id": candidate_id}
        rows, blobs = batch.calls_plan(calls, context)
        with self._write() as con:
            return batch.write_calls(con, self._keys, rows, blobs)

    def _run_id(self) -> str | None:
        """The run's id (write-once: kept once read)."""
        if self._run is None:
            found = self._read(lambda con: con.execute("SELECT run_id FROM runs LIMIT 1").fetchone())
            self._run = found[0] if found else None
        return self._run
