"""The call journal: every LLM call record on disk before the call returns to its episode.

DuckDB is fed call rows in batches (CallBuffer), so a SIGKILL between batches would lose the
rows still buffered, and recorded spend would under-count what the endpoint billed. The journal
closes that gap: each record is appended to the current segment `<run_dir>/logs/calls/*.jsonl`
with one plain `write` (no fsync per call: a killed process loses nothing the kernel holds;
only a power loss may), and a batch's segment is deleted once DuckDB has committed its rows.
On resume, `replay` writes whatever the segments hold that DuckDB lacks (rows are keyed by
call_id, so a row already written is skipped) and removes them. A torn last line (a write cut
by a power loss) is skipped and counted.

Nothing model-written is interpreted here: lines are JSON parsed only into dicts for the store,
which validates every row (evolve/store/records.py).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from collections.abc import Sequence
from typing import Any, Protocol

JOURNAL_DIR = "logs/calls"


class CallSink(Protocol):
    """Where replayed rows go: the run's writer (evolve.store.writer.Store)."""

    def record_calls(self, call_records: Sequence[dict[str, Any]], iteration: int | None = None,
                     candidate_id: str | None = None) -> int: ...


class CallJournal:
    """Append-only segments; `rotate()` starts a new one and returns the finished one."""

    def __init__(self, run_dir: str | Path):
        self.dir = Path(run_dir) / JOURNAL_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._n = 0
        self._path, self._fd = self._open()

    def _open(self) -> tuple[Path, int]:
        self._n += 1
        path = self.dir / f"{time.time_ns():020d}-{os.getpid()}-{self._n:06d}.jsonl"
        return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def append(self, row: dict[str, Any]) -> None:
        """One line, one write(2): on disk (in the kernel) when this returns."""
        line = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
        try:
            data = (line + "\n").encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate in model-written text: escaped, exactly
            data = (json.dumps(row, separators=(",", ":")) + "\n").encode("ascii")
        self.write_line(data)

    def write_line(self, data: bytes) -> None:
        """One line made already (UTF-8 JSON ending in a newline: batch.PreparedCall), one
        write(2)."""
        with self._lock:
            written = os.write(self._fd, data)
            while written < len(data):  # a short write (a signal, a full pipe) is continued
                written += os.write(self._fd, data[written:])

    def rotate(self) -> Path:
        """Close the current segment, start a new one; the closed one is returned (delete it
        once its rows are in DuckDB). Call with the buffer's rows taken in the same step."""
        with self._lock:
            old_path, old_fd = self._path, self._fd
            self._path, self._fd = self._open()
        os.close(old_fd)
        return old_path

    def close(self) -> Path:
        with self._lock:
            os.close(self._fd)
            self._fd = -1
            return self._path


def read_segment(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The rows of one segment and how many lines were unreadable (a torn last line)."""
    rows, bad = [], 0
    for line in path.read_bytes().split(b"\n"):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            bad += 1
            continue
        if isinstance(row, dict) and "call_id" in row:
            rows.append(row)
        else:
            bad += 1
    return rows, bad


def replay(store: CallSink, run_dir: str | Path) -> tuple[int, int]:
    """Write the journal's rows that DuckDB lacks, then remove the segments:
    (rows added, unreadable lines skipped)."""
    folder = Path(run_dir) / JOURNAL_DIR
    added = skipped = 0
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        rows, bad = read_segment(path)
        try:
            added += store.record_calls(rows)
        except ValueError:  # a row the store refuses: the others still count, one by one
            for row in rows:
                try:
                    added += store.record_calls([row])
                except ValueError:
                    bad += 1
        skipped += bad
        path.unlink()
    return added, skipped
