"""Long texts stored once per run: a blob is kept as the list of its segments, each segment once.

Where a run's bytes are (measured on a small evolve run, see README.md "Lighter records"): in
the episode records' transcripts and in the llm_calls request blobs, as the same paper text,
protected prompt parts and replies, written again for every call and every episode. Whole
texts rarely repeat (a prompt = a fixed part + the paper + what varies), their segments do.

So a blob of at least WHOLE_CHARS characters is cut by `segments` (cut points are content
defined: after a line break, at the start of a JSON string value, between two JSON objects;
a segment ends at a cut once it holds MIN_SEGMENT_CHARS and the piece before the cut hashes to
0 mod SELECT_MOD, so the same paper text is cut the same way in every prompt that quotes it).
Each segment is a `texts` row, addressed by its sha256's first 16 bytes as two signed BIGINTs
(`text_id`, `text_check`), and the blob's `stored_blobs` row lists its text_ids in `parts`. Shorter blobs keep their
whole `text`, as every blob did before migration 004 (those rows are read as they are).

Reading: `read_blobs` (Python; the sha256 of every reassembled text is checked) and the view
`blobs`, which reassembles every blob in SQL, so queries written for the old table still read
the same text. A text_id shared by two different segments (a 64-bit collision, by chance or
made on purpose) never mixes them up: the blob whose segment collides is stored whole. Unique
keys are the writer's job (one writer; it knows every stored key from memory, keys.py): an
index on `texts` would weigh more on disk than the texts it deduplicates.

Texts that are not valid UTF-8 (a lone surrogate, which DuckDB cannot hold) are stored with
each lone surrogate replaced by U+FFFD (`storable`); JSON texts keep it exactly, escaped
(records.canonical_json).
"""

from __future__ import annotations

import hashlib
import os
import re
import zlib
from collections.abc import Callable, Container, Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb

WHOLE_CHARS = 1024  # a blob shorter than this keeps its whole text
MIN_SEGMENT_CHARS = 512
SELECT_MOD = 2
_CUT = re.compile(r'\\n|\n|":"|\},\{')
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def storable(text: str) -> str:
    """`text` as DuckDB can hold it: a lone surrogate (not UTF-8) becomes U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub("\ufffd", text)
    return text


def text_key(text: str) -> tuple[int, int]:
    """(text_id, text_check) of a segment: bytes 0-7 and 8-15 of its sha256, signed BIGINTs."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return (int.from_bytes(digest[:8], "big", signed=True),
            int.from_bytes(digest[8:16], "big", signed=True))


def segments(text: str) -> list[str]:
    """`text` cut at content-defined points; "".join(segments(text)) == text."""
    out: list[str] = []
    start = piece = 0
    for match in _CUT.finditer(text):
        end = match.end()
        if end - start >= MIN_SEGMENT_CHARS and \
                zlib.crc32(text[piece:end].encode("utf-8", "surrogatepass")) % SELECT_MOD == 0:
            out.append(text[start:end])
            start = end
        piece = end
    if start < len(text) or not out:
        out.append(text[start:])
    return out


def _known(con: duckdb.DuckDBPyConnection, sql: str, keys: Iterable[Any], cast: str) -> list[tuple]:
    keys = list(keys)
    if not keys:
        return []
    return con.execute(sql.format(f"(SELECT unnest(?::{cast}[]))"), [keys]).fetchall()


class BlobPlan:
    """Texts prepared for storing, before any database access: each text as DuckDB can hold
    it, its sha256, and (texts of at least WHOLE_CHARS) its segments with their keys."""

    def __init__(self, texts: Iterable[str]):
        texts = [storable(t) for t in texts]
        self.shas = [sha256_hex(t) for t in texts]
        self.unique = dict(zip(self.shas, texts))
        self.cuts: dict[str, list[tuple[int, int, str]]] = {}  # sha -> (text_id, check, segment)

    def cut(self, skip: Container[str] = ()) -> "BlobPlan":
        """Cut the long texts into segments and key them; hashes in `skip` (known to be
        stored) are not cut."""
        self.cuts = {sha: [(*text_key(seg), seg) for seg in segments(text)]
                     for sha, text in self.unique.items()
                     if len(text) >= WHOLE_CHARS and sha not in skip}
        return self

    def text_ids(self) -> set[int]:
        return {tid for cut in self.cuts.values() for tid, _check, _seg in cut}


def write_blobs(con: duckdb.DuckDBPyConnection, plan: BlobPlan, known: set[str],
                stored: dict[int, int], insert_many: Callable[..., None]
                ) -> tuple[dict[int, int], list[str]]:
    """Write the blobs of `plan` whose hashes are not in `known` (hashes already stored), long
    ones as segments kept once per run; `stored`: text_id -> text_check of the `texts` rows
    among `plan.text_ids()` (the writer's KnownKeys). Inside the writer's transaction; returns
    what it wrote: the new segments (text_id -> text_check) and the new blobs' hashes."""
    new = {sha: text for sha, text in plan.unique.items() if sha not in known}
    plans: dict[str, list[int] | None] = {}
    pending: dict[int, tuple[int, str]] = {}  # text_id -> (text_check, segment)
    for sha, text in new.items():
        plans[sha] = None
        if len(text) < WHOLE_CHARS:
            continue
        ids, mine = [], {}
        for tid, check, seg in plan.cuts[sha]:
            if pending.get(tid, mine.get(tid, (check,)))[0] != check:
                break  # a collision with another segment of this batch: stored whole
            mine[tid] = (check, seg)
            ids.append(tid)
        else:
            pending.update(mine)
            plans[sha] = ids
    stored = {tid: check for tid, check in stored.items() if tid in pending}
    clashes = {tid for tid, check in stored.items() if check != pending[tid][0]}
    used: set[int] = set()
    for sha, ids in plans.items():
        if ids is not None and clashes.intersection(ids):
            plans[sha] = None  # a segment collides with a stored one: this blob is stored whole
        elif ids is not None:
            used.update(ids)
    fresh = [tid for tid in sorted(used) if tid not in stored]
    insert_many(con, "texts", [{"text_id": tid, "text_check": pending[tid][0], "text": pending[tid][1],
                                "n_chars": len(pending[tid][1])} for tid in fresh], on_conflict=False)
    insert_many(con, "stored_blobs", [{"sha256": sha, "text": new[sha] if ids is None else None,
                                       "n_chars": len(new[sha]), "parts": ids}
                                      for sha, ids in plans.items()], on_conflict=False)
    return {tid: pending[tid][0] for tid in fresh}, list(plans)


def read_blobs(con: duckdb.DuckDBPyConnection, shas: Sequence[str]) -> dict[str, str]:
    """sha256 -> the whole text, reassembled from its segments and checked against its hash;
    a hash that is not stored is left out."""
    rows = _known(con, "SELECT sha256, text, parts FROM stored_blobs WHERE sha256 IN {}",
                  set(shas), "VARCHAR")
    wanted = {tid for _, _, parts in rows if parts for tid in parts}
    # two steps: the row numbers from the text_id column alone, then only those rows' texts
    # (one semi-join reading text for the whole table is 2-3x slower on a default run's 168k)
    rows_at = [r[0] for r in _known(con, "SELECT rowid FROM texts WHERE text_id IN {}", wanted, "BIGINT")]
    found = dict(_known(con, "SELECT text_id, text FROM texts WHERE rowid IN {}", rows_at, "BIGINT"))
    out = {}
    for sha, text, parts in rows:
        if parts is not None:
            missing = [tid for tid in parts if tid not in found]
            text = "".join(found.get(tid, "") for tid in parts)
            if missing or sha256_hex(text) != sha:
                raise ValueError(f"blob {sha} does not reassemble to its hash "
                                 f"({len(missing)} of {len(parts)} segments missing): the database is corrupt")
        out[sha] = text
    return out


def read_blob(con: duckdb.DuckDBPyConnection, sha: str) -> str:
    """The whole text of one blob (KeyError when it is not stored)."""
    found = read_blobs(con, [sha])
    if sha not in found:
        raise KeyError(f"no blob {sha}")
    return found[sha]


def footprint(con: duckdb.DuckDBPyConnection, db_path: str | Path | None = None) -> dict[str, Any]:
    """What a run's records weigh: episodes, calls, the UTF-8 bytes of every blob as written
    (`logical_bytes`) and as stored (`stored_bytes`: whole texts plus each segment once), the
    database file's size (`file_bytes`, when `db_path` is given), and those per episode."""
    episodes, calls = con.execute("SELECT (SELECT count(*) FROM episodes), "
                                  "(SELECT count(*) FROM llm_calls)").fetchone()
    n_blobs, whole = con.execute("SELECT count(*), coalesce(sum(strlen(text)), 0) "
                                 "FROM stored_blobs").fetchone()
    n_texts, segs = con.execute("SELECT count(*), coalesce(sum(strlen(text)), 0) FROM texts").fetchone()
    logical = con.execute("SELECT coalesce(sum(strlen(text)), 0) FROM blobs").fetchone()[0]
    out: dict[str, Any] = {"episodes": episodes, "calls": calls, "blobs": n_blobs, "texts": n_texts,
                           "logical_bytes": int(logical), "stored_bytes": int(whole + segs)}
    if db_path is not None:
        out["file_bytes"] = os.path.getsize(db_path)
    for key in ("logical_bytes", "stored_bytes", "file_bytes"):
        if key in out:
            out[key.replace("_bytes", "_bytes_per_episode")] = out[key] / max(episodes, 1)
    return out
