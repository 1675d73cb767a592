"""The run folder's layout: every file and folder a run keeps, named once.

    results/<run_id>/
      config.json            the resolved configuration and run settings (evolve/context.py)
      run.lock               the pid lock of the process driving the run (evolve/lock.py)
      logs/run.log           the run's text log, appended to across resumes
      logs/calls/            the call journal: call rows not yet in DuckDB (store/journal.py)
      autodata.duckdb        the run database; autodata.read.duckdb its read snapshot (store/)
      llm_cache.sqlite       the model-call cache
      harness/               the harness git repo, `main` at the best candidate (evolve/repo.py)
      scratch/<candidate>/   an implementer's worktree, detached at the parent
      checkouts/<sha>/       the files of a commit, for its episodes
      candidates/<candidate>/  a clean copy of a candidate not yet committed, for its episodes
      work/                  episode working dirs (removed on resume)
      evaluate/              `autodata evaluate`'s lock, database and work dirs

Scratch worktrees, checkouts and candidate copies are the harness repo's (`HarnessRepo`); the
database files are the store's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evolve.store.db import DB_NAME, SNAPSHOT_NAME
from evolve.store.journal import JOURNAL_DIR

CONFIG_FILE = "config.json"
LOCK_FILE = "run.lock"
LOG_FILE = "logs/run.log"
CACHE_FILE = "llm_cache.sqlite"
EVALUATE_DIR = "evaluate"


@dataclass(frozen=True)
class RunPaths:
    """The paths of one run folder, under `root` as given."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def lock(self) -> Path:
        return self.root / LOCK_FILE

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def log(self) -> Path:
        return self.root / LOG_FILE

    @property
    def journal(self) -> Path:
        return self.root / JOURNAL_DIR

    @property
    def database(self) -> Path:
        return self.root / DB_NAME

    @property
    def snapshot(self) -> Path:
        return self.root / SNAPSHOT_NAME

    @property
    def llm_cache(self) -> Path:
        return self.root / CACHE_FILE

    @property
    def harness(self) -> Path:
        return self.root / "harness"

    @property
    def scratch(self) -> Path:
        return self.root / "scratch"

    @property
    def checkouts(self) -> Path:
        return self.root / "checkouts"

    @property
    def candidates(self) -> Path:
        return self.root / "candidates"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def evaluate(self) -> Path:
        return self.root / EVALUATE_DIR
