"""Response cache keyed by the full request incl. sample_index (inner_loop/llm/cache.py)."""

import sqlite3

from inner_loop.llm.cache import ResponseCache, cache_key
from inner_loop.llm.types import LLMRequest, LLMResponse, Message


def _req(**over) -> LLMRequest:
    base = dict(role="weak_solver", model="sim-weak_solver", temperature=1.0,
                messages=[Message(role="user", content="What does Table 2 show?")])
    return LLMRequest(**{**base, **over})


def test_key_differs_by_sample_index_seed_and_endpoint():
    a = cache_key(_req(sample_index=0, seed=1), "sim")
    assert a == cache_key(_req(sample_index=0, seed=1), "sim")
    assert a != cache_key(_req(sample_index=1, seed=1), "sim")
    assert a != cache_key(_req(sample_index=0, seed=2), "sim")
    assert a != cache_key(_req(sample_index=0, seed=1), "openai:http://x/v1")


def test_put_then_get_round_trips_and_persists(tmp_path):
    path = tmp_path / "c" / "llm_cache.sqlite"
    cache = ResponseCache(path)
    key = cache_key(_req(), "sim")
    assert cache.get(key) is None
    cache.put(key, _req(), LLMResponse(content="answer", simulated=True))
    cache.close()
    again = ResponseCache(path)
    assert again.get(key).content == "answer" and len(again) == 1
    assert again.get(cache_key(_req(sample_index=1), "sim")) is None
    again.close()


def test_cache_uses_wal_journal(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    conn = sqlite3.connect(tmp_path / "c.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    cache.close()
