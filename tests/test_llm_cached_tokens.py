"""Cached prompt tokens, read, recorded and priced (inner_loop/llm/openai_backend.usage_of,
accounting.price_usd, llm_calls.cached_tokens), over real HTTP through the real `openai` client:
against the recorded usage shapes of Moonshot, vLLM and OpenAI (tests/fixtures/usage/, served by
a loopback endpoint) and against `autodata sim-serve`'s emulated prefix cache."""

import json
from pathlib import Path

import pytest

from evolve.store import Store
from inner_loop.config import Config, RoleConfig, load_config
from inner_loop.llm import openai_backend
from inner_loop.llm.accounting import cost_usd
from inner_loop.llm.client import LLMClient
from inner_loop.llm.types import BudgetExceeded, LLMRequest, Message, Usage
from inner_loop.sim.server import SimServer
from canned_endpoint import Canned

FIXTURES = Path(__file__).parent / "fixtures" / "usage"
KIMI = {"price_input_per_mtok": 0.95, "price_cached_input_per_mtok": 0.16,
        "price_output_per_mtok": 4.0}
PAPER = " ".join(f"Sentence {i} of the paper states a result about attention heads." for i in range(400))


def _config(base_url: str, role: str = "verifier", **prices) -> Config:
    config = Config()
    config.roles[role] = RoleConfig(backend="openai", base_url=base_url, model=f"sim-{role}",
                                    timeout_s=10.0, **{**KIMI, **prices})
    return config


def _served(name: str):
    raw = (FIXTURES / name).read_bytes()
    return Canned(lambda body, headers: (200, {}, raw))


@pytest.mark.parametrize("name,prompt,cached,output", [
    ("moonshot_kimi_k2.json", 1113, 1024, 12),          # top-level and nested, equal
    ("moonshot_v1_context_cache.json", 4120, 4096, 31),  # top-level only
    ("vllm_prompt_tokens_details.json", 1210, 1200, 256),
    ("vllm_without_details.json", 1210, 0, 256),         # prompt_tokens_details: null
    ("openai.json", 2006, 1920, 300),
])
def test_recorded_usage_shapes_are_read_recorded_and_priced(tmp_path, name, prompt, cached, output):
    with _served(name) as ep:
        records = []
        client = LLMClient(_config(ep.base_url), recorder=records.append)
        response = client.complete("verifier", [{"role": "user", "content": "check"}])
    assert response.usage == Usage(input_tokens=prompt, output_tokens=output, cached_tokens=cached)
    expected = ((prompt - cached) * 0.95 + cached * 0.16 + output * 4.0) / 1e6
    assert response.cost_usd == pytest.approx(expected)
    snap = client.snapshot().roles["verifier"]
    assert (snap.input_tokens, snap.cached_tokens, snap.cost_usd) == (prompt, cached, pytest.approx(expected))
    store = Store.open(tmp_path, create=True)  # the llm_calls row keeps the cached tokens
    store.record_calls([r.model_dump(mode="json") for r in records])
    row = store.query("SELECT input_tokens, cached_tokens, cost_usd FROM llm_calls")[0]
    by_role = store.query("SELECT cached_tokens FROM cost_by_role")[0]
    store.close()
    assert (row["input_tokens"], row["cached_tokens"], by_role["cached_tokens"]) == (prompt, cached, cached)
    assert row["cost_usd"] == pytest.approx(expected)


def test_without_a_cached_price_cached_tokens_cost_the_input_price():
    """Configs written before price_cached_input_per_mtok: nothing changes."""
    rc = RoleConfig(price_input_per_mtok=0.6, price_output_per_mtok=2.5)
    plain = cost_usd(Usage(input_tokens=1000, output_tokens=100), rc)
    assert cost_usd(Usage(input_tokens=1000, output_tokens=100, cached_tokens=900), rc) == plain
    assert load_config(None, ["roles.judge.price_input_per_mtok=1"]).roles["judge"].price_cached_input_per_mtok is None


@pytest.mark.parametrize("usage,expected", [
    ({"prompt_tokens": 100, "cached_tokens": 5000}, (100, 0, 100)),   # never more than the prompt
    ({"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": -50}}, (100, 0, 0)),
    ({"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": "64"}}, (100, 0, 0)),
    ({"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": True}}, (100, 0, 0)),
    ({"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": 1e400}}, (100, 0, 0)),
    ({"prompt_tokens": 100, "prompt_tokens_details": ["cached_tokens", 64]}, (100, 0, 0)),
    ({"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": 64.0}}, (100, 0, 64)),
    ({"prompt_tokens": "100", "completion_tokens": -3, "cached_tokens": 64}, (0, 0, 0)),
    ({"prompt_tokens": 100, "completion_tokens": 7.5}, (100, 0, 0)),
    ("lots", (0, 0, 0)),
    (None, (0, 0, 0)),
])
def test_hostile_usage_objects_never_discount_more_than_the_prompt(usage, expected):
    """An endpoint (or a proxy in front of it) writes usage; nothing in it can make a call
    cheaper than its prompt at the cached price, or crash the call."""
    u = openai_backend.usage_of(usage)
    assert (u.input_tokens, u.output_tokens, u.cached_tokens) == expected
    body = json.dumps({"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": "x"},
                                    "finish_reason": "stop"}], "usage": usage}).encode()
    with Canned(lambda b, h: (200, {}, body)) as ep:
        response = LLMClient(_config(ep.base_url)).complete("verifier", [{"role": "user", "content": "q"}])
    assert response.usage == u and response.cost_usd >= u.input_tokens * 0.16 / 1e6


def _ask(client: LLMClient, role: str, question: str, sample_index: int = 0):
    messages = [{"role": "user", "content": f"<paper>\n{PAPER}\n</paper>\n\n{question}"}]
    return client.complete(role, messages, sample_index=sample_index)


@pytest.mark.parametrize("shape", ["openai", "moonshot"])
def test_sim_serve_caches_the_shared_prefix_block_aligned(shape):
    with SimServer(prefix_cache={"usage_shape": shape}) as server:
        client = LLMClient(_config(server.base_url))
        first = _ask(client, "verifier", "Is the example grounded?")
        again = _ask(client, "verifier", "Is the example grounded?", sample_index=1)
        other = _ask(client, "verifier", "Does the context leak the answer?")
        stats = server.prefix_cache
    assert first.usage.cached_tokens == 0  # nothing seen before
    assert again.content and again.usage.input_tokens == first.usage.input_tokens
    # the same prompt: every full 16-token block before its last token
    assert 0 < first.usage.input_tokens - again.usage.cached_tokens <= 16 + 4
    assert again.usage.cached_tokens % 16 == 0
    # another question after the same paper: the paper's blocks, not the question's
    paper_tokens = len(PAPER) // 4
    assert paper_tokens - 16 <= other.usage.cached_tokens <= paper_tokens
    assert other.usage.cached_tokens < other.usage.input_tokens
    assert again.cost_usd < first.cost_usd
    assert (stats.lookups, stats.cached_tokens) == (3, again.usage.cached_tokens + other.usage.cached_tokens)


def test_sim_serve_answers_do_not_depend_on_the_cache():
    """Usage only: the same requests get the same answers with the cache on, off, or warm."""
    def answers(**options):
        with SimServer(**options) as server:
            client = LLMClient(_config(server.base_url, role="judge"))
            out = [_ask(client, "judge", q, i) for q in ("A?", "B?", "A?") for i in range(2)]
        return out
    on, off = answers(), answers(prefix_cache={"capacity_tokens": 0})
    assert [r.content for r in on] == [r.content for r in off]
    assert sum(r.usage.cached_tokens for r in on) > 0 and all(r.usage.cached_tokens == 0 for r in off)
    assert [r.usage.input_tokens for r in on] == [r.usage.input_tokens for r in off]


def test_sim_serve_scopes_the_cache_by_model_and_evicts_least_recently_used():
    with SimServer(prefix_cache={"capacity_tokens": 8000}) as server:  # 500 blocks
        verifier = LLMClient(_config(server.base_url))
        judge = LLMClient(_config(server.base_url, role="judge"))
        _ask(verifier, "verifier", "Q1")  # ~6,500 tokens: the paper fits
        q2 = _ask(verifier, "verifier", "Q2").usage.cached_tokens
        assert q2 > 6000
        # the judge model's cache is its own; its 6,500 tokens overflow the 8,000: the least
        # recently used blocks go, the verifier's paper from its tail
        assert _ask(judge, "judge", "Q1").usage.cached_tokens == 0
        q3 = _ask(verifier, "verifier", "Q3").usage.cached_tokens
        assert 0 < q3 <= 8000 - 6000 < q2 and q3 % 16 == 0


def test_a_usd_budget_counts_cached_tokens_at_the_cached_price():
    """The same calls: the budget lasts longer when the endpoint serves prefixes from its cache."""
    def calls_until_spent(capacity: int) -> int:
        with SimServer(prefix_cache={"capacity_tokens": capacity}) as server:
            config = _config(server.base_url)
            config = config.model_copy(update={"budget": config.budget.model_copy(update={"max_usd": 0.05})})
            client = LLMClient(config)
            n = 0
            with pytest.raises(BudgetExceeded, match="USD budget spent"):
                while n < 200:
                    _ask(client, "verifier", f"Question {n}?")
                    n += 1
            return n
    uncached, cached = calls_until_spent(0), calls_until_spent(4_000_000)
    assert cached > 2 * uncached


def test_the_sim_backend_in_process_reports_no_cached_tokens():
    """The embedded default backend has no endpoint and no cache: default runs price as before."""
    from inner_loop import sim
    request = LLMRequest(role="verifier", model="sim-verifier",
                         messages=[Message(role="user", content=f"<paper>{PAPER}</paper> PASS?")])
    assert sim.respond(request).usage.cached_tokens == 0
    assert sim.respond(request).usage == sim.respond(request).usage


def test_migration_003_keeps_every_earlier_call_at_zero_cached_tokens(tmp_path):
    """A run recorded before cached tokens existed: its rows read 0, cost_by_role gains the column."""
    import shutil

    import duckdb

    from evolve.store.migrate import MIGRATIONS_DIR, migrate
    old = tmp_path / "m"
    old.mkdir()
    for name in ("001_init.sql", "002_reevaluation.sql"):
        shutil.copy(MIGRATIONS_DIR / name, old / name)
    con = duckdb.connect(str(tmp_path / "db.duckdb"))
    assert migrate(con, "db", old) == [1, 2]
    con.execute("INSERT INTO llm_calls VALUES ('c1', 'r', 1, 'seed', 'judge', 'sim-judge', 'sim', '', 0, 0, "
                "now(), 1.0, 1, [], 900, 10, 0.001, false, true, 'req', 'resp', NULL)")
    applied = migrate(con, "db")
    assert applied[0] == 3
    assert con.execute("SELECT input_tokens, cached_tokens FROM llm_calls").fetchall() == [(900, 0)]
    assert con.execute("SELECT cached_tokens, usd FROM cost_by_role").fetchall() == [(0, 0.001)]
