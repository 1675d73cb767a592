"""Read queries of the run database: plain functions of a connection, shared by writer and readers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

import duckdb
from pydantic import BaseModel, ConfigDict


class Row(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrajectoryRow(Row):
    iteration: int
    candidate_id: str
    parent_id: str | None
    commit_sha: str | None
    status: str
    pass_rate: float | None
    n_evaluations: int
    best_so_far: float | None


class CandidateStatus(Row):
    candidate_id: str
    iteration: int
    parent_id: str | None
    created_at: datetime
    state: str | None
    status: str  # in_progress, invalid, rejected, committing, accepted
    reason: str | None
    policy: str | None
    child_mean: float | None
    parent_mean: float | None
    commit_sha: str | None
    summary: str | None
    diff_blob: str | None
    diagnosis_blob: str | None


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, values)) for values in cur.fetchall()]


def candidate_scores(con: duckdb.DuckDBPyConnection, accepted_only: bool = False) -> dict[str, tuple[float, int]]:
    """candidate_id -> (validation pass rate over all its evaluations, number of evaluations)."""
    sql = "SELECT candidate_id, pass_rate, n_evaluations FROM candidate_scores"
    if accepted_only:
        sql += " JOIN candidate_status USING (candidate_id) WHERE status = 'accepted'"
    return {cid: (rate, n) for cid, rate, n in con.execute(sql + " ORDER BY candidate_id").fetchall()}


class Outcome(NamedTuple):
    """One evaluation as the outer loop reads it: did the candidate's episode pass."""

    candidate_id: str
    paper_id: str
    repeat: int
    passed: bool


def outcomes(con: duckdb.DuckDBPyConnection, candidate_id: str | None = None,
             purpose: str = "validation", upto: int | None = None,
             iteration: int | None = None) -> list[Outcome]:
    """The evaluations under `purpose`, by candidate, paper and repeat: of one candidate (or all);
    paid for by iterations <= `upto` or by iteration `iteration` (neither given: by any).

    The one place evaluations become pass lists: the view an iteration selects from, the scores
    its decision compares, racing's tallies and the re-evaluations all read them here."""
    sql = "SELECT candidate_id, paper_id, repeat, accepted FROM evaluations WHERE purpose = ?"
    params: list = [purpose]
    if candidate_id is not None:
        sql += " AND candidate_id = ?"
        params.append(candidate_id)
    paid = [(c, v) for c, v in (("iteration <= ?", upto), ("iteration = ?", iteration))
            if v is not None]
    if paid:
        sql += " AND (" + " OR ".join(c for c, _ in paid) + ")"
        params += [v for _, v in paid]
    rows = con.execute(sql + " ORDER BY candidate_id, paper_id, repeat", params).fetchall()
    return [Outcome(c, p, r, bool(a)) for c, p, r, a in rows]


def by_candidate(rows: Iterable[Outcome]) -> dict[str, list[float]]:
    """candidate_id -> pass (1.0) / fail (0.0) per evaluation, in the rows' order."""
    out: dict[str, list[float]] = {}
    for r in rows:
        out.setdefault(r.candidate_id, []).append(1.0 if r.passed else 0.0)
    return out


def by_paper(rows: Iterable[Outcome]) -> dict[str, list[float]]:
    """paper_id -> pass (1.0) / fail (0.0) per evaluation, in the rows' order."""
    out: dict[str, list[float]] = {}
    for r in rows:
        out.setdefault(r.paper_id, []).append(1.0 if r.passed else 0.0)
    return out


class RefusalRow(Row):
    tool: str
    kind: str  # escape | protected
    path: str
    reason: str


def refusals(con: duckdb.DuckDBPyConnection, candidate_id: str) -> list[RefusalRow]:
    """The paths the candidate's implementer was refused, in the order it tried them."""
    return [RefusalRow(**r) for r in _rows(
        con, "SELECT tool, kind, path, reason FROM refusals WHERE candidate_id = ? ORDER BY seq",
        [candidate_id])]


def attempt_states(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """candidate_id -> the last state its attempt reached."""
    return dict(con.execute(
        "SELECT candidate_id, state FROM candidate_events "
        "QUALIFY row_number() OVER (PARTITION BY candidate_id ORDER BY seq DESC) = 1 ORDER BY candidate_id"
    ).fetchall())


def candidate_statuses(con: duckdb.DuckDBPyConnection) -> list[CandidateStatus]:
    return [CandidateStatus(**r) for r in _rows(con, "SELECT * FROM candidate_status ORDER BY iteration")]


def candidate_status(con: duckdb.DuckDBPyConnection, candidate_id: str) -> CandidateStatus | None:
    rows = _rows(con, "SELECT * FROM candidate_status WHERE candidate_id = ?", [candidate_id])
    return CandidateStatus(**rows[0]) if rows else None


def trajectory(con: duckdb.DuckDBPyConnection) -> list[TrajectoryRow]:
    return [TrajectoryRow(**r) for r in _rows(con, "SELECT * FROM pass_rate_trajectory ORDER BY iteration")]


def finished_episode_ids(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT episode_id FROM episodes").fetchall()}


def finished_evaluations(con: duckdb.DuckDBPyConnection,
                         candidate_id: str | None = None) -> set[tuple[str, str, str, int]]:
    """{(candidate_id, paper_id, purpose, repeat)} already scored: never pay for them again."""
    sql = "SELECT candidate_id, paper_id, purpose, repeat FROM evaluations"
    params: list = []
    if candidate_id is not None:
        sql += " WHERE candidate_id = ?"
        params.append(candidate_id)
    return {tuple(r) for r in con.execute(sql, params).fetchall()}  # type: ignore[misc]


def get_blob(con: duckdb.DuckDBPyConnection, sha256: str) -> str:
    found = con.execute("SELECT text FROM blobs WHERE sha256 = ?", [sha256]).fetchone()
    if found is None:
        raise KeyError(f"no blob {sha256}")
    return found[0]


def run_info(con: duckdb.DuckDBPyConnection) -> dict | None:
    """The run row with its latest status (run_status view), or None before record_run."""
    rows = _rows(con, "SELECT * FROM run_status LIMIT 1")
    return rows[0] if rows else None
