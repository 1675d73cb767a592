"""LLMClient: request building, budgets, cache, records, concurrency, secrets (inner_loop/llm/client.py).

Endpoints are real loopback HTTP servers: the canned endpoint from test_llm_openai_backend (exact
usage, so exact USD) and the sim server (the simulated world, with fault injection)."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from inner_loop.config import Config, RoleConfig
from inner_loop.llm.client import LLMClient, derive_seed
from inner_loop.llm.types import BudgetExceeded, FatalLLMError
from inner_loop.sim.server import SimServer
from canned_endpoint import SECRET, Canned, completion

HI = [{"role": "user", "content": "Explain the ablation in Section 4."}]


def _config(base_url: str, roles=("weak_solver",), **top) -> Config:
    config = Config.model_validate(top)
    for role in roles:
        config.roles[role] = RoleConfig(
            backend="openai", base_url=base_url, model=f"sim-{role}", temperature=1.0,
            max_tokens=333, timeout_s=10.0, price_input_per_mtok=20.0, price_output_per_mtok=100.0,
        )
    return config


def _canned():
    return Canned(lambda body, h: (200, {}, completion({"content": f"answer seed={body['seed']}"})))


def test_seed_is_stable_and_differs_per_sample_index():
    assert derive_seed(0, 0) == derive_seed(0, 0)
    seeds = {derive_seed(0, i) for i in range(50)}
    assert len(seeds) == 50 and all(0 <= s < 2**31 for s in seeds)
    assert derive_seed(1, 0) != derive_seed(0, 0)


def test_request_is_built_from_the_role_config():
    with _canned() as ep:
        client = LLMClient(_config(ep.base_url, seed=5))
        resp = client.complete("weak_solver", HI, sample_index=2)
        body = ep.seen[0][0]
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("sim-weak_solver", 1.0, 333)
    assert body["seed"] == derive_seed(5, 2) and resp.content == f"answer seed={derive_seed(5, 2)}"
    assert resp.cost_usd == pytest.approx((100 * 20.0 + 20 * 100.0) / 1e6)
    assert resp.attempts == 1 and not resp.cached


def test_call_budget_stops_work_before_the_endpoint_is_reached():
    with _canned() as ep:
        client = LLMClient(_config(ep.base_url, budget={"max_calls": 3}))
        for i in range(3):
            client.complete("weak_solver", HI, sample_index=i)
        with pytest.raises(BudgetExceeded, match="max_calls=3"):
            client.complete("weak_solver", HI, sample_index=3)
        assert len(ep.seen) == 3


def test_usd_budget_stops_work_once_spent():
    with _canned() as ep:  # each call: 100 in + 20 out tokens = $0.004
        client = LLMClient(_config(ep.base_url, budget={"max_usd": 0.01}))
        for i in range(3):
            client.complete("weak_solver", HI, sample_index=i)
        with pytest.raises(BudgetExceeded, match="USD"):
            client.complete("weak_solver", HI, sample_index=9)
        snap = client.snapshot()
    assert snap.roles["weak_solver"].calls == 3
    assert snap.total.cost_usd == pytest.approx(0.012)
    assert (snap.total.input_tokens, snap.total.output_tokens) == (300, 60)


def test_wall_time_budget_uses_the_injected_clock():
    now = [0.0]
    with _canned() as ep:
        client = LLMClient(_config(ep.base_url, budget={"max_wall_s": 10.0}), clock=lambda: now[0])
        client.complete("weak_solver", HI)
        now[0] = 10.5
        with pytest.raises(BudgetExceeded, match="wall-time"):
            client.complete("weak_solver", HI, sample_index=1)
        assert len(ep.seen) == 1


def test_cache_keeps_samples_apart_and_hits_on_repeats(tmp_path):
    config = _config("http://unused", cache={"enabled": True}, budget={"max_calls": 2})
    with _canned() as ep:
        config.roles["weak_solver"].base_url = ep.base_url
        records = []
        client = LLMClient(config, recorder=records.append, cache_path=tmp_path / "cache.sqlite")
        a = client.complete("weak_solver", HI, sample_index=0)
        b = client.complete("weak_solver", HI, sample_index=1)
        again = [client.complete("weak_solver", HI, sample_index=i) for i in (0, 1, 0)]
        assert len(ep.seen) == 2  # the repeats never reached the endpoint
    assert a.content != b.content
    assert [r.content for r in again] == [a.content, b.content, a.content]
    assert all(r.cached and r.cost_usd == 0.0 for r in again)
    assert [r.cached for r in records] == [False, False, True, True, True]
    snap = client.snapshot()
    assert snap.roles["weak_solver"].cached_calls == 3 and snap.roles["weak_solver"].calls == 2


def test_records_carry_attempts_error_kinds_and_the_final_error():
    records = []
    config = _config("http://unused", retry={"max_attempts": 3, "base_delay_s": 0.0})
    with SimServer(fault_rate=1.0, faults=("500", "bad_json")) as server:
        config.roles["weak_solver"].base_url = server.base_url
        client = LLMClient(config, recorder=records.append, sleep=lambda s: None)
        with pytest.raises(FatalLLMError, match="weak_solver: gave up after 3 attempts"):
            client.complete("weak_solver", HI, tag="episode-1")
        injected = server.faults_injected
    (rec,) = records
    assert rec.attempts == 3 and len(rec.error_kinds) == 3 and rec.response is None
    assert set(rec.error_kinds) <= {"server_error", "bad_response"}
    assert rec.error_kinds.count("server_error") == injected.get("500", 0)
    assert rec.error.startswith("weak_solver: gave up") and rec.tag == "episode-1"
    assert client.snapshot().roles["weak_solver"].failed_calls == 1


def test_missing_key_variable_is_a_recorded_fatal_error(monkeypatch):
    monkeypatch.delenv("AUTODATA_MISSING_KEY", raising=False)
    records = []
    config = _config("http://127.0.0.1:9/v1")
    config.roles["weak_solver"].api_key_env = "AUTODATA_MISSING_KEY"
    with pytest.raises(FatalLLMError, match="AUTODATA_MISSING_KEY"):
        LLMClient(config, recorder=records.append).complete("weak_solver", HI)
    assert records[0].error_kinds == ["fatal"] and "AUTODATA_MISSING_KEY" in records[0].error


def test_endpoint_concurrency_never_exceeds_the_lowest_cap_of_its_roles():
    LLMClient(Config()).complete("weak_solver", HI)  # warm the in-process sim (it loads once)
    with SimServer(latency_ms=40) as server:
        config = _config(server.base_url, roles=("weak_solver", "judge"))
        for role in ("weak_solver", "judge"):
            config.roles[role].timeout_s = 60.0  # no client timeouts: every request is counted once
        config.roles["weak_solver"].max_concurrency = 8
        config.roles["judge"].max_concurrency = 3
        client = LLMClient(config)
        jobs = [("weak_solver" if i % 2 else "judge", i) for i in range(24)]
        with ThreadPoolExecutor(max_workers=12) as pool:
            results = list(pool.map(lambda j: client.complete(j[0], HI, sample_index=j[1]), jobs))
        assert server.max_in_flight == 3 and server.requests == 24
    assert all(r.simulated for r in results)


def test_thirty_percent_faults_complete_every_request_and_every_fault_is_recorded():
    records, lock = [], threading.Lock()

    def record(r):
        with lock:
            records.append(r)

    LLMClient(Config()).complete("weak_solver", HI)  # warm the in-process sim (it loads once)
    config = _config("http://unused", roles=("weak_solver", "judge"),
                     retry={"max_attempts": 8, "base_delay_s": 0.0})
    with SimServer(fault_rate=0.3, faults=("429", "500", "503", "timeout", "reset", "bad_json",
                                           "truncated", "empty_choices"),
                   fault_seed=11, timeout_sleep_s=4.0, retry_after_s=0.0) as server:
        for rc in config.roles.values():
            if rc.backend == "openai":
                rc.base_url, rc.timeout_s = server.base_url, 1.5
        client = LLMClient(config, recorder=record, sleep=lambda s: None)
        jobs = [("weak_solver" if i % 3 else "judge", i) for i in range(60)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda j: client.complete(j[0], HI, sample_index=j[1]), jobs))
        injected = server.faults_injected
    assert len(results) == 60 and all(r.content for r in results)
    recorded = [k for r in records for k in r.error_kinds]
    assert len(recorded) == sum(injected.values()) >= 10
    kinds = {"429": "rate_limit", "500": "server_error", "503": "server_error",
             "timeout": "timeout", "reset": "connection", "bad_json": "bad_response",
             "truncated": "bad_response", "empty_choices": "bad_response"}
    for kind in set(kinds.values()):
        expected = sum(n for f, n in injected.items() if kinds[f] == kind)
        assert recorded.count(kind) == expected, kind
    assert sum(r.attempts for r in records) == 60 + len(recorded)


def test_api_key_never_reaches_records_cache_or_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTODATA_TEST_KEY", SECRET)
    records, errors = [], []
    config = _config("http://unused", cache={"enabled": True},
                     retry={"max_attempts": 2, "base_delay_s": 0.0})
    with SimServer(fault_rate=0.5, faults=("500", "429", "reset"), fault_seed=3) as server:
        rc = config.roles["weak_solver"]
        rc.base_url, rc.api_key_env = server.base_url, "AUTODATA_TEST_KEY"
        client = LLMClient(config, recorder=records.append, cache_path=tmp_path / "c.sqlite",
                           sleep=lambda s: None)
        for i in range(12):
            try:
                client.complete("weak_solver", HI, sample_index=i)
            except FatalLLMError as exc:
                errors.append(f"{exc!s} {exc!r} {exc.__cause__!r}")
    client.close()
    assert any(r.response for r in records) and errors  # both outcomes were exercised
    dumped = json.dumps([r.model_dump() for r in records]) + json.dumps(
        client.snapshot().model_dump()) + "".join(errors)
    assert SECRET not in dumped
    for f in tmp_path.iterdir():
        assert SECRET.encode() not in f.read_bytes()


def test_an_openai_role_without_a_model_is_a_config_error():
    from inner_loop.config import ConfigError

    config = Config.model_validate({"roles": {"judge": {"backend": "openai", "base_url": "http://x/v1"}}})
    with pytest.raises(ConfigError, match="roles.judge.model"):
        LLMClient(config).complete("judge", HI)
