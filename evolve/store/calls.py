"""The LLM client's recorder: call records buffered and written to the store in batches.

DuckDB pays per statement and per transaction, so call rows are never written one per call:
a CallBuffer collects them and hands a batch to `Store.record_calls`. With a CallJournal
(evolve/store/journal.py) every record is on disk before its call returns, so batching loses
nothing to a SIGKILL.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from evolve.store.batch import PreparedCall
from evolve.store.journal import CallJournal
from evolve.store.writer import Store


class CallBuffer:
    """Collects CallRecords (use as the LLM client's recorder) and writes them in batches.

    Flushes when `max_rows` are buffered or the oldest is `max_age_s` old, and on flush()/close().
    With a `journal` (evolve/store/journal.py) each record is on disk before the call returns
    and a batch's journal segment is deleted once DuckDB holds it, so a SIGKILL loses no row
    (resume replays the journal); without one, buffered calls die with the process."""

    def __init__(self, store: Store, iteration: int | None = None, candidate_id: str | None = None,
                 max_rows: int = 64, max_age_s: float = 2.0, journal: CallJournal | None = None):
        self._store, self._iteration, self._candidate_id = store, iteration, candidate_id
        self._max_rows, self._max_age_s = max_rows, max_age_s
        self._journal = journal
        self._rows: list[PreparedCall] = []
        self._first_at = 0.0
        self._lock = threading.Lock()

    def __call__(self, record: Any) -> None:
        call = PreparedCall.of(record.model_dump(mode="json") if hasattr(record, "model_dump")
                               else dict(record))
        with self._lock:
            if self._journal is not None:
                self._journal.write_line(call.journal_line())
            if not self._rows:
                self._first_at = time.monotonic()
            self._rows.append(call)
            due = len(self._rows) >= self._max_rows or time.monotonic() - self._first_at >= self._max_age_s
        if due:
            self.flush()

    def flush(self) -> int:
        with self._lock:
            rows, self._rows = self._rows, []
            segment = self._journal.rotate() if self._journal is not None else None
        added = self._store.record_prepared_calls(rows, self._iteration, self._candidate_id)
        if segment is not None:
            segment.unlink()  # its rows are committed in DuckDB
        return added

    def close(self) -> int:
        added = self.flush()
        if self._journal is not None:
            last = self._journal.close()  # the segment flush() opened: empty unless a call
            if last.stat().st_size == 0:  # came in since (then it is replayed on resume)
                last.unlink()
        return added
