"""A scripted OpenAI-compatible endpoint on loopback, for driving the real loops with chosen
model output through the real `openai` client.

`ScriptedEndpoint(script)`: every POST /v1/chat/completions body goes to `script(role, body)`
(role = the model name without its `sim-` prefix). The script returns
- `Tools([...])`: an assistant turn with exactly these tool calls (name, arguments text — the
  arguments go out as written, however hostile);
- `Reject(status, message)`: an HTTP error with an OpenAI-style error body;
- None: the simulated model world answers (`inner_loop.sim.respond`), as `autodata sim-serve`.
Scripts must be pure functions of the request, so a killed and resumed run sees the same answers.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from inner_loop import sim
from inner_loop.llm.types import LLMRequest, Message, ToolCall, ToolSpec


@dataclass
class Tools:
    calls: list[tuple[str, str]]  # (tool name, arguments as the model writes them)
    content: str | None = None


@dataclass
class Reject:
    status: int
    message: str


Script = Callable[[str, dict[str, Any]], "Tools | Reject | None"]


def llm_request(body: dict[str, Any]) -> LLMRequest:
    """The LLMRequest the sim answers for an OpenAI chat.completions body."""
    messages = [Message(
        role=m["role"], content=m.get("content"), tool_call_id=m.get("tool_call_id"),
        tool_calls=[ToolCall(id=c["id"], name=c["function"]["name"],
                             arguments=c["function"]["arguments"])
                    for c in m.get("tool_calls") or []] or None)
        for m in body["messages"]]
    tools = [ToolSpec(name=t["function"]["name"], description=t["function"]["description"],
                      parameters=t["function"]["parameters"]) for t in body.get("tools") or []]
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" \
        else None
    return LLMRequest(role=body["model"].removeprefix("sim-"), model=body["model"],
                      messages=messages, tools=tools or None,
                      response_format="json" if fmt else "text", json_schema=schema,
                      temperature=body.get("temperature", 1.0),
                      max_tokens=body.get("max_tokens", 4096), seed=body.get("seed", 0))


def _completion(model: str, content: str | None, calls: list[dict[str, Any]]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    return {"id": "chatcmpl-scripted", "object": "chat.completion", "created": 0, "model": model,
            "system_fingerprint": "autodata-sim",
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}}


@dataclass
class _State:
    script: Script
    seen: list[tuple[str, int]] = field(default_factory=list)  # (role, messages) per request
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _send(self, status: int, obj: Any) -> None:
        raw = json.dumps(obj).encode()  # ensure_ascii: a lone surrogate travels as \ud800
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        state: _State = self.server.state
        role = body["model"].removeprefix("sim-")
        with state.lock:
            state.seen.append((role, len(body["messages"])))
        reply = state.script(role, body)
        if isinstance(reply, Reject):
            self._send(reply.status, {"error": {"message": reply.message,
                                                "type": "invalid_request_error",
                                                "code": reply.status}})
            return
        if isinstance(reply, Tools):
            calls = [{"id": f"call_{i}", "type": "function",
                      "function": {"name": name, "arguments": args}}
                     for i, (name, args) in enumerate(reply.calls)]
            self._send(200, _completion(body["model"], reply.content, calls))
            return
        response = sim.respond(llm_request(body))
        calls = [{"id": c.id, "type": "function",
                  "function": {"name": c.name, "arguments": c.arguments}}
                 for c in response.tool_calls]
        self._send(200, _completion(body["model"], response.content, calls))


class ScriptedEndpoint:
    """The server in a background thread; a context manager (any free loopback port)."""

    def __init__(self, script: Script):
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.state = _State(script)  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def seen(self) -> list[tuple[str, int]]:
        return list(self._server.state.seen)  # type: ignore[attr-defined]

    def __enter__(self) -> "ScriptedEndpoint":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
