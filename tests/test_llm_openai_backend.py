"""The openai backend against real HTTP endpoints: the loopback sim server's faults and a
canned OpenAI-compatible endpoint (a test fixture standing in for vLLM / Kimi / OpenRouter)."""

import json

import pytest

from inner_loop.config import Config, RoleConfig
from inner_loop.llm import openai_backend
from inner_loop.llm.client import LLMClient
from inner_loop.llm.openai_backend import request_kwargs
from inner_loop.llm.types import FatalLLMError, LLMRequest, Message, TransientLLMError
from inner_loop.sim.server import SimServer

from canned_endpoint import SECRET, Canned, completion


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


def test_the_sdk_client_is_built_with_the_llm_client_and_reads_the_key_at_each_call(monkeypatch):
    monkeypatch.delenv("AUTODATA_TEST_KEY", raising=False)  # not set yet: building reads no key
    reply = lambda body, h: (200, {}, completion({"content": "ok"}))
    with Canned(reply) as ep:
        config = Config.model_validate({})
        config.roles["judge"] = _rc(ep.base_url, api_key_env="AUTODATA_TEST_KEY", timeout_s=0.75)
        client = LLMClient(config)
        assert (ep.base_url, 0.75) in openai_backend._clients and not ep.seen  # built, no call
        assert SECRET not in repr(vars(openai_backend._clients[(ep.base_url, 0.75)]))
        for key in (SECRET, SECRET + "-rotated"):  # a key changed between calls is sent at once
            monkeypatch.setenv("AUTODATA_TEST_KEY", key)
            client.complete("judge", [{"role": "user", "content": "hi"}])
        assert [h["authorization"] for _, h in ep.seen] == [f"Bearer {SECRET}", f"Bearer {SECRET}-rotated"]


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
