"""Loopback OpenAI-compatible HTTP server for the simulated model world.

`POST /v1/chat/completions` turns the OpenAI JSON into an LLMRequest (the role is the one in the
model name: `sim-<role>`), answers with `inner_loop.sim.respond`, and returns a chat.completion
with `usage`, OpenAI-format `tool_calls` and `system_fingerprint: "autodata-sim"` (every answer is
labelled simulated; also the `X-Autodata-Simulated: true` header). `GET /v1/models` lists the
`sim-<role>` models. Stdlib only (ThreadingHTTPServer).

Fault injection (for testing clients): with probability `fault_rate` a request gets one of
`faults` instead of its answer. The decision is a pure function of
sha256(fault_seed, n, request body) where n counts how often this exact body was seen before —
so one request's retries draw fresh decisions and can succeed, and a rerun with the same seed
and the same request sequence injects the same faults. Faults: 429 (with Retry-After), 500, 503,
timeout (no answer for `timeout_sleep_s`, then the connection closes — set it above the client
timeout), reset (TCP RST), bad_json (200 with a non-JSON body), truncated (the JSON cut in half),
empty_choices (`choices: []`).
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
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from inner_loop import sim
from inner_loop.llm.types import LLMRequest, LLMResponse
from inner_loop.roles import ROLES

FAULTS: tuple[str, ...] = ("429", "500", "503", "timeout", "reset", "bad_json", "truncated",
                           "empty_choices")
FINGERPRINT = "autodata-sim"


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


class HTTPFailure(Exception):
    def __init__(self, status: int, message: str, err_type: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.err_type = status, err_type


def _text(content: Any) -> str | None:
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    raise HTTPFailure(400, "message content must be a string or a list of parts")


def _message(m: dict[str, Any]) -> dict[str, Any]:
    role = "system" if m.get("role") == "developer" else m.get("role")
    out: dict[str, Any] = {"role": role, "content": _text(m.get("content"))}
    if m.get("tool_calls"):
        out["tool_calls"] = [
            {"id": c["id"], "name": c["function"]["name"],
             "arguments": c["function"].get("arguments") or "{}"}
            for c in m["tool_calls"]
        ]
    if m.get("tool_call_id") is not None:
        out["tool_call_id"] = m["tool_call_id"]
    return out


def request_from_openai(body: dict[str, Any]) -> LLMRequest:
    """OpenAI chat.completions JSON -> LLMRequest (HTTPFailure 404 for an unknown model)."""
    model = str(body.get("model", ""))
    role = model.removeprefix("sim-")
    if not model.startswith("sim-") or role not in ROLES:
        raise HTTPFailure(404, f"model {model!r} not found; the sim serves sim-<role> for roles "
                               f"{', '.join(ROLES)}", "not_found_error")
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None
    tools = [
        {"name": t["function"]["name"], "description": t["function"].get("description", ""),
         "parameters": t["function"].get("parameters") or {"type": "object", "properties": {}}}
        for t in body.get("tools") or [] if t.get("type", "function") == "function"
    ]
    try:
        return LLMRequest.model_validate({
            "role": role, "model": model,
            "messages": [_message(m) for m in body.get("messages") or []],
            "tools": tools or None,
            "response_format": "json" if fmt.get("type") in ("json_object", "json_schema") else "text",
            "json_schema": schema,
            "temperature": body.get("temperature", 1.0),
            "max_tokens": body.get("max_tokens") or body.get("max_completion_tokens") or 4096,
            "seed": body.get("seed") or 0,
        })
    except (ValidationError, KeyError, TypeError, AttributeError) as exc:
        raise HTTPFailure(400, f"invalid request: {exc}") from None


def completion_json(request: LLMRequest, response: LLMResponse, completion_id: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": response.content}
    if response.reasoning_content is not None:
        message["reasoning_content"] = response.reasoning_content
    if response.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in response.tool_calls
        ]
    usage = response.usage
    return {
        "id": completion_id, "object": "chat.completion", "created": 0, "model": request.model,
        "system_fingerprint": FINGERPRINT,
        "choices": [{"index": 0, "message": message, "finish_reason": response.finish_reason}],
        "usage": {"prompt_tokens": usage.input_tokens, "completion_tokens": usage.output_tokens,
                  "total_tokens": usage.input_tokens + usage.output_tokens},
    }


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

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        if self.server.verbose:
            sys.stderr.write(f"sim-serve: {self.address_string()} {format % args}\n")

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Autodata-Simulated", "true")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers)

    def _send_error(self, status: int, message: str, err_type: str,
                    headers: dict[str, str] | None = None) -> None:
        self._send_json(status, {"error": {"message": f"[autodata-sim] {message}",
                                           "type": err_type, "code": status}}, headers)

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            data = [{"id": f"sim-{r}", "object": "model", "created": 0, "owned_by": FINGERPRINT}
                    for r in ROLES]
            self._send_json(200, {"object": "list", "data": data})
        else:
            self._send_error(404, f"no route {self.path}", "not_found_error")

    def do_POST(self) -> None:  # noqa: N802 (stdlib name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._send_error(404, f"no route {self.path}", "not_found_error")
            return
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
        srv, opts = self.server, self.server.options
        t0 = time.monotonic()
        fault = srv.plan.decide(body)
        if fault is not None:
            with srv.lock:
                srv.faults_injected[fault] += 1
            if fault not in ("truncated", "empty_choices"):
                self._wait_latency(t0)
            if self._inject(fault):
                return
        try:
            request = request_from_openai(json.loads(body))
        except json.JSONDecodeError as exc:
            self._send_error(400, f"body is not JSON: {exc}", "invalid_request_error")
            return
        except HTTPFailure as exc:
            self._send_error(exc.status, str(exc), exc.err_type)
            return
        try:
            response = sim.respond(request)
        except Exception as exc:  # a bug in the sim: answer 500 with it instead of a dropped socket
            traceback.print_exc(file=sys.stderr)
            self._send_error(500, f"sim error: {type(exc).__name__}: {exc}", "server_error")
            return
        cid = "chatcmpl-sim-" + hashlib.sha256(body).hexdigest()[:24]
        payload = completion_json(request, response, cid)
        if fault == "empty_choices":
            payload["choices"] = []
        raw = json.dumps(payload).encode()
        self._wait_latency(t0)
        self._send(200, raw[: len(raw) // 2] if fault == "truncated" else raw)

    def _wait_latency(self, t0: float) -> None:
        """`latency_ms` is the whole time to answer: the simulator's own work counts in it."""
        left = self.server.options.latency_ms / 1000.0 - (time.monotonic() - t0)
        if left > 0:
            self.server.stopping.wait(left)

    def _inject(self, fault: str) -> bool:
        """Send the fault; True when the request is finished (no real answer follows)."""
        opts = self.server.options
        if fault == "429":
            self._send_error(429, "simulated rate limit", "rate_limit_error",
                             {"Retry-After": f"{opts.retry_after_s:g}"})
        elif fault in ("500", "503"):
            self._send_error(int(fault), f"simulated server error {fault}", "server_error")
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
