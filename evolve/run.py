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
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from inner_loop.acceptance import thresholds_for
from inner_loop.config import Config
from inner_loop.errors import UserError

CONFIG_FILE = "config.json"
LOCK_FILE = "run.lock"
HARNESS_DIR = "harness"
DB_FILE = "autodata.duckdb"
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
    smoke: bool = True  # run the smoke episode before scoring a candidate


class RunConfig(Strict):
    """config.json: everything needed to resume the run exactly."""

    run_id: str
    created_at: str
    simulated: bool
    preset: str
    thresholds: dict[str, float | bool | None]
    config: Config
    settings: RunSettings


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
    base = Path("results") / run_id
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def prepare_run_dir(run_dir: Path, run_config: RunConfig) -> None:
    """Create the folder (refusing a non-empty one) and write config.json and logs/."""
    if run_dir.exists() and any(run_dir.iterdir()):
        raise UserError(f"run directory {run_dir} exists and is not empty "
                        f"(use `autodata resume {run_dir}` to continue it)")
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    write_json(run_dir / CONFIG_FILE, run_config.model_dump(mode="json"))


def read_run_config(run_dir: Path) -> RunConfig:
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise UserError(f"{run_dir} is not a run folder: {CONFIG_FILE} not found")
    try:
        return RunConfig.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise UserError(f"{path}: invalid run config: {exc.errors()[0]['msg']}") from None


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
