"""What the writer knows is stored, held in memory: the keys of every row a write checks before
it inserts, loaded once when the Store opens, so a write's cost does not grow with the run.

DuckDB answers `key IN (a list)` with a scan of the key column (a hash join, an index is not
used), so the writer's lookups of stored segments, blobs and call rows cost in proportion to
the run's rows (a 233-iteration run holds ~20x the default run's 168k segments). Here:

- segments (`texts`): text_id -> text_check, in a sorted int64 array pair (16 bytes a row);
- blobs (`stored_blobs`): each sha256 as its 32 bytes, in a sorted array (32 bytes a row);
- call rows (`llm_calls`): a 64-bit hash of each call_id, in a sorted array (8 bytes a row), a
  filter: a call_id whose hash is not there is new; one whose hash is there is read from the
  database (`maybe_calls`), so a hash shared by two call_ids never drops a row;
- evaluations and episodes: in dicts (a run has a few thousand).

Rows added since the last merge sit in dicts and are merged into the arrays once they are
more than MERGE_MIN + 1/16 of them (a merge is one sorted insert, linear in the array).
What a transaction adds is staged and only kept when it commits (`commit` / `discard`): the
Store has the only connection that writes (DuckDB's file lock), so memory and file agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import duckdb
import numpy as np

MERGE_MIN = 4096


class SortedKeys:
    """A set of keys (with an int64 value each, optionally): a sorted numpy array plus the keys
    added since the last merge."""

    def __init__(self, dtype: str, keys: Sequence[Any], values: Sequence[int] | None = None):
        self._dtype = dtype
        arr = np.asarray(keys, dtype=dtype)
        order = np.argsort(arr, kind="stable")
        self._keys = arr[order]
        self._values = None if values is None else np.asarray(values, dtype=np.int64)[order]
        self._recent: dict[Any, int] = {}

    def __len__(self) -> int:
        return len(self._keys) + len(self._recent)

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays (the recent dict's few keys aside)."""
        return self._keys.nbytes + (0 if self._values is None else self._values.nbytes)

    def get(self, keys: Sequence[Any]) -> dict[Any, int]:
        """key -> its value (0 for a set without values), for the keys present."""
        out = {k: self._recent[k] for k in keys if k in self._recent}
        if not len(self._keys) or not keys:
            return out
        wanted = np.asarray(keys, dtype=self._dtype)
        at = np.minimum(np.searchsorted(self._keys, wanted), len(self._keys) - 1)
        for i in np.flatnonzero(self._keys[at] == wanted).tolist():
            out[keys[i]] = 0 if self._values is None else int(self._values[at[i]])
        return out

    def add(self, items: dict[Any, int]) -> None:
        self._recent.update(items)
        if len(self._recent) > MERGE_MIN + len(self._keys) // 16:
            self._merge()

    def _merge(self) -> None:
        keys = np.asarray(list(self._recent), dtype=self._dtype)
        order = np.argsort(keys, kind="stable")
        at = np.searchsorted(self._keys, keys[order])
        self._keys = np.insert(self._keys, at, keys[order])
        if self._values is not None:
            values = np.asarray(list(self._recent.values()), dtype=np.int64)[order]
            self._values = np.insert(self._values, at, values)
        self._recent.clear()


def call_hash(call_id: str) -> int:
    return hash(call_id)  # 64-bit; per process (PYTHONHASHSEED), and so is this index


class KnownKeys:
    """The writer's in-memory index of stored keys (see the module docstring)."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        tids, checks = con.execute("SELECT text_id, text_check FROM texts").fetchnumpy().values()
        self.texts = SortedKeys("int64", tids, checks)
        shas = con.execute("SELECT sha256 FROM stored_blobs").fetchnumpy()["sha256"]
        self.blobs = SortedKeys("S32", [bytes.fromhex(s) for s in shas])
        calls = con.execute("SELECT call_id FROM llm_calls").fetchnumpy()["call_id"]
        self.calls = SortedKeys("int64", [call_hash(c) for c in calls])
        self.evaluations: dict[tuple, str] = {
            tuple(r[:4]): r[4] for r in con.execute(
                "SELECT candidate_id, paper_id, purpose, repeat, episode_id FROM evaluations").fetchall()}
        self.episodes: set[str] = {r[0] for r in con.execute("SELECT episode_id FROM episodes").fetchall()}
        self._staged: list[tuple[str, Any]] = []

    def nbytes(self) -> int:
        """Bytes held by the arrays (segments, blobs, call hashes)."""
        return self.texts.nbytes + self.blobs.nbytes + self.calls.nbytes

    # -- reads: what is stored (committed, or staged by the current transaction) ---------------

    def stored_texts(self, text_ids: Iterable[int]) -> dict[int, int]:
        ids = list(text_ids)
        found = self.texts.get(ids)
        for kind, item in self._staged:
            if kind == "texts":
                found.update({t: item[t] for t in ids if t in item})
        return found

    def stored_blobs(self, shas: Sequence[str]) -> set[str]:
        found = {k.hex() for k in self.blobs.get([bytes.fromhex(s) for s in shas])}
        staged = {s for kind, item in self._staged if kind == "blobs" for s in item}
        return found | staged.intersection(shas)

    def maybe_calls(self, call_ids: Sequence[str]) -> list[str]:
        """The call_ids that may be stored (their hash is known): to be read from the database."""
        hashes = [call_hash(c) for c in call_ids]
        known = self.calls.get(hashes)
        staged = {c for kind, item in self._staged if kind == "calls" for c in item}
        return [c for c, h in zip(call_ids, hashes) if h in known or c in staged]

    # -- writes: staged in the transaction, kept when it commits -------------------------------

    def stage(self, kind: str, item: Any) -> None:
        """kind: texts {text_id: check}, blobs [sha256], calls [call_id],
        evaluation (key, episode_id), episode episode_id."""
        self._staged.append((kind, item))

    def discard(self) -> None:
        self._staged.clear()

    def commit(self) -> None:
        for kind, item in self._staged:
            if kind == "texts":
                self.texts.add(item)
            elif kind == "blobs":
                self.blobs.add({bytes.fromhex(s): 0 for s in item})
            elif kind == "calls":
                self.calls.add({call_hash(c): 0 for c in item})
            elif kind == "evaluation":
                self.evaluations[item[0]] = item[1]
            else:
                self.episodes.add(item)
        self._staged.clear()
