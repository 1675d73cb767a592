"""The driver of a run: claim the run folder, take its lock, start, resume, drive.

`start_run` checks the inputs before anything is written, claims a fresh folder
(`results/<run_id>/`, evolve/paths.py) and writes its `config.json`; `resume_run` reads it back.
`drive`, under the run lock (evolve/lock.py) and the signal handlers (evolve/stop.py), checks
config.json against DuckDB, repairs and reconciles git, replays the call journal, removes what a
killed process left, builds the run's context (evolve/context.py), runs the outer loop
(evolve/schedule.py, evolve/loop.py) and records how the run ended.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

from inner_loop.config import Config
from inner_loop.errors import UserError
from inner_loop.harness import HarnessInvalid, load_harness
from inner_loop.papers import default_corpus_path, default_split_path, select_papers
from inner_loop.redact import redact_text
from inner_loop.sandbox.spawn import remove_workdir
from evolve.context import (RunConfig, RunContext, RunSettings, make_run_config,
                            read_run_config, write_json)
from evolve.lock import RunLock
from evolve.paths import RunPaths
from evolve.reconcile import reconcile
from evolve.repair import open_harness
from evolve.repo import HarnessRepo
from evolve.runcheck import check_unchanged
from evolve.schedule import evolve
from evolve.stop import RunInterrupted, Stopper
from evolve.store import Store
from evolve.store.journal import replay
from evolve.summary import RunSummary, summarize


def new_run_id(seed: int) -> str:
    return f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-s{seed}"


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
    paths = RunPaths(run_dir)
    try:
        paths.logs.mkdir()  # the atomic claim: of two runs racing here, one gets it
    except FileExistsError:
        raise busy from None
    write_json(paths.config, run_config.public_dump())


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
    paths = RunPaths(run_dir)
    recorded = store.query("SELECT run_id, config_json FROM runs LIMIT 1")
    if recorded:  # a resume: config.json must still define the same run
        check_unchanged(str(paths.config), recorded[0]["run_id"],
                        json.loads(recorded[0]["config_json"]), rc.public_dump())
    repo, repair = open_harness(run_dir, store, rc.settings.seed_harness, rc.run_id)
    store.record_run(rc.run_id, rc.public_json(), repo.tree_sha(repo.seed_sha), rc.simulated)
    report = reconcile(repo, store)
    replayed, torn = replay(store, run_dir)  # call rows a kill left only in the journal
    # exports are copies of scratch trees, made again when needed, and work dirs belong to
    # episodes that a kill abandoned (re-run on resume): either would otherwise stay forever
    shutil.rmtree(paths.candidates, ignore_errors=True)
    remove_workdir(paths.work)  # whatever a harness did to them (chmod 000 ...)
    store.record_run_event("resumed" if resumed else "running",  # where this one runs
                           f"executor {rc.config.executor.kind}" if resumed else "")
    return repo, (f"{'resumed' if resumed else 'started'} run {rc.run_id}; repair: "
                  f"{repair.model_dump_json()}; reconcile: {report.model_dump_json()}; "
                  f"journal: {replayed} call rows replayed, {torn} torn lines skipped")


def drive(run_dir: Path, rc: RunConfig, *, resumed: bool, show_progress: bool) -> RunSummary:
    """Under the run lock: git and DuckDB reconciled, then the loop, then the summary.
    SIGTERM / SIGINT stop it gracefully (evolve/stop.py): RunInterrupted once all is flushed."""
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
