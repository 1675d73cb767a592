"""Episode jobs: the executor seam, and episodes in this process.

An `Executor` runs one `EpisodeJob` and returns its EpisodeRecord (`run`, blocking and
thread-safe); `stream` runs many with a bounded number in flight and yields each record as it
finishes; `run_episodes` runs a list of papers so. `LocalExecutor` runs the job here
(`run_here`: the agentic episode, runner.py, or the CoT baseline, cot.py); the Ray executor
(ray_executor.py) runs the same `run_here` on a worker. Which one a run uses: executor.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from inner_loop.config import Config
from inner_loop.cot import run_cot_episode
from inner_loop.episode import EpisodeRecord
from inner_loop.harness import Harness, HarnessInvalid, load_harness
from inner_loop.llm.protocol import Client
from inner_loop.papers import Paper
from inner_loop.runner import run_episode

T = TypeVar("T")
Progress = Callable[[int, int, EpisodeRecord], None]


@dataclass(frozen=True)
class EpisodeJob:
    """One episode to run: `client` is the driver's client as this episode sees it."""

    paper: Paper
    harness: Harness | Path  # a loaded harness, or the dir of one that does not load
    config: Config
    client: Client
    workdir_root: Path
    method: str = "agentic"  # "agentic" | "cot"
    harness_version: str | None = None
    tag: str = ""


def run_here(job: EpisodeJob) -> EpisodeRecord:
    """The job's episode in this process (never raises, like run_episode)."""
    if job.method == "cot":
        return run_cot_episode(job.paper, job.harness, config=job.config, client=job.client,
                               harness_version=job.harness_version, tag=job.tag)
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


def run_episodes(papers: Sequence[Paper], harness_dir: str | Path, *, config: Config,
                 client: Client, method: str = "agentic", harness_version: str | None = None,
                 workdir_root: str | Path, progress: Progress | None = None,
                 run: Callable[[Paper], EpisodeRecord] | None = None,
                 executor: Executor | None = None) -> list[EpisodeRecord]:
    """Episodes of every paper, `config.inner_loop.concurrency` at a time, in input order.

    `run` replaces the agentic episode (the CoT baseline passes its own); `executor` says where
    episodes run (default: this process); `progress(done, total, record)` is called after each
    finished episode, from one thread at a time."""
    harness: Harness | Path
    try:
        harness = load_harness(harness_dir)  # validate once, not per paper
    except HarnessInvalid:
        harness = Path(harness_dir)  # every episode then records the reason itself
    runner = executor or LocalExecutor()

    def work(i: int) -> EpisodeRecord:
        if run is not None:
            return run(papers[i])
        return runner.run(EpisodeJob(papers[i], harness, config, client, Path(workdir_root),
                                     method, harness_version))

    results: list[EpisodeRecord | None] = [None] * len(papers)
    window = max(1, min(config.inner_loop.concurrency, len(papers) or 1))
    for done, (i, record) in enumerate(stream(range(len(papers)), work, window), start=1):
        results[i] = record
        if progress is not None:
            progress(done, len(papers), record)
    return [r for r in results if r is not None]
