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

Fault injection (for testing clients): with probability `fault_rate` a request gets one of
`faults` instead of its answer. The decision is a pure function of
sha256(fault_seed, n, request body) where n counts how often this exact body was seen before —
so one request's retries draw fresh decisions and can succeed, and a rerun with the same seed
and the same request sequence injects the same faults. Faults: 429 (with Retry-After), 500, 503,
timeout (no answer for `timeout_sleep_s`, then the connection closes — set it above the client
timeout), reset (TCP RST), bad_json (200 with a non-JSON body), truncated (the JSON cut in half;
a stream cut half-way, without its end), empty_choices (`choices: []`).
"""

from __future__ import annotations

import hashlib
import json
import socket
import struct
import sys
import threading
import time
import traceback
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from inner_loop import sim
from inner_loop.llm.types import LLMRequest, LLMResponse
from inner_loop.roles import ROLES
from inner_loop.sim.answers import completion, stream_chunks
from inner_loop.sim.wire import (
    FINGERPRINT, ChatRequest, WireError, check_format, check_tool_choice, parse_chat, to_llm_request,
)

FAULTS: tuple[str, ...] = ("429", "500", "503", "timeout", "reset", "bad_json", "truncated",
                           "empty_choices")
MAX_BODY_BYTES = 64 * 1024 * 1024  # a request with a few papers in it is ~1 MB


class SimServerOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency_ms: float = 0.0
    fault_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    faults: tuple[str, ...] = FAULTS
    fault_seed: int = 0
    timeout_sleep_s: float = 10.0  # how long a `timeout` fault holds the request (bounded)
    retry_after_s: float = 1.0  # the Retry-After a `429` fault sends


def parse_faults(text: str) -> tuple[str, ...]:
    faults = tuple(f.strip() for f in text.split(",") if f.strip())
    unknown = [f for f in faults if f not in FAULTS]
    if unknown or not faults:
        raise ValueError(f"unknown fault(s) {unknown or text!r}; choose from {','.join(FAULTS)}")
    return faults


def request_from_openai(body: dict[str, Any]) -> LLMRequest:
    """An OpenAI chat.completions JSON body -> LLMRequest (WireError for what OpenAI refuses)."""
    return to_llm_request(parse_chat(json.dumps(body).encode()))


class FaultPlan:
    """Decides faults from (fault_seed, body, nth sighting of this body); thread-safe."""

    def __init__(self, options: SimServerOptions):
        self.options = options
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def decide(self, body: bytes) -> str | None:
        o = self.options
        if o.fault_rate <= 0 or not o.faults:
            return None
        body_id = hashlib.sha256(body).hexdigest()
        with self._lock:
            nth = self._seen[body_id]
            self._seen[body_id] += 1
        h = hashlib.sha256(f"{o.fault_seed}:{nth}:{body_id}".encode()).digest()
        if int.from_bytes(h[:8], "big") / 2**64 >= o.fault_rate:
            return None
        return o.faults[int.from_bytes(h[8:16], "big") % len(o.faults)]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the stdlib default (5) drops SYNs under a burst of clients
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], options: SimServerOptions, verbose: bool):
        super().__init__(address, _Handler)
        self.options, self.verbose = options, verbose
        self.plan = FaultPlan(options)
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
            if self._inject(fault):
                return
        chat = parse_chat(body)
        responses = []
        for index in range(chat.n):
            response = sim.respond(to_llm_request(chat, index))
            check_format(chat, response)
            check_tool_choice(chat, response)
            responses.append(response)
        cid = "chatcmpl-sim-" + hashlib.sha256(body).hexdigest()[:24]
        self._wait_latency(t0)
        if chat.stream:
            self._stream(chat, responses, cid, fault)
            return
        payload = completion(chat.model, responses, cid)
        if fault == "empty_choices":
            payload["choices"] = []
        raw = json.dumps(payload).encode()
        self._send(200, raw[: len(raw) // 2] if fault == "truncated" else raw)

    def _stream(self, chat: ChatRequest, responses: list[LLMResponse], cid: str,
                fault: str | None) -> None:
        """Server-sent events over chunked transfer: one `data:` event per chunk, then
        `data: [DONE]`. A `truncated` fault cuts the stream half-way (no end of body)."""
        include = bool(chat.stream_options and chat.stream_options.include_usage)
        events = [json.dumps(c) for c in stream_chunks(chat.model, responses, cid, include)]
        if fault == "empty_choices":
            events = [json.dumps({"id": cid, "object": "chat.completion.chunk", "created": 0,
                                  "model": chat.model, "choices": []})]
        self._headers(200, "text/event-stream", {"Cache-Control": "no-cache",
                                                 "Transfer-Encoding": "chunked"})
        self.end_headers()
        cut = len(events) // 2 if fault == "truncated" else None
        for i, event in enumerate(events + ["[DONE]"]):
            if i == cut:
                self.close_connection = True
                return
            data = f"data: {event}\n\n".encode()
            self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def _wait_latency(self, t0: float) -> None:
        """`latency_ms` is the whole time to answer: the simulator's own work counts in it."""
        left = self.server.options.latency_ms / 1000.0 - (time.monotonic() - t0)
        if left > 0:
            self.server.stopping.wait(left)

    def _inject(self, fault: str) -> bool:
        """Send the fault; True when the request is finished (no real answer follows)."""
        opts = self.server.options
        if fault == "429":
            err = WireError(429, "simulated rate limit", "rate_limit_error", code="rate_limit_exceeded")
            self._send_json(429, err.body(), {"Retry-After": f"{opts.retry_after_s:g}"})
        elif fault in ("500", "503"):
            self._send_json(int(fault), WireError(int(fault), f"simulated server error {fault}",
                                                  "server_error").body())
        elif fault == "timeout":
            self.server.stopping.wait(opts.timeout_sleep_s)
            self.close_connection = True
        elif fault == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
        elif fault == "bad_json":
            self._send(200, b"<html>simulated bad gateway page, not JSON</html>",
                       content_type="text/html")
        else:
            return False  # truncated / empty_choices: built from the real answer
        return True


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": FINGERPRINT}


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
