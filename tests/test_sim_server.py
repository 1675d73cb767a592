"""The loopback OpenAI-compatible sim server (inner_loop/sim/server.py) over real HTTP."""

import http.client
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from evolve.cli import main as cli_main
from inner_loop.config import RoleConfig
from inner_loop.llm.openai_backend import request_kwargs
from inner_loop.llm.types import LLMRequest, Message, ToolCall, ToolSpec
from inner_loop.roles import ROLES
from inner_loop.sim.server import (
    FAULTS, FaultPlan, SimServer, SimServerOptions, parse_faults, request_from_openai,
)

BODY = {"model": "sim-judge", "messages": [{"role": "user", "content": "hi"}], "seed": 3}


def _post(base_url: str, body: dict, timeout: float = 5.0):
    data = json.dumps(body).encode()
    req = urllib.request.Request(f"{base_url}/chat/completions", data=data,
                                 headers={"Content-Type": "application/json"})
    return urllib.request.urlopen(req, timeout=timeout)


def test_models_lists_one_sim_model_per_role():
    with SimServer() as server:
        with urllib.request.urlopen(f"{server.base_url}/models", timeout=5) as resp:
            data = json.loads(resp.read())
            assert resp.headers["X-Autodata-Simulated"] == "true"
    assert [m["id"] for m in data["data"]] == [f"sim-{r}" for r in ROLES]


def test_unknown_model_is_a_404_json_error():
    with SimServer() as server:
        with pytest.raises(urllib.error.HTTPError) as info:
            _post(server.base_url, {**BODY, "model": "gpt-4o"})
    assert info.value.code == 404
    assert "gpt-4o" in json.loads(info.value.read())["error"]["message"]


def test_request_round_trips_through_openai_json():
    req = LLMRequest(
        role="orchestrator", model="sim-orchestrator", temperature=0.7, max_tokens=321, seed=99,
        messages=[
            Message(role="system", content="You run the loop."),
            Message(role="user", content="Paper: ..."),
            Message(role="assistant", content=None,
                    tool_calls=[ToolCall(id="c1", name="evaluate", arguments='{"solver":"weak"}')]),
            Message(role="tool", content='{"score":0.4}', tool_call_id="c1"),
        ],
        tools=[ToolSpec(name="evaluate", description="run solvers",
                        parameters={"type": "object", "properties": {"solver": {"type": "string"}}})],
        response_format="json", json_schema={"type": "object", "properties": {}},
    )
    body = json.loads(json.dumps(request_kwargs(req, RoleConfig(backend="openai", base_url="x"))))
    assert request_from_openai(body) == req


def test_fault_plan_is_deterministic_and_lets_retries_of_one_body_succeed():
    opts = SimServerOptions(fault_rate=0.5, fault_seed=7)
    a, b = FaultPlan(opts), FaultPlan(opts)
    bodies = [json.dumps({**BODY, "seed": i}).encode() for i in range(200)]
    first = [a.decide(x) for x in bodies]
    assert first == [b.decide(x) for x in bodies]
    assert 60 < sum(f is not None for f in first) < 140
    assert set(first) - {None} == set(FAULTS)
    # the same body seen again draws again: within a few sightings it goes through
    for body in bodies[:20]:
        assert any(a.decide(body) is None for _ in range(12))
    other_seed = FaultPlan(SimServerOptions(fault_rate=0.5, fault_seed=8))
    assert [other_seed.decide(x) for x in bodies] != first


def test_parse_faults_rejects_unknown_names():
    assert parse_faults("429, timeout") == ("429", "timeout")
    with pytest.raises(ValueError, match="teapot"):
        parse_faults("429,teapot")


def test_429_fault_sends_retry_after():
    with SimServer(fault_rate=1.0, faults=("429",), retry_after_s=2.5) as server:
        with pytest.raises(urllib.error.HTTPError) as info:
            _post(server.base_url, BODY)
        assert server.faults_injected == {"429": 1}
    assert info.value.code == 429 and info.value.headers["Retry-After"] == "2.5"


def test_bad_json_fault_is_a_200_with_a_non_json_body():
    with SimServer(fault_rate=1.0, faults=("bad_json",)) as server:
        with _post(server.base_url, BODY) as resp:
            assert resp.status == 200
            with pytest.raises(json.JSONDecodeError):
                json.loads(resp.read())


def test_reset_fault_closes_the_socket_without_an_answer():
    with SimServer(fault_rate=1.0, faults=("reset",)) as server:
        host, port = server.base_url.split("//")[1].split("/")[0].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        with pytest.raises((ConnectionError, http.client.RemoteDisconnected, OSError)):
            conn.request("POST", "/v1/chat/completions", body=json.dumps(BODY),
                         headers={"Content-Type": "application/json"})
            conn.getresponse().read()


def test_timeout_fault_holds_the_request_past_the_client_timeout():
    with SimServer(fault_rate=1.0, faults=("timeout",), timeout_sleep_s=2.0) as server:
        t0 = time.monotonic()
        with pytest.raises((socket.timeout, TimeoutError, urllib.error.URLError)):
            _post(server.base_url, BODY, timeout=0.3)
        assert time.monotonic() - t0 < 1.5
    # stopping the server releases the held request at once
    assert time.monotonic() - t0 < 1.9


def test_cli_rejects_unknown_faults(capsys):
    assert cli_main(["sim-serve", "--port", "0", "--faults", "429,teapot"]) == 1
    assert "teapot" in capsys.readouterr().err


def test_cli_serves_until_interrupted():
    proc = subprocess.Popen(
        [sys.executable, "-m", "evolve.cli", "sim-serve", "--port", "0"],
        stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stderr.readline()
        assert "SIMULATED" in line and "http://127.0.0.1:" in line
        base_url = line.split(" at ")[1].split()[0]
        with urllib.request.urlopen(f"{base_url}/models", timeout=5) as resp:
            assert resp.status == 200
    finally:
        proc.send_signal(2)  # SIGINT = Ctrl-C
        assert proc.wait(timeout=10) == 0



def _protected_conversations():
    """The solver and judge conversations exactly as the protected evaluation renders them."""
    from inner_loop.evaluation import JUDGE_SCHEMA
    from inner_loop.example import Example, RubricItem
    from inner_loop.prompting import judge_messages, solver_messages

    example = Example(
        question_type="mechanism", reasoning_skills=["causal reasoning", "quantitative estimation"],
        context="A vision transformer merges similar tokens between layers to save compute.",
        question="Why does merging tokens early in the network cost more accuracy than merging late?",
        reference_answer="Early layers still carry low-level spatial features that merging destroys.",
        rubric=[
            RubricItem(criterion="Explains that early layers hold low-level features", weight=5),
            RubricItem(criterion="States that merged tokens lose spatial detail", weight=4),
            RubricItem(criterion="Claims that merging improves accuracy", weight=-3),
        ],
    )
    answer = "Early layers hold low-level features; merged tokens lose spatial detail."
    return {
        "weak_solver": (solver_messages(example), "text", None),
        "judge": (judge_messages(example.rubric, example.question, answer), "json", JUDGE_SCHEMA),
    }


@pytest.mark.parametrize("role", ["weak_solver", "judge"])
def test_openai_client_over_http_matches_the_in_process_sim(role):
    from inner_loop.config import Config
    from inner_loop.llm.client import LLMClient

    messages, fmt, schema = _protected_conversations()[role]
    in_process = LLMClient(Config(seed=4))
    with SimServer() as server:
        http_config = Config(seed=4)
        sim_rc = http_config.roles[role]
        http_config.roles[role] = RoleConfig(
            backend="openai", base_url=server.base_url, model=f"sim-{role}",
            temperature=sim_rc.temperature, max_tokens=sim_rc.max_tokens, timeout_s=30.0)
        over_http = LLMClient(http_config)
        answers = []
        for sample_index in range(3):
            kw = dict(response_format=fmt, json_schema=schema, sample_index=sample_index)
            a = in_process.complete(role, messages, **kw)
            b = over_http.complete(role, messages, **kw)
            assert a.simulated and b.simulated and a.content
            # the same usage, but for the prompt tokens sim-serve's prefix cache served (the
            # same prompt again: all but its last block; tests/test_llm_cached_tokens.py)
            cached = b.usage.cached_tokens
            assert (b.content, b.tool_calls, b.reasoning_content, b.finish_reason,
                    b.usage.model_copy(update={"cached_tokens": 0})) == (
                a.content, a.tool_calls, a.reasoning_content, a.finish_reason, a.usage)
            assert a.usage.cached_tokens == 0 and (cached > 0) == (sample_index > 0)
            answers.append(a.content)
    if role == "judge":
        assert len(json.loads(answers[0])["judgments"]) == 3  # a real verdict per rubric item
    else:
        assert len(set(answers)) > 1  # samples differ by seed, which travels over HTTP
