"""The `ray` executor: episodes as Ray tasks on a cluster's workers, model calls on the driver.
(This is the driver's side and the task; what the task uses on the worker, the broker and the
harness trees are in inner_loop/ray_worker.py.)

What runs where (docs/scale-out.md):
  worker  `run_episode` itself: the harness validated, the sandboxed child started and confined
          exactly as on one machine (Landlock, seccomp, rlimits, its own working dir in the
          worker's temp dir), the Dispatcher deciding the outcome from its own records. The
          record names the worker (`EpisodeRecord.worker`).
  driver  every model call. The worker builds each request as the driver would (same config,
          the job's sample offset) and hands it to `CallBroker`, an actor pinned to the
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

import logging
import socket
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import RayError, RayTaskError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from inner_loop.config import ExecutorConfig
from inner_loop.episode import EpisodeRecord
from inner_loop.errors import UserError
from inner_loop.episode_jobs import EpisodeJob, run_here
from inner_loop.harness import Harness, HarnessInvalid, load_harness
from inner_loop.llm import slots
from inner_loop.llm.types import LLMRequest
from inner_loop.runner import base_record
from inner_loop.ray_worker import (CallBroker, DriverClient, Raised, TreeRefused, materialise,
                                   tree_files)

__all__ = ["RayExecutor", "TreeRefused", "connect", "materialise", "tree_files"]
log = logging.getLogger(__name__)
TREES_KEPT = 64  # harness trees kept in the object store by this driver (least recent dropped)


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
            except Exception as exc:  # noqa: BLE001 — a start timeout is a bare Exception
                what = ("could not start a local Ray cluster" if config.address == "local"
                        else "no Ray cluster there")
                raise UserError(f"executor.address={config.address}: {what} "
                                f"({' '.join(str(exc).split())[:200]})") from None
        here = ray.get_runtime_context().get_node_id()
        self._broker = CallBroker.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
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
        public = type(job.config).model_validate(job.config.public_dump())  # no login in URLs
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
            outcome = Raised("FatalLLMError", "the episode is no longer waited for")
        else:
            try:
                with slots.priority(prio):
                    outcome = client.send(request, tag=tag)
            except Exception as exc:  # noqa: BLE001 — carried to the episode, raised there
                outcome = Raised.of(exc)
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
    return EpisodeRecord(**base_record(job.paper, job.config, job.method, job.harness_version,
                                       status), error=error)
