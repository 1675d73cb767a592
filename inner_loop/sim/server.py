"""Loopback OpenAI-compatible HTTP server for the simulated model world.

`POST /v1/chat/completions` validates the body as OpenAI does (wire.py: every malformed request
is a 4xx JSON error in OpenAI's shape, never a dropped connection), turns it into one LLMRequest
per choice (`n`; the role is the one in the model name `sim-<role>`), answers each with
`inner_loop.sim.respond`, and returns a chat.completion — or, with `stream: true`, server-sent
`chat.completion.chunk` events (content and tool-call deltas, a usage chunk when
`stream_options.include_usage`) over chunked transfer, ending `data: [DONE]`. `response_format`
json_object / json_schema is honoured or refused: an answer that is not that JSON is a 400
(wire.check_format). `GET /v1/models` lists the `sim-<role>` models, `GET /v1/models/{id}` gives
one. Every answer is labelled simulated: `system_fingerprint: "autodata-sim"` and the
`X-Autodata-Simulated: true` header. Stdlib only (ThreadingHTTPServer).

Fault injection (for testing clients, faults.py): with probability `fault_rate` a request gets
one of `faults` instead of its answer, deterministically per (fault_seed, body, sighting).

Automatic prefix caching, usage only (prefix_cache.py): every answered request's prompt goes
through one per-server PrefixCache (vLLM's APC: blocks of `block_tokens`, longest previously
seen prefix, LRU over `capacity_tokens`); the usage reports the cached prompt tokens as
`prompt_tokens_details.cached_tokens` (or Moonshot's top-level `cached_tokens`). Answers never
depend on it. `prefix_cache.capacity_tokens = 0` turns it off (no cached-token field at all).
"""

from __future__ import annotations

import json
import threading
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from inner_loop.llm.types import LLMRequest
from inner_loop.sim.faults import FAULTS, FaultPlan, parse_faults
from inner_loop.sim.handler import MAX_BODY_BYTES, _Server
from inner_loop.sim.prefix_cache import PrefixCache, PrefixCacheOptions
from inner_loop.sim.wire import parse_chat, to_llm_request


class SimServerOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency_ms: float = 0.0
    fault_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    faults: tuple[str, ...] = FAULTS
    fault_seed: int = 0
    timeout_sleep_s: float = 10.0  # how long a `timeout` fault holds the request (bounded)
    retry_after_s: float = 1.0  # the Retry-After a `429` fault sends
    prefix_cache: PrefixCacheOptions = Field(default_factory=PrefixCacheOptions)


__all__ = ["FAULTS", "MAX_BODY_BYTES", "FaultPlan", "SimServer", "SimServerOptions", "parse_faults",
           "request_from_openai"]


def request_from_openai(body: dict[str, Any]) -> LLMRequest:
    """An OpenAI chat.completions JSON body -> LLMRequest (WireError for what OpenAI refuses)."""
    return to_llm_request(parse_chat(json.dumps(body).encode()))


class SimServer:
    """The loopback server in a background thread; a context manager (port 0 = any free port)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False,
                 **options: Any):
        self.options = SimServerOptions(**options)
        self._server = _Server((host, port), self.options, verbose)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def max_in_flight(self) -> int:
        return self._server.max_in_flight

    @property
    def requests(self) -> int:
        return self._server.requests

    @property
    def prefix_cache(self) -> PrefixCache:
        """The server's prefix cache (its lookups, prompt and cached token totals)."""
        return self._server.prefix_cache

    @property
    def faults_injected(self) -> dict[str, int]:
        with self._server.lock:
            return dict(self._server.faults_injected)

    def start(self) -> "SimServer":
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="sim-serve", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> "SimServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
