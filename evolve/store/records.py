"""Typed rows and the insert functions of the run database (called inside one transaction).

Every insert is append-only and idempotent: recording the same fact twice is a no-op (ON
CONFLICT DO NOTHING on the table's key), recording a *different* fact under the same key is a bug
and raises ValueError. Candidate states follow TRANSITIONS; facts and their state change are
written together by the Store (evolve/store/db.py), in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from typing import Any, Literal

import duckdb
from pydantic import BaseModel, ConfigDict

from evolve.store import texts as stored_texts

State = Literal["selected", "proposing", "proposed", "validating", "invalid", "scoring", "scored",
                "committing", "accepted", "rejected"]
Purpose = Literal["validation", "minibatch", "smoke", "final", "evaluate"]
FinalStatus = Literal["invalid", "rejected", "accepted"]

# state -> the states that may follow it. None: no event yet. `committing` first: the seed only.
TRANSITIONS: dict[str | None, frozenset[str]] = {
    None: frozenset({"selected", "committing"}),
    "selected": frozenset({"proposing", "proposed", "invalid"}),
    "proposing": frozenset({"proposed", "invalid"}),
    "proposed": frozenset({"validating", "invalid"}),
    "validating": frozenset({"scoring", "invalid"}),
    "scoring": frozenset({"scored"}),
    "scored": frozenset({"rejected", "committing"}),
    "committing": frozenset({"accepted"}),
    "invalid": frozenset(), "rejected": frozenset(), "accepted": frozenset(),
}

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

# Episode statuses that say nothing about the candidate (the run's budget ran out, the trusted
# runtime failed): the episode is recorded, but no evaluation, so resume scores that paper again.
UNSCORED_STATUSES = frozenset({"budget", "runtime_error", "infrastructure"})

# The keys a call record (inner_loop.llm.accounting.CallRecord.model_dump()) may carry, plus the
# context the Store adds. Anything else is refused, so no unexpected field (an API key) slips in.
CALL_KEYS = frozenset({
    "call_id", "role", "model", "endpoint", "tag", "sample_index", "seed", "messages", "response",
    "started_at", "duration_ms", "attempts", "error_kinds", "cost_usd", "cached", "simulated",
    "error", "run_id", "iteration", "candidate_id",
})


class Row(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EpisodeRow(Row):
    episode_id: str
    candidate_id: str
    iteration: int
    paper_id: str
    purpose: Purpose
    repeat: int
    status: str
    accepted: bool
    rounds: int
    record_blob: str
    cost_usd: float
    duration_ms: float
    error: str | None = None


class RoundRow(Row):
    episode_id: str
    round: int
    outcome: str
    failed_rule: str | None = None
    weak_avg: float | None = None
    strong_avg: float | None = None


class LLMCallRow(Row):
    call_id: str
    run_id: str | None
    iteration: int | None
    candidate_id: str | None
    role: str
    model: str
    endpoint: str
    tag: str
    sample_index: int
    seed: int
    started_at: datetime
    duration_ms: float
    attempts: int
    error_kinds: list[str]
    input_tokens: int
    output_tokens: int
    cached_tokens: int  # of input_tokens, served from the endpoint's prefix cache (migration 003)
    cost_usd: float
    cached: bool
    simulated: bool
    request_blob: str
    response_blob: str | None
    error: str | None


def now() -> datetime:
    return datetime.now(timezone.utc)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 as it is; a lone surrogate (model-written text may hold
    one, UTF-8 cannot) as its JSON escape, so json.loads gives back exactly `value`."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    if stored_texts.storable(text) is text:
        return text
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def insert_row(con: duckdb.DuckDBPyConnection, table: str, row: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when the row was new."""
    cols = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    sql = f"INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING RETURNING 1"
    return bool(con.execute(sql, list(row.values())).fetchall())


def insert_many(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]], *,
                on_conflict: bool = True) -> None:
    """One INSERT ... SELECT of the rows, bound column-wise (one list parameter per column,
    zipped back into rows by `unnest`), ON CONFLICT DO NOTHING. DuckDB runs `executemany` row by
    row, and binds a multi-row VALUES statement one parameter at a time (each statement parsed
    afresh): both several times slower for the same rows. Every row has the keys of the first.

    on_conflict=False: a plain INSERT (about half the cost of a small one), only for rows the
    caller has just checked are new, in the same transaction (a duplicate key then raises).
    One row: a VALUES statement (~0.4 ms of CPU less than unnesting one-element lists)."""
    if not rows:
        return
    cols = list(rows[0])
    names = ", ".join(cols)
    conflict = " ON CONFLICT DO NOTHING" if on_conflict else ""
    if len(rows) == 1:
        marks = ", ".join("?" for _ in cols)
        con.execute(f"INSERT INTO {table} ({names}) VALUES ({marks}){conflict}",
                    [rows[0][c] for c in cols])
        return
    unnested = ", ".join(f"unnest(?) AS {c}" for c in cols)
    con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM (SELECT {unnested})"
                f"{conflict}", [[r[c] for r in rows] for c in cols])


def last_event(con: duckdb.DuckDBPyConnection, candidate_id: str) -> tuple[int, str] | None:
    return con.execute(
        "SELECT seq, state FROM candidate_events WHERE candidate_id = ? ORDER BY seq DESC LIMIT 1",
        [candidate_id],
    ).fetchone()


def append_event(con: duckdb.DuckDBPyConnection, candidate_id: str, iteration: int, state: str,
                 detail: str = "") -> bool:
    """Append a state transition; False (no row) when the attempt is already in `state`."""
    last = last_event(con, candidate_id)
    current = last[1] if last else None
    if current == state:
        return False
    if state not in TRANSITIONS.get(current, frozenset()):
        raise ValueError(f"candidate {candidate_id}: illegal transition {current} -> {state}")
    seq = last[0] + 1 if last else 0
    con.execute(
        "INSERT INTO candidate_events (candidate_id, seq, iteration, state, occurred_at, detail) "
        "VALUES (?, ?, ?, ?, ?, ?)", [candidate_id, seq, iteration, state, now(), detail],
    )
    return True


def insert_fact(con: duckdb.DuckDBPyConnection, table: str, key: str, row: dict[str, Any],
                compare: tuple[str, ...]) -> bool:
    """Insert a write-once fact; the same fact again is a no-op, a different one a ValueError."""
    cols = ", ".join(compare)
    existing = con.execute(f"SELECT {cols} FROM {table} WHERE {key} = ?", [row[key]]).fetchone()
    if existing is None:
        return insert_row(con, table, row)
    wanted = tuple(row[c] for c in compare)
    if tuple(existing) != wanted:
        raise ValueError(f"{table}: {row[key]} already recorded as {existing}, not {wanted}")
    return False


def iteration_of(con: duckdb.DuckDBPyConnection, candidate_id: str) -> int:
    found = con.execute("SELECT iteration FROM candidates WHERE candidate_id = ?", [candidate_id]).fetchone()
    if found is None:
        raise ValueError(f"unknown candidate {candidate_id}: record_candidate first")
    return found[0]


def _text_or_none(value: Any) -> Any:
    """A model-quoting text column as DuckDB can hold it (a lone surrogate becomes U+FFFD)."""
    return stored_texts.storable(value) if isinstance(value, str) else value


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None


def episode_cost_usd(record: dict[str, Any]) -> float:
    """`cost_usd` of the record, else the sum of `usage[role].cost_usd`."""
    if isinstance(record.get("cost_usd"), (int, float)):
        return float(record["cost_usd"])
    usage = record.get("usage")
    if isinstance(usage, dict):
        return float(sum(_get(u, "cost_usd") or 0.0 for u in usage.values()))
    return 0.0


def episode_rows(record: dict[str, Any], candidate_id: str, purpose: str, repeat: int,
                 iteration: int, record_blob: str) -> tuple[EpisodeRow, list[RoundRow]]:
    """The episode row and its round rows from an EpisodeRecord dict (loosely coupled)."""
    rounds = record.get("rounds") or []
    episode_id = sha256_hex(canonical_json([candidate_id, purpose, repeat, record_blob]))
    episode = EpisodeRow(
        episode_id=episode_id, candidate_id=candidate_id, iteration=iteration,
        paper_id=str(record["paper_id"]), purpose=purpose, repeat=repeat,
        status=str(record.get("status", "")), accepted=bool(record.get("accepted", False)),
        rounds=len(rounds), record_blob=record_blob, cost_usd=episode_cost_usd(record),
        duration_ms=float(record.get("duration_ms") or 0.0), error=_text_or_none(record.get("error")),
    )
    round_rows = [
        RoundRow(
            episode_id=episode_id, round=int(r.get("index", i)), outcome=str(r.get("outcome", "")),
            failed_rule=r.get("failed_rule"), weak_avg=_get(r.get("weak"), "avg"),
            strong_avg=_get(r.get("strong"), "avg"),
        )
        for i, r in enumerate(rounds)
    ]
    return episode, round_rows


def call_texts(record: dict[str, Any]) -> list[str]:
    """The blob texts a CallRecord dict names: its messages' canonical JSON, its response's."""
    response = record.get("response")
    return [canonical_json(record.get("messages", []))] + (
        [] if response is None else [canonical_json(response)])


def call_row(record: dict[str, Any], context: dict[str, Any],
             texts: list[str] | None = None) -> tuple[LLMCallRow, list[str]]:
    """One llm_calls row from a CallRecord dict, and the blob texts (request, response) it
    names (`texts`: call_texts(record), when the caller has them already)."""
    unknown = set(record) - CALL_KEYS
    if unknown:
        raise ValueError(f"call record has fields the llm_calls table does not know: {sorted(unknown)}")
    merged = {**context, **{k: record[k] for k in context if record.get(k) is not None}}
    response = record.get("response")
    usage = _get(response, "usage") or {}
    texts = call_texts(record) if texts is None else texts
    row = LLMCallRow(
        call_id=record["call_id"], run_id=merged.get("run_id"), iteration=merged.get("iteration"),
        candidate_id=merged.get("candidate_id"), role=record["role"], model=record["model"],
        endpoint=record["endpoint"], tag=record.get("tag", ""), sample_index=record.get("sample_index", 0),
        seed=record.get("seed", 0), started_at=record["started_at"], duration_ms=record["duration_ms"],
        attempts=record["attempts"], error_kinds=list(record.get("error_kinds", [])),
        input_tokens=int(usage.get("input_tokens", 0)), output_tokens=int(usage.get("output_tokens", 0)),
        cached_tokens=int(usage.get("cached_tokens", 0)),
        cost_usd=float(record.get("cost_usd", 0.0)), cached=bool(record.get("cached", False)),
        simulated=bool(record.get("simulated", False)), request_blob=sha256_hex(texts[0]),
        response_blob=sha256_hex(texts[1]) if response is not None else None,
        error=_text_or_none(record.get("error")),
    )
    return row, texts
