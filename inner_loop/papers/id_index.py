"""`IdIndex`: paper id -> one small value, on disk, so memory does not grow with the corpus.

What keeps one entry per paper (the loaders' duplicate check, the S2ORC join's metadata index,
`generate`'s record of the papers already done) keeps it here: a private temporary SQLite
database (`sqlite3.connect("")`), which SQLite holds in its page cache up to `cache_kb` and
spills to a file in the temp dir past that; the file is deleted when the index is closed.
Memory is therefore bounded by the cache (2 MB by default) whatever the number of ids; the disk
it takes is about (id length + value length + 20) bytes per entry. Lookups and inserts cost a
few microseconds, nothing next to parsing a paper.

Values are str, int, float or None (SQLite stores each as given). One thread uses an index at
a time (the loaders run in their consumer's thread).
"""

from __future__ import annotations

import sqlite3
from types import TracebackType

Value = str | int | float | None
_MISSING = object()


class IdIndex:
    """A key -> value map in a private temporary SQLite database."""

    def __init__(self, cache_kb: int = 2048):
        self._db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
        self._db.execute(f"PRAGMA cache_size = -{max(64, int(cache_kb))}")
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute("CREATE TABLE ids (id TEXT PRIMARY KEY, value) WITHOUT ROWID")
        self._db.execute("BEGIN")  # one open transaction: nothing is ever committed to disk
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def __contains__(self, key: str) -> bool:
        return self._row(key) is not None

    def get(self, key: str, default: Value = None) -> Value:
        row = self._row(key)
        return default if row is None else row[0]

    def put(self, key: str, value: Value = None) -> None:
        """Set `key` (a later value replaces an earlier one)."""
        if self._row(key) is None:
            self._n += 1
        self._db.execute("INSERT OR REPLACE INTO ids VALUES (?, ?)", (key, value))

    def add(self, key: str, value: Value = None) -> tuple[bool, Value]:
        """Set `key` unless it is there: (True, value) when added, (False, its value) if not."""
        row = self._row(key)
        if row is not None:
            return False, row[0]
        self._db.execute("INSERT INTO ids VALUES (?, ?)", (key, value))
        self._n += 1
        return True, value

    def pop(self, key: str, default: object = _MISSING) -> Value:
        row = self._row(key)
        if row is None:
            if default is _MISSING:
                raise KeyError(key)
            return default  # type: ignore[return-value]
        self._db.execute("DELETE FROM ids WHERE id = ?", (key,))
        self._n -= 1
        return row[0]

    def _row(self, key: str) -> tuple[Value] | None:
        if not isinstance(key, str):
            raise TypeError(f"ids are strings, got {type(key).__name__}")
        return self._db.execute("SELECT value FROM ids WHERE id = ?", (key,)).fetchone()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> IdIndex:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
