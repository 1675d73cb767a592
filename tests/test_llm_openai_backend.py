"""The openai backend against real HTTP endpoints: the loopback sim server's faults and a
canned OpenAI-compatible endpoint (a test fixture standing in for vLLM / Kimi / OpenRouter)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from inner_loop.config import Config, RoleConfig
from inner_loop.llm import openai_backend
from inner_loop.llm.client import LLMClient
from inner_loop.llm.openai_backend import request_kwargs
from inner_loop.llm.types import FatalLLMError, LLMRequest, Message, TransientLLMError
from inner_loop.sim.server import SimServer

SECRET = "sk-test-5f3b9c0e7d1a4b2c8e6f0a9d3c7b1e5f"


class Canned:
    """A loopback endpoint answering every POST with reply(body, headers) -> (status, hdrs, bytes)."""

    def __init__(self, reply):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.seen.append((body, {k.lower(): v for k, v in self.headers.items()}))
                status, headers, raw = reply(body, self.headers)
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.seen: list = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def completion(message: dict, usage=(100, 20), fingerprint=None) -> bytes:
    return json.dumps({
        "id": "c", "object": "chat.completion", "created": 0, "model": "m",
        "system_fingerprint": fingerprint,
        "choices": [{"index": 0, "message": {"role": "assistant", **message},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                  "total_tokens": sum(usage)},
    }).encode()


def _req(**over) -> LLMRequest:
    return LLMRequest(**{"role": "judge", "model": "sim-judge",
                         "messages": [Message(role="user", content="grade this")], **over})


def _rc(base_url: str, **over) -> RoleConfig:
    return RoleConfig(**{"backend": "openai", "base_url": base_url, "model": "sim-judge",
                         "timeout_s": 0.5, **over})


@pytest.mark.parametrize("json_mode,expected", [
    ("schema", {"type": "json_schema", "json_schema": {"name": "response", "schema": {"type": "object"}}}),
    ("object", {"type": "json_object"}),
    ("none", None),
])
def test_json_response_format_follows_the_roles_json_mode(json_mode, expected):
    req = _req(response_format="json", json_schema={"type": "object"})
    kwargs = request_kwargs(req, _rc("http://x", json_mode=json_mode))
    assert kwargs.get("response_format") == expected
    assert "response_format" not in request_kwargs(_req(), _rc("http://x"))


def test_json_without_a_schema_falls_back_to_json_object():
    kwargs = request_kwargs(_req(response_format="json"), _rc("http://x", json_mode="schema"))
    assert kwargs["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_fields_map_to_reasoning_content(field):
    reply = lambda body, h: (200, {}, completion({"content": "PASS", field: "thinking..."}))
    with Canned(reply) as ep:
        resp = openai_backend.complete(_req(), _rc(ep.base_url))
    assert (resp.content, resp.reasoning_content) == ("PASS", "thinking...")
    assert (resp.usage.input_tokens, resp.usage.output_tokens) == (100, 20)
    assert resp.simulated is False


def test_sim_fingerprint_marks_the_response_simulated():
    reply = lambda body, h: (200, {}, completion({"content": "x"}, fingerprint="autodata-sim"))
    with Canned(reply) as ep:
        assert openai_backend.complete(_req(), _rc(ep.base_url)).simulated is True


def test_tool_calls_are_sent_and_parsed_in_openai_format():
    call = {"id": "t1", "type": "function",
            "function": {"name": "evaluate", "arguments": '{"solver": "weak"}'}}
    reply = lambda body, h: (200, {}, completion({"content": None, "tool_calls": [call]}))
    from inner_loop.llm.types import ToolSpec
    with Canned(reply) as ep:
        resp = openai_backend.complete(
            _req(tools=[ToolSpec(name="evaluate", description="d")]), _rc(ep.base_url))
        sent = ep.seen[0][0]
    assert sent["tools"][0]["function"]["name"] == "evaluate" and sent["seed"] == 0
    assert [(c.id, c.name, c.arguments) for c in resp.tool_calls] == [
        ("t1", "evaluate", '{"solver": "weak"}')]


def test_api_key_comes_from_the_named_env_var_at_call_time(monkeypatch):
    monkeypatch.setenv("AUTODATA_TEST_KEY", SECRET)
    reply = lambda body, h: (200, {}, completion({"content": "ok"}))
    with Canned(reply) as ep:
        openai_backend.complete(_req(), _rc(ep.base_url, api_key_env="AUTODATA_TEST_KEY"))
        openai_backend.complete(_req(), _rc(ep.base_url))
        auth = [h["authorization"] for _, h in ep.seen]
    assert auth == [f"Bearer {SECRET}", "Bearer not-needed"]


def test_missing_key_variable_is_fatal_and_names_it(monkeypatch):
    monkeypatch.delenv("AUTODATA_NO_SUCH_KEY", raising=False)
    with pytest.raises(FatalLLMError, match="AUTODATA_NO_SUCH_KEY"):
        openai_backend.complete(_req(), _rc("http://127.0.0.1:9/v1", api_key_env="AUTODATA_NO_SUCH_KEY"))


def test_an_endpoint_echoing_the_key_never_leaks_it_into_the_error(monkeypatch):
    monkeypatch.setenv("AUTODATA_TEST_KEY", SECRET)

    def reply(body, headers):
        msg = f"Incorrect API key provided: {headers['Authorization'].split()[-1]}"
        return 401, {}, json.dumps({"error": {"message": msg}}).encode()

    with Canned(reply) as ep:
        with pytest.raises(FatalLLMError) as info:
            openai_backend.complete(_req(), _rc(ep.base_url, api_key_env="AUTODATA_TEST_KEY"))
    assert "401" in str(info.value) and SECRET not in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None


@pytest.mark.parametrize("status", [400, 403, 404])
def test_client_errors_are_fatal(status):
    reply = lambda body, h: (status, {}, json.dumps({"error": {"message": "no"}}).encode())
    with Canned(reply) as ep:
        with pytest.raises(FatalLLMError, match=str(status)):
            openai_backend.complete(_req(), _rc(ep.base_url))


def test_retry_after_ms_header_is_understood():
    reply = lambda body, h: (429, {"retry-after-ms": "1500"}, b'{"error": {"message": "slow"}}')
    with Canned(reply) as ep:
        with pytest.raises(TransientLLMError) as info:
            openai_backend.complete(_req(), _rc(ep.base_url))
    assert info.value.kind == "rate_limit" and info.value.retry_after_s == pytest.approx(1.5)


@pytest.mark.parametrize("fault,kind", [
    ("429", "rate_limit"), ("500", "server_error"), ("503", "server_error"),
    ("timeout", "timeout"), ("reset", "connection"), ("bad_json", "bad_response"),
])
def test_sim_server_faults_map_to_transient_kinds(fault, kind):
    with SimServer(fault_rate=1.0, faults=(fault,), timeout_sleep_s=2.0) as server:
        with pytest.raises(TransientLLMError) as info:
            openai_backend.complete(_req(), _rc(server.base_url, timeout_s=0.3))
    assert info.value.kind == kind


@pytest.mark.parametrize("body,kind", [
    (lambda: completion({"content": "x"})[:40], "bad_response"),
    (lambda: json.dumps({"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                         "choices": []}).encode(), "bad_response"),
])
def test_truncated_or_empty_bodies_are_transient_bad_responses(body, kind):
    with Canned(lambda b, h: (200, {}, body())) as ep:
        with pytest.raises(TransientLLMError) as info:
            openai_backend.complete(_req(), _rc(ep.base_url))
    assert info.value.kind == kind


def test_retry_after_from_the_sim_server_is_honoured_by_the_client():
    sleeps: list[float] = []
    config = Config.model_validate({"retry": {"max_attempts": 4, "max_delay_s": 2.0}})
    with SimServer(fault_rate=1.0, faults=("429",), retry_after_s=1.25) as server:
        config.roles["judge"] = _rc(server.base_url)
        client = LLMClient(config, sleep=sleeps.append)
        with pytest.raises(FatalLLMError, match="judge: gave up after 4 attempts: \\[rate_limit\\]"):
            client.complete("judge", [{"role": "user", "content": "hi"}])
        server.options.retry_after_s = 30.0  # capped at max_delay_s
        with pytest.raises(FatalLLMError):
            client.complete("judge", [{"role": "user", "content": "hi"}], sample_index=1)
    assert sleeps == [1.25] * 3 + [2.0] * 3


def test_the_body_sent_is_exactly_what_chat_completions_create_sends(monkeypatch):
    """complete() posts request_kwargs through the SDK's own client.post, skipping create()'s
    param transform; the bytes on the wire (body, auth, content type) must be the same."""
    from inner_loop.llm.types import ToolCall, ToolSpec
    monkeypatch.setenv("AUTODATA_TEST_KEY", SECRET)
    req = _req(messages=[
        Message(role="system", content="sys"),
        Message(role="user", content="Ünïcode ✓ " + "x" * 3000),
        Message(role="assistant", content=None,
                tool_calls=[ToolCall(id="t1", name="evaluate", arguments='{"solver": "weak"}')]),
        Message(role="tool", tool_call_id="t1", content='{"ok": true}'),
    ], tools=[ToolSpec(name="evaluate", description="d",
                       parameters={"type": "object", "properties": {"a": {"type": "string"}}})],
        response_format="json", json_schema={"type": "object", "properties": {"v": {}}},
        seed=123, temperature=0.3, max_tokens=77)
    rc = _rc("http://x", api_key_env="AUTODATA_TEST_KEY", json_mode="schema")
    reply = lambda body, h: (200, {}, completion({"content": "ok"}))
    with Canned(reply) as ep:
        rc = rc.model_copy(update={"base_url": ep.base_url})
        openai_backend.complete(req, rc)
        sdk = openai_backend._client(rc, SECRET)
        sdk.chat.completions.create(**request_kwargs(req, rc))
        (ours, our_headers), (theirs, their_headers) = ep.seen
    assert ours == theirs
    for header in ("authorization", "content-type", "accept", "user-agent"):
        assert our_headers.get(header) == their_headers.get(header), header


def _sdk_models_reference(completion):
    """The mapping complete() used while it read the SDK's ChatCompletion models (the oracle)."""
    from inner_loop.llm.types import LLMResponse, ToolCall, Usage
    choices = getattr(completion, "choices", None)
    if not choices:
        kind = "empty choices" if isinstance(choices, list) else f"not a chat completion: {type(completion).__name__}"
        raise TransientLLMError(f"bad response: {kind}", kind="bad_response")
    choice = choices[0]
    msg = choice.message
    extra = msg.model_extra or {}
    reasoning = extra.get("reasoning_content") or extra.get("reasoning")
    usage = completion.usage
    return LLMResponse(
        content=msg.content,
        reasoning_content=reasoning if isinstance(reasoning, str) else None,
        tool_calls=[ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments or "{}")
                    for c in (msg.tool_calls or []) if getattr(c, "function", None) is not None],
        finish_reason=choice.finish_reason or "stop",
        usage=Usage(input_tokens=(usage.prompt_tokens or 0) if usage else 0,
                    output_tokens=(usage.completion_tokens or 0) if usage else 0),
        model=completion.model or "",
        simulated=completion.system_fingerprint == openai_backend.SIM_FINGERPRINT,
    )


def _chat(choices, **top):
    return json.dumps({"id": "c", "object": "chat.completion", "created": 0, "choices": choices,
                       **top}).encode()


_CALL = {"id": "t1", "type": "function", "function": {"name": "f", "arguments": ""}}
_CUSTOM = {"id": "t2", "type": "custom", "custom": {"name": "g", "input": "x"}}


@pytest.mark.parametrize("headers,raw", [
    ({}, completion({"content": "x", "reasoning": "r"}, fingerprint="autodata-sim")),
    ({}, completion({"content": None, "reasoning_content": "rc", "tool_calls": [_CALL, _CUSTOM]})),
    ({}, _chat([{"index": 0, "message": {"role": "assistant", "content": "y"},
                 "finish_reason": None}], model=None, usage=None)),
    ({}, _chat([{"index": 0, "message": {"role": "assistant", "content": "z"},
                 "finish_reason": "length"}], model="m2",
               usage={"prompt_tokens": None, "completion_tokens": 7})),
    ({}, _chat([])),
    ({}, json.dumps({"object": "chat.completion"}).encode()),
    ({}, b"[1, 2]"),
    ({}, b"null"),
    ({"Content-Type": "text/plain"}, completion({"content": "json under a text type"})),
    ({"Content-Type": "text/html"}, b"<html>gateway error</html>"),
])
def test_the_json_body_maps_exactly_as_the_sdk_models_did(headers, raw):
    """complete() reads the parsed JSON (cast_to=object) instead of SDK models: the same
    LLMResponse, or the same transient error, for every shape of body."""
    from openai.types.chat import ChatCompletion

    def outcome(fn):
        try:
            return fn()
        except TransientLLMError as exc:
            return ("error", exc.kind, str(exc))

    with Canned(lambda b, h: (200, headers, raw)) as ep:
        rc = _rc(ep.base_url)
        ours = outcome(lambda: openai_backend.complete(_req(), rc))
        sdk = openai_backend._client(rc, openai_backend.NO_KEY)
        reference = outcome(lambda: _sdk_models_reference(sdk.post(
            "/chat/completions", body=request_kwargs(_req(), rc), cast_to=ChatCompletion)))
    assert ours == reference
