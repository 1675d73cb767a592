"""sim-serve as the real `openai` SDK sees it: sync, async and streaming, `n`, models/{id},
JSON-schema output, and every malformed request a 4xx JSON error in OpenAI's shape."""

import asyncio
import http.client
import json

import openai
import pytest

from inner_loop.evaluation import JUDGE_SCHEMA
from inner_loop.example import RubricItem
from inner_loop.prompting import judge_messages
from inner_loop.sim.memory import load_memory
from inner_loop.sim.server import SimServer
from inner_loop.sim.wire import choice_seed

USER = [{"role": "user", "content": "How does gradient checkpointing trade compute for memory?"}]
TOOLS = [{"type": "function", "function": {"name": "evaluate", "description": "run solvers",
                                           "parameters": {"type": "object", "properties": {}}}}]
TRUNCATED_STREAM_ERRORS = openai.APIConnectionError  # the SDK's name for a body cut short
ORCH = [{"role": "system", "content": "You run the loop."},
        {"role": "user", "content": "Paper: <paper># T\n\nA sentence.</paper>"}]


@pytest.fixture(scope="module")
def server():
    load_memory()  # the solvers' memory (a few seconds) before the first timed request
    with SimServer() as s:
        yield s


@pytest.fixture()
def client(server):
    return openai.OpenAI(base_url=server.base_url, api_key="not-needed", max_retries=0, timeout=10)


def _raw(server, method: str, path: str, body: bytes | None, headers: dict | None = None):
    host, port = server.base_url.split("//")[1].split("/")[0].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request(method, path, body=body, headers=headers or {"Content-Type": "application/json"})
    resp = conn.getresponse()
    return conn, resp.status, resp.getheader("Content-Type"), resp.read()


def test_stream_yields_content_deltas_that_join_to_the_plain_answer(client):
    plain = client.chat.completions.create(model="sim-weak_solver", messages=USER, seed=5)
    chunks = list(client.chat.completions.create(model="sim-weak_solver", messages=USER, seed=5,
                                                 stream=True))
    assert len(chunks) > 3 and all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == plain.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.system_fingerprint == "autodata-sim" for c in chunks)


def test_stream_usage_chunk_comes_last_only_when_asked(client):
    chunks = list(client.chat.completions.create(
        model="sim-weak_solver", messages=USER, stream=True, stream_options={"include_usage": True}))
    plain = client.chat.completions.create(model="sim-weak_solver", messages=USER)
    assert chunks[-1].choices == [] and chunks[-1].usage == plain.usage
    assert all(c.usage is None for c in chunks[:-1])
    unasked = list(client.chat.completions.create(model="sim-weak_solver", messages=USER, stream=True))
    assert all(c.usage is None for c in unasked) and unasked[-1].choices


def test_stream_tool_call_deltas_rebuild_the_call(client):
    plain = client.chat.completions.create(model="sim-orchestrator", messages=ORCH, tools=TOOLS)
    call = plain.choices[0].message.tool_calls[0]
    parts: dict[int, dict] = {}
    finish = None
    for chunk in client.chat.completions.create(model="sim-orchestrator", messages=ORCH,
                                                tools=TOOLS, stream=True):
        for d in chunk.choices[0].delta.tool_calls or []:
            p = parts.setdefault(d.index, {"id": None, "name": "", "arguments": ""})
            p["id"] = d.id or p["id"]
            p["name"] += (d.function.name or "") if d.function else ""
            p["arguments"] += (d.function.arguments or "") if d.function else ""
        finish = chunk.choices[0].finish_reason or finish
    assert parts[0] == {"id": call.id, "name": call.function.name, "arguments": call.function.arguments}
    assert finish == "tool_calls"


def test_async_client_streams_and_completes(server):
    async def go():
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=10)
        plain = await client.chat.completions.create(model="sim-strong_solver", messages=USER)
        text = ""
        async for chunk in await client.chat.completions.create(
                model="sim-strong_solver", messages=USER, stream=True):
            text += chunk.choices[0].delta.content or "" if chunk.choices else ""
        await client.close()
        return plain.choices[0].message.content, text
    plain, streamed = asyncio.run(go())
    assert plain and streamed == plain


def test_n_returns_independent_choices_and_choice_zero_is_the_plain_answer(client):
    one = client.chat.completions.create(model="sim-weak_solver", messages=USER, seed=9)
    three = client.chat.completions.create(model="sim-weak_solver", messages=USER, seed=9, n=3)
    assert [c.index for c in three.choices] == [0, 1, 2]
    assert three.choices[0].message.content == one.choices[0].message.content
    other = client.chat.completions.create(model="sim-weak_solver", messages=USER,
                                           seed=choice_seed(9, 1))
    assert three.choices[1].message.content == other.choices[0].message.content
    assert three.usage.prompt_tokens == one.usage.prompt_tokens
    assert three.usage.completion_tokens == sum(
        client.chat.completions.create(model="sim-weak_solver", messages=USER,
                                       seed=choice_seed(9, i)).usage.completion_tokens
        for i in range(3))


def test_models_retrieve_one_and_unknown_is_model_not_found(client):
    assert client.models.retrieve("sim-judge").id == "sim-judge"
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("sim-nobody")
    assert info.value.body["code"] == "model_not_found" and info.value.body["param"] == "model"


def test_json_schema_is_honoured_by_a_role_that_answers_json(client):
    rubric = [RubricItem(criterion="Explains that activations are recomputed", weight=5)]
    prompt = judge_messages(rubric, "Why checkpoint?", "Activations are recomputed.")[0].content
    r = client.chat.completions.create(
        model="sim-judge", messages=[{"role": "user", "content": prompt}],
        response_format={"type": "json_schema", "json_schema": {"name": "v", "schema": JUDGE_SCHEMA}})
    assert json.loads(r.choices[0].message.content)["judgments"][0]["item"] == 1


@pytest.mark.parametrize("fmt", [
    {"type": "json_object"},
    {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}},
])
def test_a_prose_role_asked_for_json_is_a_clear_400(client, fmt):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="sim-weak_solver", messages=USER, response_format=fmt)
    assert info.value.body["param"] == "response_format"
    assert "prose" in info.value.body["message"]


def test_an_answer_that_misses_the_schema_is_a_400_naming_the_miss(client):
    schema = {"type": "object", "required": ["verdict"], "properties": {"verdict": {"type": "string"}}}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="sim-judge", messages=USER,
            response_format={"type": "json_schema", "json_schema": {"name": "v", "schema": schema}})
    assert "missing required property 'verdict'" in info.value.body["message"]


MALFORMED = {
    "empty messages": ({"messages": []}, "messages"),
    "negative max_tokens": ({"max_tokens": -5}, "max_tokens"),
    "response_format as a string": ({"response_format": "json"}, "response_format"),
    "a tool without function": ({"tools": [{"type": "function"}]}, "tools[0].function"),
    "n of zero": ({"n": 0}, "n"),
    "temperature above 2": ({"temperature": 3}, "temperature"),
    "a user message without content": ({"messages": [{"role": "user"}]}, "messages[0]"),
    "an unknown role": ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
    "a tool message without tool_call_id": ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0]"),
    "stream_options without stream": ({"stream_options": {"include_usage": True}}, None),
    "json_schema without its schema object": ({"response_format": {"type": "json_schema"}}, "response_format"),
    "an unknown argument": ({"extra_body": {"frobnicate": 1}}, "frobnicate"),
    "logprobs asked": ({"logprobs": True}, "logprobs"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_request_is_a_400_in_openai_error_shape(client, name):
    change, param = MALFORMED[name]
    kwargs = {"model": "sim-judge", "messages": USER, **change}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(**kwargs)
    err = info.value.body
    assert set(err) == {"message", "type", "param", "code"} and err["type"] == "invalid_request_error"
    if param is not None:
        assert err["param"] == param


@pytest.mark.parametrize("body", [b"[1, 2]", b"{not json", b"\xff\xfe", b"\"a string\"", b"null"])
def test_a_body_that_is_no_json_object_gets_a_400_and_the_connection_survives(server, body):
    conn, status, ctype, raw = _raw(server, "POST", "/v1/chat/completions", body)
    assert status == 400 and ctype == "application/json"
    assert json.loads(raw)["error"]["type"] == "invalid_request_error"
    conn.request("GET", "/v1/models")  # the same keep-alive connection still answers
    assert conn.getresponse().status == 200
    conn.close()


def test_unknown_routes_and_methods_are_json_errors(server):
    for method, path, status in (("GET", "/v1/nothing", 404), ("POST", "/v1/embeddings", 404),
                                 ("DELETE", "/v1/models", 501)):
        conn, got, ctype, raw = _raw(server, method, path, b"{}")
        conn.close()
        assert (got, ctype) == (status, "application/json") and json.loads(raw)["error"]["message"]


def test_an_oversized_or_lengthless_body_is_refused_without_reading_it(server):
    conn, status, _, raw = _raw(server, "POST", "/v1/chat/completions", None,
                                {"Content-Length": str(1 << 40)})
    conn.close()
    assert status == 413 and "over" in json.loads(raw)["error"]["message"]
    conn, status, _, _ = _raw(server, "POST", "/v1/chat/completions", b"{}",
                              {"Content-Length": "minus one"})
    conn.close()
    assert status == 411


def test_truncated_stream_fault_ends_the_stream_early_with_an_error():
    load_memory()
    with SimServer(fault_rate=1.0, faults=("truncated",)) as s:
        client = openai.OpenAI(base_url=s.base_url, api_key="x", max_retries=0, timeout=10)
        got = []
        with pytest.raises(TRUNCATED_STREAM_ERRORS):
            for chunk in client.chat.completions.create(model="sim-weak_solver", messages=USER,
                                                        stream=True):
                got.append(chunk)
    assert got and got[-1].choices[0].finish_reason is None  # cut before the finish chunk


def test_tool_choice_is_honoured_or_refused(client):
    prose = client.chat.completions.create(model="sim-weak_solver", messages=USER, tools=TOOLS,
                                           tool_choice="none")
    assert prose.choices[0].message.content and not prose.choices[0].message.tool_calls
    with pytest.raises(openai.BadRequestError, match="cannot honour tool_choice 'none'"):
        client.chat.completions.create(model="sim-orchestrator", messages=ORCH, tools=TOOLS,
                                       tool_choice="none")
    auto = client.chat.completions.create(model="sim-orchestrator", messages=ORCH, tools=TOOLS,
                                          tool_choice="required")
    assert auto.choices[0].message.tool_calls
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="sim-weak_solver", messages=USER, tools=TOOLS,
                                       tool_choice="required")
    assert info.value.body["param"] == "tool_choice"
    with pytest.raises(openai.BadRequestError, match="not among the tools"):
        client.chat.completions.create(model="sim-orchestrator", messages=ORCH, tools=TOOLS,
                                       tool_choice={"type": "function", "function": {"name": "nope"}})
