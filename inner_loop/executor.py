"""Executors: where episodes run (`[executor]` in config, `--executor` on the CLI).

An `Executor` runs one `EpisodeJob` and returns its EpisodeRecord (`run`, blocking and
thread-safe); `stream` runs many with a bounded number in flight and yields each record as it
finishes. Two kinds:

  local   the episode runs in this process (a thread; its sandboxed child on this host): the
          behaviour of every run before executors existed.
  ray     the episode runs as a Ray task on a worker of a Ray cluster; its model calls come back
          to this process (inner_loop/ray_executor.py, docs/scale-out.md).

Either way the caller (the driver) is the only writer of what the episode produced: executors
return records, they never write files, DuckDB or git. `ray` is an optional extra: asking for it
without ray installed is a one-line UserError.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from inner_loop.config import Config, ExecutorConfig
from inner_loop.episode import EpisodeRecord
from inner_loop.errors import UserError
from inner_loop.harness import Harness
from inner_loop.papers import Paper

T = TypeVar("T")


@dataclass(frozen=True)
class EpisodeJob:
    """One episode to run: `client` is the driver's client as this episode sees it."""

    paper: Paper
    harness: Harness | Path  # a loaded harness, or the dir of one that does not load
    config: Config
    client: Any
    workdir_root: Path
    method: str = "agentic"  # "agentic" | "cot"
    harness_version: str | None = None
    tag: str = ""


def run_here(job: EpisodeJob) -> EpisodeRecord:
    """The job's episode in this process (never raises, like run_episode)."""
    if job.method == "cot":
        from inner_loop.cot import run_cot_episode

        return run_cot_episode(job.paper, job.harness, config=job.config, client=job.client,
                               harness_version=job.harness_version, tag=job.tag)
    from inner_loop.runner import run_episode

    return run_episode(job.paper, job.harness, config=job.config, client=job.client,
                       method=job.method, harness_version=job.harness_version,
                       workdir_root=job.workdir_root, tag=job.tag)


class Executor(Protocol):
    kind: str

    def run(self, job: EpisodeJob) -> EpisodeRecord: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Episodes in this process: `run` is `run_episode` (or the CoT baseline) itself."""

    kind = "local"

    def run(self, job: EpisodeJob) -> EpisodeRecord:
        return run_here(job)

    def close(self) -> None:
        return None


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


def stream(items: Iterable[T], work: Callable[[T], EpisodeRecord], window: int,
           ) -> Iterator[tuple[T, EpisodeRecord]]:
    """(item, work(item)) in the order they finish, at most `window` in flight; `items` is read
    lazily, so a long corpus is never all in flight. Whatever the consumer raises (Ctrl-C, a
    failing callback) starts nothing new; episodes in flight end within their own deadline."""
    pool = ThreadPoolExecutor(max_workers=max(1, window), thread_name_prefix="episode")
    running: dict[Future, T] = {}
    source = iter(items)
    try:
        for item in source:
            running[pool.submit(work, item)] = item
            if len(running) >= window:
                yield from _finished(running)
        while running:
            yield from _finished(running)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _finished(running: dict[Future, T]) -> Iterator[tuple[T, EpisodeRecord]]:
    done, _ = wait(running, return_when=FIRST_COMPLETED)
    for future in done:
        item = running.pop(future)
        yield item, future.result()
