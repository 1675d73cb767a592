"""Executors: where episodes run (`[executor]` in config, `--executor` on the CLI).

An `Executor` runs one `EpisodeJob` and returns its EpisodeRecord (`run`, blocking and
thread-safe); `stream` runs many with a bounded number in flight and yields each record as it
finishes. Two kinds:

  local   the episode runs in this process (a thread; its sandboxed child on this host): the
          behaviour of every run before executors existed.
  ray     the episode runs as a Ray task on a worker of a Ray cluster; its model calls come back
          to this process (inner_loop/ray_executor.py, docs/scale-out.md).

The seam itself (`EpisodeJob`, `Executor`, `LocalExecutor`, `stream`, `run_episodes`) lives in
episode_jobs.py, which the Ray executor imports too; this module picks the executor a run uses.

Either way the caller (the driver) is the only writer of what the episode produced: executors
return records, they never write files, DuckDB or git. `ray` is an optional extra: asking for it
without ray installed is a one-line UserError.
"""

from __future__ import annotations

from inner_loop.config import ExecutorConfig
from inner_loop.episode_jobs import (  # noqa: F401 — the seam's names, as executors' users know them
    EpisodeJob, Executor, LocalExecutor, Progress, run_episodes, run_here, stream,
)
from inner_loop.errors import UserError


def require_executor(config: ExecutorConfig) -> None:
    """Fail fast, on one line, before any work: the `ray` executor needs ray installed."""
    if config.kind != "ray":
        return
    try:
        import ray  # noqa: F401 — only to say so plainly when it is missing
    except ImportError:
        raise UserError("--executor ray needs Ray, which is not installed: "
                        "pip install -e '.[ray]' (or pip install 'ray>=2.40')") from None


def open_executor(config: ExecutorConfig | None = None) -> Executor:
    """The executor `config` names; for `ray`, connected (or a throw-away cluster started)."""
    if config is None or config.kind == "local":
        return LocalExecutor()
    require_executor(config)
    from inner_loop.ray_executor import RayExecutor

    return RayExecutor(config)
