"""Finding runs and reading their state: `autodata runs`, and the helpers every report shares.

A run folder is `results/<run_id>/` with `autodata.duckdb` (and, while live, the read snapshot
`autodata.read.duckdb`), `config.json`, `harness/` and `run.lock` while a process drives it.
Status of a run:
  running      `run.lock` names a live process (pid and kernel start time match)
  finished     the last run event is `finished`, or `stopped` by a budget (`detail` says which)
  failed       the last run event is `failed`
  unreadable   its database or config cannot be read (corrupt, truncated, newer schema); the
               reason is in `detail`, the other runs are listed as usual
  interrupted  no live lock, and the run was stopped by a signal (`stopped`, detail `signal:
               SIGTERM` / `signal: SIGINT`, or `interrupted` before those were handled) or never
               recorded an end (killed, machine lost); `autodata resume` continues it
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
from pydantic import BaseModel, ConfigDict

from evolve.final import final_result
from evolve.lock import alive
from evolve.progress import best_accepted
from evolve.paths import CONFIG_FILE, LOCK_FILE
from evolve.store import DB_NAME, SNAPSHOT_NAME, StoreReader
from evolve.store.db import failure_cause
from inner_loop.errors import UserError

DEFAULT_RESULTS = Path("results")
READ_STATEMENTS = {duckdb.StatementType.SELECT}


class RunOverview(BaseModel):
    """One line of `autodata runs`."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    run_dir: str
    created_at: str | None
    status: str  # running | finished | failed | interrupted | unreadable
    detail: str = ""
    simulated: bool | None
    iterations: int
    iteration_budget: int | None
    accepted: int
    rejected: int
    invalid: int
    seed_pass_rate: float | None
    best_pass_rate: float | None
    best_candidate: str | None
    spend_usd: float
    llm_calls: int
    source: str | None  # live | snapshot | None (no database yet)
    # the best by the final re-evaluation (evolve/final.py) with its 95 % interval; None: not run
    final_candidate: str | None = None
    final_pass_rate: float | None = None
    final_interval: tuple[float, float] | None = None


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and any((path / n).exists() for n in (DB_NAME, SNAPSHOT_NAME, CONFIG_FILE))


def resolve_run(run: str, results: str | Path | None = None) -> Path:
    """RUN as a run folder path, else as a run id under `results` (default `results/`)."""
    path = Path(run)
    if is_run_dir(path):
        return path
    under = Path(results or DEFAULT_RESULTS) / run
    if is_run_dir(under):
        return under
    raise UserError(f"no run {run!r}: not a run folder, nor a run id under {results or DEFAULT_RESULTS}/")


@contextmanager
def open_reader(run_dir: Path) -> Iterator[StoreReader]:
    """A read-only view of the run's database (the snapshot while a writer holds the file)."""
    if not ((run_dir / DB_NAME).exists() or (run_dir / SNAPSHOT_NAME).exists()):
        raise UserError(f"{run_dir}: no {DB_NAME} yet (the run has not started writing)")
    reader = StoreReader.open(run_dir)
    try:
        yield reader
    finally:
        reader.close()


def lock_alive(run_dir: Path) -> bool:
    """True when `run.lock` names a live process (the run is being driven now)."""
    try:
        owner = json.loads((run_dir / LOCK_FILE).read_text() or "{}")
    except (FileNotFoundError, json.JSONDecodeError):
        return False
    pid = owner.get("pid")
    return isinstance(pid, int) and alive(pid, owner.get("start"))


def run_status(run_dir: Path, last_event: str | None, detail: str = "") -> str:
    if lock_alive(run_dir):
        return "running"
    if last_event == "finished" or (last_event == "stopped" and detail != "interrupted"
                                    and not detail.startswith("signal")):
        return "finished"
    if last_event == "failed":
        return "failed"
    return "interrupted"


def run_config(reader: StoreReader | None, run_dir: Path) -> dict[str, Any]:
    """The run's recorded configuration (RunConfig JSON: config, preset, thresholds, settings)."""
    info = reader.run_info() if reader is not None else None
    if info is not None:
        rows = reader.query("SELECT config_json FROM runs LIMIT 1")  # type: ignore[union-attr]
        return json.loads(rows[0]["config_json"])
    try:
        config = json.loads((run_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return config if isinstance(config, dict) else {}


def candidate_stats(reader: StoreReader) -> dict[str, dict[str, float | int | None]]:
    """candidate_id -> pass_rate, n_evaluations and se (standard error of the mean over the
    candidate's validation evaluations, each 0/1; None below two evaluations)."""
    rows = reader.query(
        "SELECT candidate_id, avg(accepted::INT) AS pass_rate, count(*) AS n, "
        "stddev_samp(accepted::INT) AS sd FROM evaluations WHERE purpose = 'validation' "
        "GROUP BY candidate_id")
    return {r["candidate_id"]: {"pass_rate": r["pass_rate"], "n_evaluations": r["n"],
                                "se": None if r["sd"] is None else r["sd"] / math.sqrt(r["n"])}
            for r in rows}


def status_counts(reader: StoreReader) -> dict[str, int]:
    """Attempts (the seed excluded) by final status."""
    counts = {"accepted": 0, "rejected": 0, "invalid": 0, "committing": 0, "in_progress": 0}
    for row in reader.query("SELECT status, count(*) AS n FROM candidate_status "
                            "WHERE candidate_id <> 'seed' GROUP BY status"):
        counts[row["status"]] = row["n"]
    return counts


def best_candidate(reader: StoreReader) -> str | None:
    return best_accepted(reader)


def overview(run_dir: Path) -> RunOverview:
    """The `autodata runs` line of one run folder (works while the run is live)."""
    config = run_config(None, run_dir)
    budget = (config.get("config") or {}).get("evolve", {}).get("iterations")
    base: dict[str, Any] = dict(
        run_id=config.get("run_id", run_dir.name), run_dir=str(run_dir),
        created_at=config.get("created_at"), simulated=config.get("simulated"),
        iterations=0, iteration_budget=budget, accepted=0, rejected=0, invalid=0,
        seed_pass_rate=None, best_pass_rate=None, best_candidate=None, spend_usd=0.0,
        llm_calls=0, source=None)
    if not ((run_dir / DB_NAME).exists() or (run_dir / SNAPSHOT_NAME).exists()):
        return RunOverview(**base, status=run_status(run_dir, None))
    with open_reader(run_dir) as reader:
        info = reader.run_info() or {}
        stats = candidate_stats(reader)
        best = best_candidate(reader)
        counts = status_counts(reader)
        spend = reader.query("SELECT coalesce(sum(cost_usd), 0) AS usd, count(*) AS n FROM llm_calls")[0]
        done = reader.query("SELECT count(*) AS n FROM iterations")[0]["n"]
        base.update(
            run_id=info.get("run_id", base["run_id"]), simulated=info.get("simulated", base["simulated"]),
            created_at=(info["created_at"].isoformat(timespec="seconds") if info.get("created_at")
                        else base["created_at"]),
            iterations=done, accepted=counts["accepted"], rejected=counts["rejected"],
            invalid=counts["invalid"], seed_pass_rate=(stats.get("seed") or {}).get("pass_rate"),
            best_pass_rate=(stats.get(best) or {}).get("pass_rate") if best else None,
            best_candidate=best, spend_usd=float(spend["usd"]), llm_calls=int(spend["n"]),
            source=reader.source, **final_fields(reader))
        event = info.get("status")
    detail = info.get("detail") or ""
    status = run_status(run_dir, event, detail)
    if event == "stopped" and status == "finished":
        detail = f"stopped: {detail}" if detail else "stopped"
    return RunOverview(**base, status=status, detail=detail)


def final_fields(reader: StoreReader) -> dict[str, Any]:
    """RunOverview's final_* fields from the recorded final re-evaluation (empty when none)."""
    final = final_result(reader)
    if final is None or final.best is None or final.best.estimate is None:
        return {}
    e = final.best.estimate
    return {"final_candidate": final.best.candidate_id, "final_pass_rate": e.mean,
            "final_interval": (e.low, e.high)}


def list_runs(results: str | Path | None = None) -> list[RunOverview]:
    """Every run folder under `results`, newest first."""
    root = Path(results or DEFAULT_RESULTS)
    if not root.is_dir():
        raise UserError(f"no results folder {root}")
    runs = [_overview_or_unreadable(p) for p in sorted(root.iterdir()) if is_run_dir(p)]
    return sorted(runs, key=lambda r: (r.created_at or "", r.run_id), reverse=True)


def _overview_or_unreadable(run_dir: Path) -> RunOverview:
    """One bad run (a corrupt database, a newer schema, an unreadable file) never hides the
    others: it is listed as `unreadable` with the reason in `detail`."""
    try:
        return overview(run_dir)
    except (UserError, duckdb.Error, OSError, ValueError) as exc:
        cause = None if isinstance(exc, UserError) else failure_cause(exc)
        reason = cause.split(":")[0] if cause else " ".join(str(exc).split())
        return RunOverview(
            run_id=run_dir.name, run_dir=str(run_dir), created_at=None, status="unreadable",
            detail=reason[:300], simulated=None, iterations=0, iteration_budget=None,
            accepted=0, rejected=0, invalid=0, seed_pass_rate=None, best_pass_rate=None,
            best_candidate=None, spend_usd=0.0, llm_calls=0, source=None)


def run_sql(run_dir: Path, sql: str) -> tuple[list[str], list[tuple]]:
    """(column names, rows) of one read-only statement over the run's database.

    The statement check (one SELECT-type statement: SELECT, WITH, FROM, DESCRIBE, SHOW,
    SUMMARIZE) gives clear errors; the real guard is the connection itself, opened read-only by
    StoreReader, with external access (files, URLs, other databases) switched off and the
    configuration locked before the user's statement runs."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise UserError(f"bad SQL: {_one_line(exc)}") from None
    if len(statements) != 1:
        raise UserError(f"give exactly one statement, not {len(statements)}")
    if statements[0].type not in READ_STATEMENTS:
        raise UserError(f"only read statements (SELECT, WITH, DESCRIBE, SHOW), not {statements[0].type.name}")
    with open_reader(run_dir) as reader:
        return reader._read(_guarded, sql)


def _guarded(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[tuple]]:
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    try:
        cur = con.execute(sql)
        return [d[0] for d in cur.description or []], cur.fetchall()
    except duckdb.Error as exc:
        raise UserError(f"bad SQL: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}%}"


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Plain aligned text (no colour: safe to pipe); None prints as '-'."""
    return format_grid(columns, [[r.get(c) for c in columns] for r in rows])


def format_grid(columns: Sequence[str], values: Sequence[Sequence[Any]]) -> str:
    cells = [["-" if v is None else " ".join(str(v).split()) for v in row] for row in values]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)
