"""The writer's hot paths: an episode's rows and a batch of call rows, each with the fewest
statements DuckDB can do them in (every statement costs ~0.3 ms of CPU however few its rows;
a transaction's commit about as much again).

Everything the writer must know before it writes — which blobs and segments are stored, which
call rows exist, whether the evaluation or the episode is recorded — is answered from memory,
by the writer's KnownKeys (evolve/store/keys.py), with no query: a write costs the same on the
first episode as on the 20,000th. What is new is then written by one plain INSERT per table
(no ON CONFLICT: the single writer checked, and a duplicate key would raise). The rows, facts
and texts written are exactly those of the one-query-per-fact path (records.insert_fact/
insert_row). The Python work (JSON, hashes, segments) is done before the writer takes its
lock (`*_plan`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from evolve.store import records as rec
from evolve.store import texts as stored_texts
from evolve.store.keys import KnownKeys
from inner_loop.redact import redact_text


@dataclass
class Known:
    """What `lookup` found stored."""

    blobs: set[str] = field(default_factory=set)  # sha256 in stored_blobs
    texts: dict[int, int] = field(default_factory=dict)  # text_id -> text_check in texts
    calls: set[str] = field(default_factory=set)  # call_id in llm_calls
    evaluated: str | None = None  # the evaluation's episode_id, when it is recorded
    episode: bool = False  # the episode row exists


def lookup(con: duckdb.DuckDBPyConnection, keys: KnownKeys, plan: stored_texts.BlobPlan, *,
           call_ids: Sequence[str] = (), evaluation: Sequence[Any] | None = None,
           episode_id: str | None = None) -> Known:
    """Every point read a write needs, answered from the writer's KnownKeys; the database is
    read only for call_ids whose hash is known (a resume replaying its journal)."""
    known = Known(blobs=keys.stored_blobs(list(plan.unique)), texts=keys.stored_texts(plan.text_ids()))
    maybe = keys.maybe_calls(call_ids)
    if maybe:
        known.calls = {r[0] for r in con.execute(
            "SELECT call_id FROM llm_calls WHERE call_id IN (SELECT unnest(?::VARCHAR[]))",
            [maybe]).fetchall()}
    if evaluation is not None:
        known.evaluated = keys.evaluations.get(tuple(evaluation))
    if episode_id is not None:
        known.episode = episode_id in keys.episodes
    return known


def write_blobs(con: duckdb.DuckDBPyConnection, keys: KnownKeys, plan: stored_texts.BlobPlan,
                known: Known) -> None:
    """texts.write_blobs, its new segments and blobs staged in `keys`."""
    new_texts, new_blobs = stored_texts.write_blobs(con, plan, known.blobs, known.texts, rec.insert_many)
    keys.stage("texts", new_texts)
    keys.stage("blobs", new_blobs)


def put_blobs(con: duckdb.DuckDBPyConnection, keys: KnownKeys, texts: Sequence[str]) -> list[str]:
    """Store each text under its sha256 (an existing hash is a no-op), long ones as segments
    kept once per run; return the hashes. Inside the writer's transaction."""
    plan = stored_texts.BlobPlan(texts)
    blobs = keys.stored_blobs(list(plan.unique))
    plan.cut(blobs)
    write_blobs(con, keys, plan, Known(blobs=blobs, texts=keys.stored_texts(plan.text_ids())))
    return plan.shas


def redacted(record: dict[str, Any]) -> dict[str, Any]:
    """The record with its error text redacted: an error may quote a URL with its secrets."""
    if isinstance(record.get("error"), str):
        return {**record, "error": redact_text(record["error"])}
    return record


@dataclass
class EpisodePlan:
    """An episode's rows and its record blob, prepared outside the writer's lock."""

    episode: rec.EpisodeRow
    rounds: list[rec.RoundRow]
    blob: stored_texts.BlobPlan
    evaluation: dict[str, Any] | None  # None: an UNSCORED_STATUSES episode, not a score


def episode_plan(record: dict[str, Any], candidate_id: str, purpose: str, repeat: int,
                 iteration: int) -> EpisodePlan:
    record = redacted(record)
    blob = stored_texts.BlobPlan([rec.canonical_json(record)]).cut()
    episode, rounds = rec.episode_rows(record, candidate_id, purpose, repeat, iteration,
                                       blob.shas[0])
    evaluation = None if episode.status in rec.UNSCORED_STATUSES else {
        "candidate_id": candidate_id, "paper_id": episode.paper_id, "purpose": purpose,
        "repeat": repeat, "iteration": iteration, "accepted": episode.accepted,
        "rounds": episode.rounds, "episode_id": episode.episode_id}
    return EpisodePlan(episode, rounds, blob, evaluation)


def write_episode(con: duckdb.DuckDBPyConnection, keys: KnownKeys, plan: EpisodePlan, purpose: str,
                  repeat: int) -> str:
    """The episode, its rounds, its record and its evaluation (inside the writer's
    transaction); nothing when (candidate, paper, purpose, repeat) is already evaluated:
    the episode_id on record is returned."""
    ep = plan.episode
    evaluation = (ep.candidate_id, ep.paper_id, purpose, repeat)
    known = lookup(con, keys, plan.blob, evaluation=evaluation, episode_id=ep.episode_id)
    if known.evaluated is not None:
        return known.evaluated
    write_blobs(con, keys, plan.blob, known)
    if not known.episode:
        rec.insert_many(con, "episodes", [ep.model_dump()], on_conflict=False)
        keys.stage("episode", ep.episode_id)
    # An episode row and its rounds are written together: a new episode has no rounds.
    rec.insert_many(con, "episode_rounds", [r.model_dump() for r in plan.rounds],
                    on_conflict=known.episode)
    if plan.evaluation is not None:  # checked absent above, in this transaction
        rec.insert_many(con, "evaluations", [plan.evaluation], on_conflict=False)
        keys.stage("evaluation", (evaluation, ep.episode_id))
    return ep.episode_id


@dataclass
class PreparedCall:
    """A CallRecord dict (its error redacted) with the canonical JSON of its messages and
    response, computed once: for the store's blobs and for the journal line."""

    record: dict[str, Any]
    texts: list[str]

    @classmethod
    def of(cls, record: dict[str, Any]) -> "PreparedCall":
        record = redacted(record)
        return cls(record, rec.call_texts(record))

    def journal_line(self) -> bytes:
        """The record as one JSON line (json.loads gives back exactly the record), its messages
        and response spliced in as the texts already made; valid UTF-8 (records.canonical_json
        escapes a lone surrogate)."""
        big = {"messages": self.texts[0] if "messages" in self.record else None,
               "response": "null" if self.record.get("response") is None else self.texts[-1]}
        pieces = [f'"{k}":{v}' for k, v in big.items() if k in self.record and v is not None]
        rest = rec.canonical_json({k: v for k, v in self.record.items() if k not in big})
        if rest != "{}":
            pieces.append(rest[1:-1])
        return ("{" + ",".join(pieces) + "}\n").encode("utf-8")


def calls_plan(calls: Sequence[PreparedCall], context: dict[str, Any]
               ) -> tuple[list[dict[str, Any]], stored_texts.BlobPlan]:
    """The llm_calls rows of a batch (each validated: records.call_row) and its blobs."""
    rows, texts = [], []
    for call in calls:
        row, row_texts = rec.call_row(call.record, context, call.texts)
        rows.append(row.model_dump())
        texts.extend(row_texts)
    return rows, stored_texts.BlobPlan(texts).cut()


def write_calls(con: duckdb.DuckDBPyConnection, keys: KnownKeys, rows: list[dict[str, Any]],
                blobs: stored_texts.BlobPlan) -> int:
    """The batch's blobs and its call rows not yet stored (the first of a call_id repeated in
    the batch), inside the writer's transaction; returns how many rows were new."""
    known = lookup(con, keys, blobs, call_ids=[r["call_id"] for r in rows])
    write_blobs(con, keys, blobs, known)
    fresh: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["call_id"] not in known.calls:
            fresh.setdefault(row["call_id"], row)
    rec.insert_many(con, "llm_calls", list(fresh.values()), on_conflict=False)
    keys.stage("calls", list(fresh))
    return len(fresh)
