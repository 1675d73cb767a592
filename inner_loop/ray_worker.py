"""The worker side of the `ray` executor (inner_loop/ray_executor.py, docs/scale-out.md).

  CallBroker    an actor pinned to the driver's node: an episode's model call waits there until
                the driver takes it, sends it through the run's one client, and answers it.
  DriverClient  the driver's client as an episode on a worker sees it: each request built on the
                worker exactly as the driver builds it (same config, the job's sample offset),
                sent through the broker; the driver's errors come back by name (`Raised`) and
                are raised as the same class, so the Dispatcher decides as it does locally.
  trees         a harness travels content-addressed: `tree_files` on the driver (put in the
                object store once per digest), `materialise` on the worker (written once under
                <tmp>/autodata-harness-<uid>/<digest>/, checked against its digest; a tree that
                differs is `TreeRefused`, never run).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import ray
from ray.exceptions import RayError

from inner_loop.config import CacheConfig, Config
from inner_loop.harness import Harness, load_harness, walk_files
from inner_loop.llm import slots
from inner_loop.llm.client import LLMClient
from inner_loop.llm.protocol import Client
from inner_loop.llm.types import (BudgetExceeded, FatalLLMError, LLMRequest, LLMResponse,
                                  RequestRejected, TransientLLMError)

_ERRORS = {cls.__name__: cls for cls in (BudgetExceeded, FatalLLMError, RequestRejected)}


class TreeRefused(ValueError):
    """A harness tree on a worker is not the one its digest names (never run)."""


@dataclass(frozen=True)
class Raised:
    """An exception of the driver's client, carried to the worker by name."""

    name: str
    message: str
    retry_after_s: float | None = None
    kind: str = "transient"

    @classmethod
    def of(cls, exc: BaseException) -> "Raised":
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
class CallBroker:
    """Model calls of the workers' episodes, waiting for the driver to take and answer them."""

    def __init__(self) -> None:
        self._queue: Any = asyncio.Queue()
        self._waiting: dict[int, Any] = {}
        self._ids = itertools.count()

    async def call(self, token: str, request: LLMRequest, tag: str, priority: int) -> Any:
        future = asyncio.get_running_loop().create_future()
        cid = next(self._ids)
        self._waiting[cid] = future
        await self._queue.put((cid, token, request, tag, priority))
        try:
            return await future
        finally:
            self._waiting.pop(cid, None)

    async def take(self, timeout_s: float) -> list[tuple]:
        try:
            items = [await asyncio.wait_for(self._queue.get(), timeout_s)]
        except asyncio.TimeoutError:
            return []
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items

    async def answer(self, cid: int, outcome: Any) -> None:
        future = self._waiting.get(cid)
        if future is not None and not future.done():
            future.set_result(outcome)


class DriverClient(Client):
    """The driver's client as an episode on a worker sees it: requests built here exactly as the
    driver builds them, every send answered by the driver (through the broker); `complete` is
    `Client.complete`."""

    def __init__(self, broker: Any, token: str, config: Config, sample_offset: int):
        self.config = config
        self._broker, self._token, self._offset = broker, token, sample_offset
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
        if isinstance(outcome, Raised):
            raise outcome.exception()
        return outcome


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
