"""The HTTP side of the loopback sim server (server.py): the threading server and its request
handler — routes, body limits, OpenAI-shaped errors, completions and streams, latency, faults
(faults.py) and the cached-token usage (prefix_cache.py)."""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
import traceback
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from inner_loop import sim
from inner_loop.llm.types import LLMResponse
from inner_loop.roles import ROLES
from inner_loop.sim.answers import completion, stream_chunks
from inner_loop.sim.faults import FaultPlan, inject
from inner_loop.sim.prefix_cache import PrefixCache, cached_usage
from inner_loop.sim.sse import write_events
from inner_loop.sim.wire import (
    FINGERPRINT, ChatRequest, WireError, check_format, check_tool_choice, parse_chat, to_llm_request,
)

MAX_BODY_BYTES = 64 * 1024 * 1024  # a request with a few papers in it is ~1 MB


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the stdlib default (5) drops SYNs under a burst of clients
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], options: Any, verbose: bool):  # SimServerOptions
        super().__init__(address, _Handler)
        self.options, self.verbose = options, verbose
        self.plan = FaultPlan(options)
        self.prefix_cache = PrefixCache(options.prefix_cache)
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.in_flight = self.max_in_flight = self.requests = 0
        self.faults_injected: Counter[str] = Counter()

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError)):  # the client gave up first
            if self.verbose:
                sys.stderr.write(f"sim-serve: {client_address[0]} went away: {exc}\n")
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: headers and body go out in two writes; with Nagle's algorithm the body would
    # wait for the client's delayed ACK (~40 ms on Linux) on every response.
    disable_nagle_algorithm = True
    server: _Server
    _started = False  # the status line is out: an error now can only close the connection

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        if self.server.verbose:
            sys.stderr.write(f"sim-serve: {self.address_string()} {format % args}\n")

    def _headers(self, status: int, content_type: str, extra: dict[str, str]) -> None:
        self._started = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("X-Autodata-Simulated", "true")
        for name, value in extra.items():
            self.send_header(name, value)

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        self._headers(status, content_type, {"Content-Length": str(len(body)), **(headers or {})})
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's own refusals (bad request line, unsupported method) as OpenAI JSON too."""
        self.close_connection = True
        text = message or self.responses.get(code, ("error",))[0]
        err = WireError(code, text, "invalid_request_error" if code < 500 else "server_error")
        self._send_json(code, err.body(), {"Connection": "close"})

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        self._answer(self._get)

    def do_POST(self) -> None:  # noqa: N802 (stdlib name)
        self._answer(self._post)

    def _answer(self, handler: Any) -> None:
        """Every request gets an answer: a refusal is its 4xx, a bug in the sim a 500 (with the
        traceback on stderr) — never a dropped connection."""
        self._started = False
        try:
            handler()
        except (BrokenPipeError, ConnectionResetError):
            raise  # the client went away (handle_error notes it)
        except Exception as exc:  # noqa: BLE001 (the one catch site of the endpoint)
            if not isinstance(exc, WireError):
                traceback.print_exc(file=sys.stderr)
                exc = WireError(500, f"sim error: {type(exc).__name__}: {exc}", "server_error")
            if self._started:  # mid-stream: closing early is the only honest signal left
                self.close_connection = True
            else:
                self._send_json(exc.status, exc.body())

    def _get(self) -> None:
        path = self.path.split("?")[0].rstrip("/")
        for prefix in ("/v1/models", "/models"):
            if path == prefix:
                self._send_json(200, {"object": "list", "data": [_model(f"sim-{r}") for r in ROLES]})
                return
            if path.startswith(prefix + "/"):
                model = urllib.parse.unquote(path[len(prefix) + 1:])
                if model.removeprefix("sim-") not in ROLES or not model.startswith("sim-"):
                    raise WireError(404, f"The model '{model}' does not exist", param="model",
                                    code="model_not_found")
                self._send_json(200, _model(model))
                return
        raise WireError(404, f"no route GET {self.path}", code="unknown_url")

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True  # the unread body would be taken for the next request
            raise WireError(411, "send the body with a Content-Length (chunked bodies are not read)")
        raw = self.headers.get("Content-Length")
        try:
            length = int(raw) if raw is not None else -1
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            raise WireError(411, f"a POST needs a valid Content-Length, got {raw!r}")
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise WireError(413, f"request body of {length} bytes is over {MAX_BODY_BYTES}")
        return self.rfile.read(length)

    def _post(self) -> None:
        body = self._read_body()  # first, so a refusal leaves the connection usable
        if self.path.split("?")[0].rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            raise WireError(404, f"no route POST {self.path}", code="unknown_url")
        srv = self.server
        with srv.lock:
            srv.requests += 1
            srv.in_flight += 1
            srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
        try:
            self._complete(body)
        finally:
            with srv.lock:
                srv.in_flight -= 1

    def _complete(self, body: bytes) -> None:
        srv = self.server
        t0 = time.monotonic()
        fault = srv.plan.decide(body)
        if fault is not None:
            with srv.lock:
                srv.faults_injected[fault] += 1
            if fault not in ("truncated", "empty_choices"):
                self._wait_latency(t0)
            if inject(self, fault):
                return
        chat = parse_chat(body)
        requests = [to_llm_request(chat, index) for index in range(chat.n)]
        responses = []
        for request in requests:
            response = sim.respond(request)
            check_format(chat, response)
            check_tool_choice(chat, response)
            responses.append(response)
        cached = cached_usage(srv.prefix_cache, requests[0], responses[0])  # read once for n
        cid = "chatcmpl-sim-" + hashlib.sha256(body).hexdigest()[:24]
        self._wait_latency(t0)
        if chat.stream:
            self._stream(chat, responses, cid, fault, cached)
            return
        payload = completion(chat.model, responses, cid)
        payload["usage"].update(cached)
        if fault == "empty_choices":
            payload["choices"] = []
        raw = json.dumps(payload).encode()
        self._send(200, raw[: len(raw) // 2] if fault == "truncated" else raw)

    def _stream(self, chat: ChatRequest, responses: list[LLMResponse], cid: str,
                fault: str | None, cached: dict[str, Any]) -> None:
        """Server-sent events over chunked transfer: one `data:` event per chunk, then
        `data: [DONE]`. A `truncated` fault cuts the stream half-way (no end of body)."""
        include = bool(chat.stream_options and chat.stream_options.include_usage)
        chunks = list(stream_chunks(chat.model, responses, cid, include))
        for chunk in chunks:
            if chunk.get("usage"):  # the usage chunk, last
                chunk["usage"].update(cached)
        events = [json.dumps(c) for c in chunks]
        if fault == "empty_choices":
            events = [json.dumps({"id": cid, "object": "chat.completion.chunk", "created": 0,
                                  "model": chat.model, "choices": []})]
        self._headers(200, "text/event-stream", {"Cache-Control": "no-cache",
                                                 "Transfer-Encoding": "chunked"})
        self.end_headers()
        if not write_events(self.wfile, events, len(events) // 2 if fault == "truncated" else None):
            self.close_connection = True

    def _wait_latency(self, t0: float) -> None:
        """`latency_ms` is the whole time to answer: the simulator's own work counts in it."""
        left = self.server.options.latency_ms / 1000.0 - (time.monotonic() - t0)
        if left > 0:
            self.server.stopping.wait(left)


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": FINGERPRINT}
