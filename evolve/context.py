"""The run's context: what one process driving a run holds (evolve/run.py builds it).

`RunSettings` is what a run adds to the configuration (`--set run.<field>=...`); `RunConfig` is
`config.json`: the resolved configuration of the run (thresholds included, API keys never: the
config only names the env vars that hold them) and its settings, everything needed to resume the
run exactly. `RunContext` holds the run folder's paths (`RunPaths`), the store, the harness repo,
the model client with what is left of the budgets, the papers of both splits, the progress line
and the run's text log (`logs/run.log`, appended to across resumes).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from datetime import datetime, timezone
from pathlib import Path

from pydantic import Field, ValidationError

from inner_loop.thresholds import recorded_rules
from inner_loop.config import BudgetConfig
from inner_loop.errors import UserError
from inner_loop.strict import Strict, first_error
from inner_loop.executor import open_executor
from inner_loop.llm.client import LLMClient
from inner_loop.papers import select_papers
from evolve.config import Config
from evolve.paths import RunPaths
from evolve.progress import RunProgress, best_accepted
from evolve.repo import HarnessRepo
from evolve.store import CallBuffer, Store
from evolve.store.journal import CallJournal

SEED_HARNESS = Path(__file__).resolve().parents[1] / "harness"


class RunSettings(Strict):
    """What a run adds to Config; set with `--set run.<field>=<value>`."""

    validation_limit: int | None = Field(default=None, ge=1)  # first N validation papers
    corpus_path: str | None = None  # None: the bundled corpus
    split_path: str | None = None  # None: the bundled 50/25 split
    seed_harness: str = str(SEED_HARNESS)


class RunConfig(Strict):
    """config.json: everything needed to resume the run exactly."""

    run_id: str
    created_at: str
    simulated: bool
    preset: str
    thresholds: dict[str, float | bool | None]
    config: Config
    settings: RunSettings

    def public_dump(self) -> dict:
        """What config.json and DuckDB hold: secrets in URLs redacted."""
        return {**self.model_dump(mode="json"), "config": self.config.public_dump()}

    def public_json(self) -> str:
        return json.dumps(self.public_dump(), sort_keys=True)


def make_run_config(config: Config, settings: RunSettings, run_id: str) -> RunConfig:
    return RunConfig(
        run_id=run_id, created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        simulated=config.simulated, **recorded_rules(config), config=config, settings=settings,
    )


def read_run_config(run_dir: Path) -> RunConfig:
    path = RunPaths(run_dir).config
    if not path.is_file():
        raise UserError(f"{run_dir} is not a run folder: {path.name} not found")
    try:
        rc = RunConfig.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        why = first_error(exc, model=RunConfig, count=True)
        raise UserError(f"{path}: invalid run config: {why}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: unreadable run config: {exc}") from None
    for role in rc.config.redacted_roles():
        raise UserError(f"{path}: config.roles.{role}.base_url: its login details were redacted "
                        f"when the run was written; put them back in that key to resume")
    return rc


def write_json(path: Path, data: object) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def open_log(paths: RunPaths, run_id: str) -> logging.Logger:
    """The run's text log (logs/run.log), appended to across resumes."""
    paths.logs.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"autodata.run.{run_id}.{id(paths)}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = logging.FileHandler(paths.log, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    return logger


def close_log(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        handler.close()
        logger.removeHandler(handler)


_TAG = re.compile(r"^it(\d+)/([^/]+)")


def spent_so_far(store: Store) -> tuple[float, int]:
    """(USD, uncached calls) already recorded for the run: budgets count across resumes."""
    row = store.query("SELECT coalesce(sum(cost_usd), 0) AS usd, "
                      "count(*) FILTER (WHERE NOT cached) AS calls FROM llm_calls")[0]
    return float(row["usd"]), int(row["calls"])


def budget_left(budget: BudgetConfig, usd: float, calls: int) -> BudgetConfig:
    """What is left of the run's hard budgets (wall time counts per process)."""
    return BudgetConfig(
        max_usd=None if budget.max_usd is None else max(0.0, budget.max_usd - usd),
        max_calls=None if budget.max_calls is None else max(0, budget.max_calls - calls),
        max_wall_s=budget.max_wall_s,
    )


class RunContext:
    """One process driving a run: config, store, harness repo, LLM client, papers, progress.

    It is also where the run's episode jobs run and are recorded (`evolve.jobs.Site`)."""

    def __init__(self, run_dir: Path, rc: RunConfig, store: Store, repo: HarnessRepo, *,
                 show_progress: bool = True):
        self.paths, self.rc, self.config = RunPaths(run_dir), rc, rc.config
        self.store, self.repo = store, repo
        self.log = open_log(self.paths, rc.run_id)
        self.calls = CallBuffer(store, journal=CallJournal(run_dir))  # no row lost on SIGKILL
        self.usd_before, calls_before = spent_so_far(store)
        budget = budget_left(self.config.budget, self.usd_before, calls_before)
        self.client = LLMClient(self.config.model_copy(update={"budget": budget}),
                                recorder=self._record, cache_path=self.paths.llm_cache)
        s = rc.settings
        self.train = select_papers(s.corpus_path, s.split_path, "train")
        self.validation = select_papers(s.corpus_path, s.split_path, "validation",
                                        limit=s.validation_limit)
        self.progress = RunProgress(self.config.evolve.iterations, simulated=rc.simulated,
                                    enabled=show_progress)
        self.stop_reason: str | None = None
        self._lock = threading.Lock()
        self.executor = open_executor(self.config.executor)  # where episodes run (evolve/jobs.py)
        self.work_dir = self.paths.work

    def _record(self, record: object) -> None:
        row = record.model_dump(mode="json")  # type: ignore[attr-defined]
        match = _TAG.match(row.get("tag", ""))
        if match:
            row["iteration"], row["candidate_id"] = int(match.group(1)), match.group(2)
        self.calls(row)

    def stop(self, reason: str) -> None:
        with self._lock:
            if self.stop_reason is None:
                self.stop_reason = reason
                self.log.info("stopping: %s", reason)
                self.progress.note(f"stopping: {reason}")

    def point_main(self) -> None:
        """Branch `main` (harness/'s files) to the best accepted candidate."""
        best = best_accepted(self.store)
        sha = self.repo.ref_sha(best) if best else None
        if sha is not None:
            self.repo.point_main(sha)

    def best_score(self) -> float:
        return max((s for s, _ in self.store.candidate_scores(accepted_only=True).values()),
                   default=0.0)

    def counts(self) -> dict[str, int]:
        out = {"accepted": 0, "rejected": 0, "invalid": 0}
        for row in self.store.candidate_statuses():
            if row.candidate_id != "seed" and row.status in out:
                out[row.status] += 1
        return out

    def spend_usd(self) -> float:
        return self.usd_before + self.client.snapshot().total.cost_usd

    def iteration_done(self, n: int, candidate_id: str, status: str) -> None:
        done = len(self.store.query("SELECT iteration FROM iterations"))
        self.log.info("iteration %d: %s %s", n, candidate_id, status)
        self.progress.update(done, best=self.best_score(), counts=self.counts(),
                             spend_usd=self.spend_usd(),
                             event=f"iteration {n} {candidate_id} {status}")

    def close(self) -> None:
        self.executor.close()
        self.calls.close()
        self.client.close()
        self.progress.close()
        close_log(self.log)
