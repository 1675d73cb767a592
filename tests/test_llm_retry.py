"""Backoff with full jitter, Retry-After, bounded attempts (inner_loop/llm/retry.py)."""

import random

import pytest

from inner_loop.config import RetryConfig
from inner_loop.llm.retry import RetriesExhausted, backoff_delay_s, call_with_retries
from inner_loop.llm.types import FatalLLMError, TransientLLMError


def _failing(n_failures: int, kind: str = "server_error", retry_after_s: float | None = None):
    calls = []

    def attempt() -> str:
        calls.append(1)
        if len(calls) <= n_failures:
            raise TransientLLMError(f"boom {len(calls)}", retry_after_s=retry_after_s, kind=kind)
        return "ok"

    return attempt, calls


def test_full_jitter_delay_stays_under_exponential_ceiling():
    retry = RetryConfig(base_delay_s=0.5, max_delay_s=3.0)
    rng = random.Random(1)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (9, 3.0)]:
        delays = [backoff_delay_s(attempt, retry, rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.8 * ceiling  # full jitter spreads over the whole range


def test_backoff_is_deterministic_for_a_seeded_rng():
    retry = RetryConfig()
    a = [backoff_delay_s(i, retry, random.Random("s")) for i in range(1, 6)]
    b = [backoff_delay_s(i, retry, random.Random("s")) for i in range(1, 6)]
    assert a == b


def test_retry_after_wins_and_is_capped_at_max_delay():
    retry = RetryConfig(base_delay_s=0.5, max_delay_s=4.0)
    assert backoff_delay_s(1, retry, random.Random(0), retry_after_s=3.0) == 3.0
    assert backoff_delay_s(1, retry, random.Random(0), retry_after_s=60.0) == 4.0


def test_transient_errors_are_retried_until_success():
    attempt, calls = _failing(2)
    sleeps: list[float] = []
    seen: list[str] = []
    result, attempts = call_with_retries(
        attempt, what="judge", retry=RetryConfig(max_attempts=5), rng=random.Random(0),
        sleep=sleeps.append, on_error=lambda exc, _d: seen.append(exc.kind),
    )
    assert (result, attempts, len(calls)) == ("ok", 3, 3)
    assert seen == ["server_error", "server_error"] and len(sleeps) == 2


def test_gives_up_after_max_attempts_with_a_clear_fatal_error():
    attempt, calls = _failing(99, kind="rate_limit", retry_after_s=1.5)
    sleeps: list[float] = []
    with pytest.raises(RetriesExhausted) as info:
        call_with_retries(attempt, what="weak_solver", retry=RetryConfig(max_attempts=3),
                          rng=random.Random(0), sleep=sleeps.append)
    assert isinstance(info.value, FatalLLMError)
    assert str(info.value) == "weak_solver: gave up after 3 attempts: [rate_limit] boom 3"
    assert len(calls) == 3 and sleeps == [1.5, 1.5]  # no sleep after the last attempt


def test_non_transient_errors_are_not_retried():
    calls = []

    def attempt():
        calls.append(1)
        raise FatalLLMError("401 unauthorized")

    with pytest.raises(FatalLLMError, match="401"):
        call_with_retries(attempt, what="judge", retry=RetryConfig(), rng=random.Random(0),
                          sleep=lambda s: None)
    assert len(calls) == 1
