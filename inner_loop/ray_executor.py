"""The `ray` executor: episodes as Ray tasks on a cluster's workers, model calls on the driver.

What runs where (docs/scale-out.md):
  worker  `run_episode` itself: the harness validated, the sandboxed child started and confined
          exactly as on one machine (Landlock, seccomp, rlimits, its own working dir in the
          worker's temp dir), the Dispatcher deciding the outcome from its own records. The
          record names the worker (`EpisodeRecord.worker`).
  driver  every model call. The worker builds each request as the driver would (same config,
          the job's sample offset) and hands it to `_CallBroker`, an actor pinned to the
          driver's node; the driver takes it from there and sends it through the one client of
          the run, under the episode's slot priority. Per-endpoint caps, slot priority,
          budgets (USD, calls, wall), the cache, shared calls and the call records are therefore
          the driver's own objects: they hold exactly, cluster-wide, and API keys never leave
          the driver (workers get the config with login details in URLs redacted). Errors
          come back by name (budget, rejected, fatal, transient) and are
          raised on the worker as the same class, so the Dispatcher decides as it does locally.
  trees   a harness travels content-addressed: its files are put in the object store once per
          digest; a worker writes them under <tmp>/autodata-harness-<uid>/<digest>/ the first time
          and checks the digest before every episode (a tree changed there is refused: the
          episode is `infrastructure`, never run). No shared filesystem is assumed.
Faults: a worker or node that dies mid-episode makes Ray run the task again (`max_retries`);
only the run that finished returns a record, so it is recorded once, by the driver. An episode
that cannot be run at all (retries spent, the cluster gone) is status `infrastructure`: never a
quality verdict; evolve stops resumably on it.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import socket
import stat
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import ray
from ray.exceptions import RayError, RayTaskError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from inner_loop.config import CacheConfig, Config, ExecutorConfig
from inner_loop.episode import EpisodeRecord
from inner_loop.errors import UserError
from inner_loop.executor import EpisodeJob, run_here
from inner_loop.harness import Harness, HarnessInvalid, load_harness, walk_files
from inner_loop.llm import slots
from inner_loop.llm.types import (BudgetExceeded, FatalLLMError, LLMRequest, LLMResponse,
                                  RequestRejected, TransientLLMError)

log = logging.getLogger(__name__)
TREES_KEPT = 64  # harness trees kept in the object store by this driver (least recent dropped)
_ERRORS = {cls.__name__: cls for cls in (BudgetExceeded, FatalLLMError, RequestRejected)}


class TreeRefused(ValueError):
    """A harness tree on a worker is not the one its digest names (never run)."""


@dataclass(frozen=True)
class _Raised:
    """An exception of the driver's client, carried to the worker by name."""

    name: str
    message: str
    retry_after_s: float | None = None
    kind: str = "transient"

    @classmethod
    def of(cls, exc: BaseException) -> "_Raised":
        if isinstance(exc, TransientLLMError):
            return cls("TransientLLMError", str(exc), exc.retry_after_s, exc.kind)
        return cls(type(exc).__name__, str(exc))

    def exception(self) -> BaseException:
        if self.name == "TransientLLMError":
            return TransientLLMError(self.message, self.retry_after_s, self.kind)
        if self.name in _ERRORS:
            return _ERRORS[self.name](self.message)
        return RuntimeError(f"the driver's client raised {self.name}: {self.message}")


@ray.remote(num_cpus=0, max_concurrency=100_000)
class _CallBroker:
    """Model calls of the workers' episodes, waiting for the driver to take and answer them."""

    def __init__(self) -> None:
        import asyncio

        self._asyncio = asyncio
        self._queue: Any = asyncio.Queue()
        self._waiting: dict[int, Any] = {}
        self._ids = itertools.count()

    async def call(self, token: str, request: LLMRequest, tag: str, priority: int) -> Any:
        future = self._asyncio.get_running_loop().create_future()
        cid = next(self._ids)
        self._waiting[cid] = future
        await self._queue.put((cid, token, request, tag, priority))
        try:
            return await future
        finally:
            self._waiting.pop(cid, None)

    async def take(self, timeout_s: float) -> list[tuple]:
        try:
            items = [await self._asyncio.wait_for(self._queue.get(), timeout_s)]
        except self._asyncio.TimeoutError:
            return []
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items

    async def answer(self, cid: int, outcome: Any) -> None:
        future = self._waiting.get(cid)
        if future is not None and not future.done():
            future.set_result(outcome)


class DriverClient:
    """The driver's client as an episode on a worker sees it: requests built here exactly as the
    driver builds them, every send answered by the driver (through the broker)."""

    def __init__(self, broker: Any, token: str, config: Config, sample_offset: int):
        self.config = config
        self._broker, self._token, self._offset = broker, token, sample_offset
        from inner_loop.llm.client import LLMClient

        self._builder = LLMClient(config.model_copy(update={"cache": CacheConfig()}))

    def build_request(self, role: str, messages: Any, **kwargs: Any) -> LLMRequest:
        kwargs["sample_index"] = kwargs.get("sample_index", 0) + self._offset
        return self._builder.build_request(role, messages, **kwargs)

    def send(self, request: LLMRequest, *, tag: str = "") -> LLMResponse:
        try:
            outcome = ray.get(self._broker.call.remote(self._token, request, tag,
                                                       slots.current_priority()))
        except RayError as exc:
            raise FatalLLMError(f"the driver is unreachable: {type(exc).__name__}") from None
        if isinstance(outcome, _Raised):
            raise outcome.exception()
        return outcome

    def complete(self, role: str, messages: Any, *, tag: str = "", **kwargs: Any) -> LLMResponse:
        return self.send(self.build_request(role, messages, **kwargs), tag=tag)


def tree_files(harness: Harness) -> dict[str, bytes]:
    """The files of a validated harness (what its digest covers), by relative path."""
    return {p.relative_to(harness.root).as_posix(): p.read_bytes()
            for p in walk_files(harness.root)}


def materialise(digest: str, refs: list[Any]) -> Path:
    """The harness `digest` on this worker: written once from the object store, then checked."""
    root = Path(tempfile.gettempdir()) / f"autodata-harness-{os.getuid()}"
    root.mkdir(mode=0o755, parents=True, exist_ok=True)
    st = root.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise TreeRefused(f"{root} is not a directory of this user's alone; remove it")
    target = root / digest
    if target.is_dir():
        return target
    tmp = Path(tempfile.mkdtemp(prefix=".part-", dir=root))
    try:
        for rel, data in ray.get(refs[0]).items():
            parts = PurePosixPath(rel).parts
            if PurePosixPath(rel).is_absolute() or ".." in parts or not parts:
                raise TreeRefused(f"harness tree {digest[:12]}: bad path {rel!r}")
            path = tmp.joinpath(*parts)
            path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            path.write_bytes(data)
            path.chmod(0o644)
        tmp.chmod(0o755)
        got = load_harness(tmp).digest
        if got != digest:
            raise TreeRefused(f"harness tree {digest[:12]} arrived as {got[:12]}")
        os.rename(tmp, target)
    except OSError:
        if not target.is_dir():  # not a lost race with another worker process
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


@ray.remote
def _episode(broker: Any, token: str, digest: str, refs: list[Any], job: EpisodeJob,
             sample_offset: int) -> EpisodeRecord:
    harness = load_harness(materialise(digest, refs))
    if harness.digest != digest:  # changed since it was written: refuse, never run another tree
        raise TreeRefused(f"harness tree {digest[:12]} on this worker is now "
                          f"{harness.digest[:12]}")
    client = DriverClient(broker, token, job.config, sample_offset)
    node = ray.get_runtime_context().get_node_id()
    with tempfile.TemporaryDirectory(prefix="autodata-episodes-") as workdir_root:
        record = run_here(EpisodeJob(job.paper, harness, job.config, client, Path(workdir_root),
                                     job.method, job.harness_version, job.tag))
    return record.model_copy(update={"worker": f"{socket.gethostname()} (ray node {node[:12]})"})


class RayExecutor:
    """Episodes as Ray tasks; this process (the driver) answers their model calls."""

    kind = "ray"

    def __init__(self, config: ExecutorConfig):
        self.config = config
        self._owns = not ray.is_initialized()
        if self._owns:
            try:
                connect(config.address)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise UserError(f"executor.address={config.address}: no Ray cluster there "
                                f"({' '.join(str(exc).split())[:200]})") from None
        here = ray.get_runtime_context().get_node_id()
        self._broker = _CallBroker.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
            here, soft=False)).remote()
        self._clients: dict[str, Any] = {}
        self._trees: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._calls = ThreadPoolExecutor(max_workers=1024, thread_name_prefix="driver-call")
        self._pump = threading.Thread(target=self._serve_calls, name="driver-calls", daemon=True)
        self._pump.start()

    def run(self, job: EpisodeJob) -> EpisodeRecord:
        """The job's episode on a worker (blocking; thread-safe; never raises but Ctrl-C)."""
        try:
            harness = job.harness if isinstance(job.harness, Harness) else load_harness(job.harness)
        except HarnessInvalid:  # recorded so by the episode itself; nothing runs
            return run_here(job)
        tree = self._tree(harness)
        token = uuid.uuid4().hex
        with self._lock:
            self._clients[token] = job.client
        public = Config.model_validate(job.config.public_dump())  # no login details in URLs
        slim = EpisodeJob(job.paper, Path(harness.digest), public, None,
                          Path("."), job.method, job.harness_version, job.tag)
        ref = _episode.options(num_cpus=self.config.episode_cpus,
                               max_retries=self.config.max_retries, retry_exceptions=False
                               ).remote(self._broker, token, harness.digest, [tree], slim,
                                        int(getattr(job.client, "sample_offset", 0)))
        try:
            return ray.get(ref)
        except RayTaskError as exc:  # our worker-side code raised
            if isinstance(getattr(exc, "cause", None), TreeRefused):  # the worker's, not a verdict
                return _failed(job, "infrastructure", f"infrastructure: {exc.cause}")
            return _failed(job, "runtime_error", f"on the Ray worker: {exc}"[-4000:])
        except RayError as exc:  # retries spent, the cluster gone: never a quality verdict
            return _failed(job, "infrastructure", f"infrastructure: the Ray task of this "
                           f"episode failed ({type(exc).__name__}): {str(exc)[:300]}")
        except BaseException:
            ray.cancel(ref, force=True)
            raise
        finally:
            with self._lock:
                self._clients.pop(token, None)

    def _tree(self, harness: Harness) -> Any:
        with self._lock:
            if harness.digest in self._trees:
                self._trees.move_to_end(harness.digest)
                return self._trees[harness.digest]
        ref = ray.put(tree_files(harness))
        with self._lock:
            self._trees[harness.digest] = ref
            while len(self._trees) > TREES_KEPT:
                self._trees.popitem(last=False)
        return ref

    def _serve_calls(self) -> None:
        while not self._closed.is_set():
            try:
                items = ray.get(self._broker.take.remote(0.5))
            except RayError as exc:  # the broker lost: episodes waiting on it fail as infra
                if not self._closed.is_set():
                    log.error("ray executor: model-call broker failed: %s", exc)
                    time.sleep(0.5)
                continue
            for item in items:
                self._calls.submit(self._answer, *item)

    def _answer(self, cid: int, token: str, request: LLMRequest, tag: str, prio: int) -> None:
        with self._lock:
            client = self._clients.get(token)
        outcome: Any
        if client is None:
            outcome = _Raised("FatalLLMError", "the episode is no longer waited for")
        else:
            try:
                with slots.priority(prio):
                    outcome = client.send(request, tag=tag)
            except Exception as exc:  # noqa: BLE001 — carried to the episode, raised there
                outcome = _Raised.of(exc)
        self._broker.answer.remote(cid, outcome)

    def close(self) -> None:
        self._closed.set()
        self._pump.join(timeout=5)
        self._calls.shutdown(wait=False, cancel_futures=True)
        try:
            ray.kill(self._broker)
        except RayError:
            pass  # already gone with its node or the cluster
        if self._owns:
            ray.shutdown()


def connect(address: str) -> None:
    """Join the cluster at `address`; "local" starts a throw-away one-machine cluster."""
    quiet: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING,
                             "log_to_driver": False}
    if address == "local":
        ray.init(**quiet)
    else:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)


def _failed(job: EpisodeJob, status: str, error: str) -> EpisodeRecord:
    from inner_loop.runner import base_record

    return EpisodeRecord(**base_record(job.paper, job.config, job.method, job.harness_version,
                                       status), error=error)
