"""A run folder: `results/<run_id>/{harness/, autodata.duckdb, config.json, logs/}`.

`config.json` holds the resolved configuration of the run (thresholds included, API keys never:
the config only names the env vars that hold them) and the run settings the CLI adds. `RunLock`
is a pid lock file so that only one process drives a run at a time; a lock left by a dead process
(kill -9) is stale and taken over. `logs/run.log` is the run's text log.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from inner_loop.acceptance import thresholds_for
from inner_loop.config import BudgetConfig, Config, first_error
from inner_loop.episode import EpisodeRecord
from inner_loop.errors import UserError
from inner_loop.executor import open_executor
from inner_loop.harness import HarnessInvalid, load_harness
from inner_loop.llm.client import LLMClient
from inner_loop.papers import default_corpus_path, default_split_path, select_papers
from inner_loop.redact import redact_text
from inner_loop.sandbox.spawn import remove_workdir
from evolve.progress import RunProgress, RunSummary, best_accepted, summarize
from evolve.repair import open_harness
from evolve.repo import HarnessRepo
from evolve.runcheck import check_unchanged
from evolve.stop import RunInterrupted, Stopper
from evolve.store import CallBuffer, Store
from evolve.store.journal import CallJournal, replay

CONFIG_FILE = "config.json"
LOCK_FILE = "run.lock"
LOG_FILE = "logs/run.log"
SEED_HARNESS = Path(__file__).resolve().parents[1] / "harness"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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


class RunHeld(UserError):
    """Another live process holds the run."""


def new_run_id(seed: int) -> str:
    return f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-s{seed}"


def make_run_config(config: Config, settings: RunSettings, run_id: str) -> RunConfig:
    preset, thresholds = thresholds_for(config)
    return RunConfig(
        run_id=run_id, created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        simulated=config.simulated, preset=preset, thresholds=thresholds.model_dump(),
        config=config, settings=settings,
    )


def default_run_dir(run_id: str) -> Path:
    """`results/<run_id>` (or `-2`, `-3` ...), created here: mkdir is the atomic claim, so two
    runs started in the same second in one results folder get two folders."""
    base = Path("results") / run_id
    path, n = base, 1
    while True:
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")


def prepare_run_dir(run_dir: Path, run_config: RunConfig) -> None:
    """Create the folder (refusing a non-empty one) and write config.json and logs/."""
    busy = UserError(f"run directory {run_dir} exists and is not empty "
                     f"(use `autodata resume {run_dir}` to continue it)")
    if run_dir.exists() and any(run_dir.iterdir()):
        raise busy
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        (run_dir / "logs").mkdir()  # the atomic claim: of two runs racing here, one gets it
    except FileExistsError:
        raise busy from None
    write_json(run_dir / CONFIG_FILE, run_config.public_dump())


def read_run_config(run_dir: Path) -> RunConfig:
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise UserError(f"{run_dir} is not a run folder: {CONFIG_FILE} not found")
    try:
        rc = RunConfig.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise UserError(f"{path}: invalid run config: {first_error(exc, 'config')}") from None
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


def _process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (guards against pid reuse), or None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return start is None or _process_start(pid) in (None, start)


class RunLock:
    """`run.lock` holding `{"pid", "start"}`; a lock of a dead process is stale and replaced."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_FILE
        self.held = False

    def acquire(self) -> None:
        me = {"pid": os.getpid(), "start": _process_start(os.getpid())}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._clear_if_stale()
                continue
            with os.fdopen(fd, "w") as fh:
                json.dump(me, fh)
            self.held = True
            return
        raise RunHeld(f"could not take the lock {self.path}")

    def _clear_if_stale(self) -> None:
        try:
            owner = json.loads(self.path.read_text() or "{}")
        except FileNotFoundError:
            return
        except json.JSONDecodeError:
            owner = {}
        pid = owner.get("pid")
        if isinstance(pid, int) and pid != os.getpid() and _alive(pid, owner.get("start")):
            raise RunHeld(f"run {self.path.parent} is held by another process (pid {pid}); "
                          f"wait for it to end or stop it first")
        self.path.unlink(missing_ok=True)

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def open_log(run_dir: Path, run_id: str) -> logging.Logger:
    """The run's text log (logs/run.log), appended to across resumes."""
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"autodata.run.{run_id}.{id(run_dir)}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = logging.FileHandler(run_dir / LOG_FILE, encoding="utf-8")
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
    """One process driving a run: config, store, harness repo, LLM client, papers, progress."""

    def __init__(self, run_dir: Path, rc: RunConfig, store: Store, repo: HarnessRepo, *,
                 show_progress: bool = True):
        self.run_dir, self.rc, self.config = run_dir, rc, rc.config
        self.store, self.repo = store, repo
        self.log = open_log(run_dir, rc.run_id)
        self.calls = CallBuffer(store, journal=CallJournal(run_dir))  # no row lost on SIGKILL
        self.usd_before, calls_before = spent_so_far(store)
        budget = budget_left(self.config.budget, self.usd_before, calls_before)
        self.client = LLMClient(self.config.model_copy(update={"budget": budget}),
                                recorder=self._record, cache_path=run_dir / "llm_cache.sqlite")
        s = rc.settings
        self.train = select_papers(s.corpus_path, s.split_path, "train")
        self.validation = select_papers(s.corpus_path, s.split_path, "validation",
                                        limit=s.validation_limit)
        self.progress = RunProgress(self.config.evolve.iterations, simulated=rc.simulated,
                                    enabled=show_progress)
        self.stop_reason: str | None = None
        self._lock = threading.Lock()
        self.executor = open_executor(self.config.executor)  # where episodes run (evolve/jobs.py)

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

    def export(self, candidate_id: str, tree: Path) -> Path:
        """A clean copy of a candidate's files (no .git) under candidates/, for its episodes."""
        dest = self.run_dir / "candidates" / candidate_id
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(tree, dest, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        return dest

    def drop_export(self, candidate_id: str) -> None:
        shutil.rmtree(self.run_dir / "candidates" / candidate_id, ignore_errors=True)

    def load_episode(self, candidate_id: str, paper_id: str, purpose: str,
                     repeat: int) -> EpisodeRecord:
        rows = self.store.query(
            "SELECT e.record_blob FROM evaluations v JOIN episodes e USING (episode_id) "
            "WHERE v.candidate_id = ? AND v.paper_id = ? AND v.purpose = ? AND v.repeat = ?",
            [candidate_id, paper_id, purpose, repeat])
        return EpisodeRecord.model_validate_json(self.store.get_blob(rows[0]["record_blob"]))

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


def start_run(config: Config, settings: RunSettings, run_dir: Path | None = None, *,
              show_progress: bool = True) -> RunSummary:
    """A new run folder, then the run (`autodata evolve`)."""
    ev = config.evolve
    for name, value, least in (("iterations", ev.iterations, 0), ("concurrency", ev.concurrency, 1),
                               ("minibatch", ev.minibatch, 1), ("repeats", ev.repeats, 1)):
        if value < least:
            raise UserError(f"evolve.{name} must be >= {least}, got {value}")
    try:
        load_harness(settings.seed_harness)
    except HarnessInvalid as exc:
        raise UserError(f"seed harness {settings.seed_harness}: {exc}") from None
    settings = settings.model_copy(update={  # resolved, so a resume reads the same papers
        "corpus_path": str(Path(settings.corpus_path or default_corpus_path()).resolve()),
        "split_path": str(Path(settings.split_path or default_split_path()).resolve()),
        "seed_harness": str(Path(settings.seed_harness).resolve())})
    for what in ("corpus_path", "split_path"):
        if not Path(getattr(settings, what)).is_file():
            raise UserError(f"run.{what}: no such file: {getattr(settings, what)}")
    check_inputs(config, settings)  # before the run folder exists: bad input creates nothing
    run_id = new_run_id(config.seed)
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(run_id)
    rc = make_run_config(config, settings, run_dir.name)
    prepare_run_dir(run_dir, rc)
    return drive(run_dir, rc, resumed=False, show_progress=show_progress)


def resume_run(run_dir: Path, *, show_progress: bool = True,
               executor: str | None = None) -> RunSummary:
    """Continue a run from its folder (`autodata resume`); `executor` ("local" | "ray") runs
    its episodes there this time (config.json keeps its own: the executor never changes what
    a run computes; its `resumed` event records the one used; a start's is in its config)."""
    rc = read_run_config(Path(run_dir))
    if executor is not None:
        kind = rc.config.executor.model_copy(update={"kind": executor})
        rc = rc.model_copy(update={"config": rc.config.model_copy(update={"executor": kind})})
    return drive(Path(run_dir), rc, resumed=True, show_progress=show_progress)


def check_inputs(config: Config, settings: RunSettings) -> None:
    """The papers of both splits load (a bad corpus or split is refused before the folder)."""
    for subset in ("train", "validation"):
        select_papers(settings.corpus_path, settings.split_path, subset,
                      limit=settings.validation_limit if subset == "validation" else None)


def prepare(run_dir: Path, rc: RunConfig, store: Store, resumed: bool) -> tuple[HarnessRepo, str]:
    """Before any work: config.json checked against DuckDB, git repaired and reconciled, the
    leftovers of a killed process (candidate exports, episode work dirs) removed."""
    recorded = store.query("SELECT run_id, config_json FROM runs LIMIT 1")
    if recorded:  # a resume: config.json must still define the same run
        check_unchanged(str(run_dir / CONFIG_FILE), recorded[0]["run_id"],
                        json.loads(recorded[0]["config_json"]), rc.public_dump())
    repo, repair = open_harness(run_dir, store, rc.settings.seed_harness, rc.run_id)
    store.record_run(rc.run_id, rc.public_json(), repo.tree_sha(repo.seed_sha), rc.simulated)
    report = repo.reconcile(store)
    replayed, torn = replay(store, run_dir)  # call rows a kill left only in the journal
    # exports are copies of scratch trees, made again when needed, and work dirs belong to
    # episodes that a kill abandoned (re-run on resume): either would otherwise stay forever
    shutil.rmtree(run_dir / "candidates", ignore_errors=True)
    remove_workdir(run_dir / "work")  # whatever a harness did to them (chmod 000 ...)
    store.record_run_event("resumed" if resumed else "running",  # where this one runs
                           f"executor {rc.config.executor.kind}" if resumed else "")
    return repo, (f"{'resumed' if resumed else 'started'} run {rc.run_id}; repair: "
                  f"{repair.model_dump_json()}; reconcile: {report.model_dump_json()}; "
                  f"journal: {replayed} call rows replayed, {torn} torn lines skipped")


def drive(run_dir: Path, rc: RunConfig, *, resumed: bool, show_progress: bool) -> RunSummary:
    """Under the run lock: git and DuckDB reconciled, then the loop, then the summary.
    SIGTERM / SIGINT stop it gracefully (evolve/stop.py): RunInterrupted once all is flushed."""
    from evolve.loop import evolve

    with RunLock(run_dir), Stopper(str(run_dir)) as stopper:
        store = Store.open(run_dir, create=True)
        try:
            repo, line = prepare(run_dir, rc, store, resumed)
            ctx = RunContext(run_dir, rc, store, repo, show_progress=show_progress)
            ctx.log.info("%s", line)
            stopper.attach(ctx)
            try:
                evolve(ctx)
            except KeyboardInterrupt:
                store.record_run_event("stopped", "interrupted")
                raise
            except BaseException as exc:
                store.record_run_event("failed", redact_text(f"{type(exc).__name__}: {exc}")[:500])
                raise
            finally:
                ctx.close()
            ctx.point_main()
            if stopper.signum is not None:
                store.record_run_event("stopped", f"signal: {stopper.name}")
                raise RunInterrupted(stopper.signum, str(run_dir))
            store.record_run_event("stopped" if ctx.stop_reason else "finished",
                                   ctx.stop_reason or "")
            return summarize(store, run_id=rc.run_id, run_dir=str(run_dir),
                             status="stopped: budget" if ctx.stop_reason else "finished",
                             detail=ctx.stop_reason or "", simulated=rc.simulated,
                             iteration_budget=rc.config.evolve.iterations)
        finally:
            store.close()
