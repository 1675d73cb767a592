"""Retries of transient LLM errors: exponential backoff with full jitter, Retry-After honoured.

The one catch site for transient errors. Each call gets its own seeded RNG so the
delays of a run are reproducible; the sleep function is injectable so tests never wait.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TypeVar

from inner_loop.config import RetryConfig
from inner_loop.llm.types import FatalLLMError, TransientLLMError

T = TypeVar("T")


class RetriesExhausted(FatalLLMError):
    """Every attempt failed with a transient error."""


def backoff_delay_s(
    attempt: int, retry: RetryConfig, rng: random.Random, retry_after_s: float | None = None
) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based).

    A server's Retry-After wins (capped at max_delay_s); otherwise full jitter:
    uniform(0, min(max_delay_s, base_delay_s * 2**(attempt-1))).
    """
    if retry_after_s is not None and retry_after_s >= 0:
        return min(float(retry_after_s), retry.max_delay_s)
    ceiling = min(retry.max_delay_s, retry.base_delay_s * (2 ** (attempt - 1)))
    return rng.uniform(0.0, ceiling)


def call_with_retries(
    attempt_fn: Callable[[], T],
    *,
    what: str,
    retry: RetryConfig,
    rng: random.Random,
    sleep: Callable[[float], None],
    on_error: Callable[[TransientLLMError, float], None] | None = None,
) -> tuple[T, int]:
    """Run `attempt_fn` until it returns, at most `retry.max_attempts` times.

    Only TransientLLMError is retried; anything else propagates at once. `on_error(exc, delay_s)`
    sees every failed attempt (delay 0.0 after the last one). Returns (result, attempts). After
    the last attempt raises RetriesExhausted (a FatalLLMError)
    ("<what>: gave up after N attempts: <last error>").
    """
    max_attempts = max(1, retry.max_attempts)
    for attempt in range(1, max_attempts + 1):
        try:
            return attempt_fn(), attempt
        except TransientLLMError as exc:
            last = attempt == max_attempts
            delay = 0.0 if last else backoff_delay_s(attempt, retry, rng, exc.retry_after_s)
            if on_error is not None:
                on_error(exc, delay)
            if last:
                raise RetriesExhausted(
                    f"{what}: gave up after {attempt} attempts: [{exc.kind}] {exc}"
                ) from exc
            sleep(delay)
    raise AssertionError("unreachable")  # the loop always returns or raises
