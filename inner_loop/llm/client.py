"""LLMClient: the one entry point every role's model call goes through.

complete(role, messages, ...) builds the LLMRequest from the role's RoleConfig, checks the hard
budgets, serves a cache hit when the cache is on, otherwise dispatches to the role's backend
(llm/backends.py: the in-process sim, an OpenAI-compatible endpoint) under the endpoint's concurrency cap, retries
transient errors, accounts tokens and USD, and hands a CallRecord to the recorder. Synchronous
and thread-safe: the runtime calls it from many threads at once.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from inner_loop.config import Config, ConfigError, RoleConfig
from inner_loop.llm import backends
from inner_loop.llm.accounting import Accountant, AccountingSnapshot, CallRecord, cost_usd
from inner_loop.llm.cache import ResponseCache, cache_key
from inner_loop.llm.protocol import Client
from inner_loop.llm.retry import RetriesExhausted, call_with_retries
from inner_loop.llm.slots import Slots
from inner_loop.llm.types import (
    FatalLLMError, LLMRequest, LLMResponse, Message, RequestRejected, ToolSpec,
    TransientLLMError, Usage, valid_text,
)

Recorder = Callable[[CallRecord], None]


def derive_seed(run_seed: int, sample_index: int) -> int:
    """A stable 31-bit sample seed from the run seed and the sample index."""
    digest = hashlib.sha256(f"autodata-seed:{run_seed}:{sample_index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def require_api_keys(config: Config) -> None:
    """Fail fast, on one line, before any work: every key variable the config names for an
    OpenAI-compatible role must be set (a call would otherwise fail with the same message, but
    only after papers were loaded and episodes started)."""
    missing: dict[str, list[str]] = {}
    for role, rc in config.roles.items():
        if rc.backend == "openai" and rc.api_key_env and not os.environ.get(rc.api_key_env):
            missing.setdefault(rc.api_key_env, []).append(str(role))
    if missing:
        names = "; ".join(f"{var} (roles {', '.join(roles)})" for var, roles in missing.items())
        raise ConfigError(f"API key variable not set: {names}; export it, or point those roles "
                          "at another endpoint")


def _endpoint_semaphores(config: Config) -> dict[str, Slots]:
    caps: dict[str, int] = {}
    for rc in config.roles.values():
        key = rc.endpoint_key()
        caps[key] = min(caps.get(key, rc.max_concurrency), rc.max_concurrency)
    return {key: Slots(cap) for key, cap in caps.items()}


class LLMClient(Client):
    """The run's one client (a `SharingClient`); `complete` is `Client.complete`."""

    def __init__(
        self,
        config: Config,
        *,
        recorder: Recorder | None = None,
        cache_path: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.config = config
        self._recorder = recorder
        self._clock = clock
        self._sleep = sleep
        self.accounting = Accountant(config.budget, clock)
        self._semaphores = _endpoint_semaphores(config)
        for rc in config.roles.values():  # loaded now, not inside a first call's endpoint slot
            backends.prepare(rc)  # (the openai SDK's import: about a second; its client: 20-40 ms)
        self.cache: ResponseCache | None = None
        if config.cache.enabled:
            path = cache_path or (Path(config.cache.path) if config.cache.path else None)
            if path is None:
                raise ConfigError("cache.enabled needs cache.path (or a run directory)")
            self.cache = ResponseCache(path)

    def snapshot(self) -> AccountingSnapshot:
        return self.accounting.snapshot()

    def build_request(
        self, role: str, messages: Sequence[Message | dict[str, Any]], *,
        tools: Sequence[ToolSpec] | None = None,
        response_format: Literal["text", "json"] = "text",
        json_schema: dict[str, Any] | None = None, sample_index: int = 0,
    ) -> LLMRequest:
        rc = self.config.role(role)
        if rc.backend == "openai" and not rc.model:
            raise ConfigError(f"roles.{role}.model is empty: name the endpoint's model")
        return LLMRequest(
            role=role, model=rc.model or f"sim-{role}",  # type: ignore[arg-type]
            messages=[m if isinstance(m, Message) else Message.model_validate(m) for m in messages],
            tools=list(tools) if tools else None, response_format=response_format,
            json_schema=json_schema, temperature=rc.temperature, max_tokens=rc.max_tokens,
            seed=derive_seed(self.config.seed, sample_index), sample_index=sample_index,
        )

    def send(self, request: LLMRequest, *, tag: str = "") -> LLMResponse:
        """Send a ready LLMRequest (budgets, cache, retries, accounting, record)."""
        rc = self.config.role(request.role)
        self.accounting.check()
        key = cache_key(request, rc.endpoint_key()) if self.cache is not None else None
        if key is not None and self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return self._finish_cached(request, rc, hit, tag)
        self.accounting.admit_call()
        return self._call(request, rc, key, tag)

    def send_shared(self, request: LLMRequest, answer: LLMResponse, *,
                    tag: str = "") -> LLMResponse:
        """Record `request` as answered by `answer`, the response an identical request got in
        this run (llm/shared.py): a cached call, no cost, not counted against budget.max_calls."""
        self.accounting.check()
        return self._finish_cached(request, self.config.role(request.role), answer, tag)

    def _finish_cached(self, request: LLMRequest, rc: RoleConfig, hit: LLMResponse,
                       tag: str) -> LLMResponse:
        response = hit.model_copy(update={"cached": True, "cost_usd": 0.0, "latency_ms": 0.0,
                                          "attempts": 0})
        self.accounting.record_cached(request.role)
        self._record(request, rc, tag, _now_iso(), 0.0, response=response, attempts=0,
                     error_kinds=[])
        return response

    def _call(self, request: LLMRequest, rc: RoleConfig, key: str | None,
              tag: str) -> LLMResponse:
        started_at, t0 = _now_iso(), self._clock()
        error_kinds: list[str] = []

        def on_error(exc: TransientLLMError, _delay_s: float) -> None:
            error_kinds.append(exc.kind)
            self.accounting.record_error(request.role, exc.kind)

        def attempt() -> LLMResponse:
            with self._semaphores[rc.endpoint_key()].hold():
                return backends.dispatch(request, rc)

        rng = random.Random(f"retry:{request.role}:{request.seed}:{request.sample_index}:{tag}")
        try:
            response, attempts = call_with_retries(
                attempt, what=request.role, retry=self.config.retry, rng=rng,
                sleep=self._sleep, on_error=on_error,
            )
        except RetriesExhausted as exc:
            self._fail(request, rc, tag, started_at, t0, error_kinds, str(exc))
            raise
        except FatalLLMError as exc:  # not retried: auth, rejected request, missing key variable
            kind = "rejected" if isinstance(exc, RequestRejected) else "fatal"
            error_kinds.append(kind)
            self.accounting.record_error(request.role, kind)
            text = str(exc) if str(exc).startswith(f"{request.role}:") else f"{request.role}: {exc}"
            self._fail(request, rc, tag, started_at, t0, error_kinds, text)
            raise type(exc)(text) from None  # RequestRejected stays RequestRejected
        wall_ms = (self._clock() - t0) * 1000.0
        cost = cost_usd(response.usage, rc)
        response = response.model_copy(update={
            "cost_usd": cost, "latency_ms": wall_ms, "attempts": attempts, "cached": False,
            "simulated": response.simulated or rc.backend == "sim",
        })
        self.accounting.record_call(request.role, attempts=attempts, usage=response.usage,
                                    cost=cost, wall_ms=wall_ms)
        if key is not None and self.cache is not None:
            self.cache.put(key, request, response)
        self._record(request, rc, tag, started_at, wall_ms, response=response,
                     attempts=attempts, error_kinds=error_kinds)
        return response

    def _fail(self, request: LLMRequest, rc: RoleConfig, tag: str, started_at: str, t0: float,
              error_kinds: list[str], error: str) -> None:
        wall_ms = (self._clock() - t0) * 1000.0
        attempts = max(1, len(error_kinds))
        self.accounting.record_call(request.role, attempts=attempts, usage=Usage(), cost=0.0,
                                    wall_ms=wall_ms, failed=True)
        self._record(request, rc, tag, started_at, wall_ms, response=None, attempts=attempts,
                     error_kinds=error_kinds, error=error)

    def _record(self, request: LLMRequest, rc: RoleConfig, tag: str, started_at: str,
                duration_ms: float, *, response: LLMResponse | None, attempts: int,
                error_kinds: list[str], error: str | None = None) -> None:
        if self._recorder is None:
            return
        self._recorder(CallRecord(
            call_id=uuid.uuid4().hex, role=request.role, model=request.model,
            endpoint=rc.endpoint_key(), tag=tag, sample_index=request.sample_index,
            seed=request.seed,
            messages=valid_text([m.model_dump(mode="json", exclude_none=True)
                                 for m in request.messages]),  # whatever a harness sent
            response=None if response is None else valid_text(response.model_dump(mode="json")),
            started_at=started_at, duration_ms=duration_ms, attempts=attempts,
            error_kinds=list(error_kinds), cost_usd=response.cost_usd if response else 0.0,
            cached=bool(response and response.cached),
            simulated=bool(response.simulated) if response else rc.backend == "sim",
            error=valid_text(error),
        ))

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
