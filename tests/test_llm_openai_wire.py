"""The openai backend's request and response against the SDK's own: complete() posts through the
SDK's client.post and reads the parsed JSON, skipping create()'s param transform and its response
models; the bytes on the wire and the mapped response must be exactly the SDK's."""

import json

import openai
import pytest

from inner_loop.llm import openai_backend
from inner_loop.llm.openai_backend import request_kwargs
from inner_loop.llm.types import LLMResponse, Message, ToolCall, ToolSpec, TransientLLMError, Usage
from canned_endpoint import SECRET, Canned, completion
from test_llm_openai_backend import _rc, _req


def test_the_body_sent_is_exactly_what_chat_completions_create_sends(monkeypatch):
    """complete() posts request_kwargs through the SDK's own client.post, skipping create()'s
    param transform; the bytes on the wire (body, auth, content type) must be the same."""
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
        sdk = openai.OpenAI(base_url=rc.base_url, api_key=SECRET, timeout=rc.timeout_s, max_retries=0)
        sdk.chat.completions.create(**request_kwargs(req, rc))
        (ours, our_headers), (theirs, their_headers) = ep.seen
    assert ours == theirs
    for header in ("authorization", "content-type", "accept", "user-agent"):
        assert our_headers.get(header) == their_headers.get(header), header


def _sdk_models_reference(completion):
    """The mapping complete() used while it read the SDK's ChatCompletion models (the oracle)."""
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
        sdk = openai_backend._client(rc)
        reference = outcome(lambda: _sdk_models_reference(sdk.post(
            "/chat/completions", body=request_kwargs(_req(), rc), cast_to=ChatCompletion)))
    assert ours == reference
