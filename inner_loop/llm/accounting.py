"""The one place that counts LLM use per role and enforces the hard budgets.

Per role: calls, cached calls, attempts, errors by kind, final failures, input/output tokens
(and of the input, the tokens the endpoint served from its prefix cache), USD and wall ms. USD
prices cached input tokens at the role's `price_cached_input_per_mtok` (the input price when unset). Budgets (BudgetConfig: max_usd, max_calls, max_wall_s) are checked before each
call; once one is spent every further call is refused with BudgetExceeded, so work stops cleanly.
Also home of CallRecord, the row the client hands to its recorder after every finished call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from pydantic import Field

from inner_loop.config import BudgetConfig, RoleConfig
from inner_loop.llm.types import BudgetExceeded, Usage
from inner_loop.strict import Strict


class CallRecord(Strict):
    """One finished call (success, cache hit or final failure). Never holds an API key."""

    call_id: str
    role: str
    model: str
    endpoint: str  # RoleConfig.endpoint_key(): "sim" or "openai:<base_url>"
    tag: str = ""
    sample_index: int = 0
    seed: int = 0
    messages: list[dict[str, Any]]
    response: dict[str, Any] | None = None  # LLMResponse.model_dump(); None on a final failure
    started_at: str  # UTC ISO 8601
    duration_ms: float
    attempts: int
    error_kinds: list[str] = Field(default_factory=list)  # one per failed attempt, in order
    cost_usd: float = 0.0
    cached: bool = False
    simulated: bool = False
    error: str | None = None  # text of the final error when the call failed


class RoleUsage(Strict):
    calls: int = 0  # calls that reached an endpoint (cache hits excluded)
    cached_calls: int = 0
    failed_calls: int = 0
    attempts: int = 0
    errors: dict[str, int] = Field(default_factory=dict)  # error kind -> failed attempts
    input_tokens: int = 0
    cached_tokens: int = 0  # of input_tokens, served from the endpoint's prefix cache
    output_tokens: int = 0
    cost_usd: float = 0.0
    wall_ms: float = 0.0


class AccountingSnapshot(Strict):
    roles: dict[str, RoleUsage]
    total: RoleUsage
    elapsed_s: float
    budget: BudgetConfig
    budget_exceeded: str | None = None  # why work was stopped, once it was


def cached_price(role_config: RoleConfig) -> float:
    """USD per million cached input tokens: `price_cached_input_per_mtok`, else the input price."""
    p = role_config.price_cached_input_per_mtok
    return role_config.price_input_per_mtok if p is None else p


def price_usd(input_tokens: int, cached_tokens: int, output_tokens: int,
              role_config: RoleConfig) -> float:
    """USD of one call's tokens at the role's prices; `cached_tokens` are part of `input_tokens`
    (clamped to it: an endpoint cannot discount more than the prompt)."""
    cached = min(max(cached_tokens, 0), input_tokens)
    return ((input_tokens - cached) * role_config.price_input_per_mtok
            + cached * cached_price(role_config)
            + output_tokens * role_config.price_output_per_mtok) / 1_000_000


def cost_usd(usage: Usage, role_config: RoleConfig) -> float:
    return price_usd(usage.input_tokens, usage.cached_tokens, usage.output_tokens, role_config)


class Accountant:
    """Thread-safe counters and budget gate; one per LLMClient."""

    def __init__(self, budget: BudgetConfig, clock: Callable[[], float]):
        self._budget = budget
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self._roles: dict[str, RoleUsage] = {}
        self._reserved_calls = 0  # calls admitted, finished or in flight
        self._exceeded: str | None = None

    def _usage(self, role: str) -> RoleUsage:
        return self._roles.setdefault(role, RoleUsage())

    def _spent_reason(self, *, new_call: bool) -> str | None:
        b = self._budget
        total_usd = sum(u.cost_usd for u in self._roles.values())
        elapsed = self._clock() - self._started
        if new_call and b.max_calls is not None and self._reserved_calls >= b.max_calls:
            return f"call budget spent: {self._reserved_calls} of max_calls={b.max_calls}"
        if b.max_usd is not None and total_usd >= b.max_usd:
            return f"USD budget spent: ${total_usd:.4f} of max_usd=${b.max_usd:.4f}"
        if b.max_wall_s is not None and elapsed >= b.max_wall_s:
            return f"wall-time budget spent: {elapsed:.1f}s of max_wall_s={b.max_wall_s:.1f}s"
        return None

    def _check_locked(self, *, new_call: bool) -> None:
        if self._exceeded is None:
            self._exceeded = self._spent_reason(new_call=new_call)
        if self._exceeded is not None:
            raise BudgetExceeded(self._exceeded)

    def stop(self, reason: str) -> None:
        """Refuse every later call with BudgetExceeded(reason), as a spent budget does (a run
        stopped by a signal). One assignment and no lock: safe to call from a signal handler."""
        if self._exceeded is None:
            self._exceeded = reason

    def check(self) -> None:
        """Raise BudgetExceeded when USD or wall time is spent, or work was already stopped.

        Used before a cache lookup: a cache hit needs no call of max_calls."""
        with self._lock:
            self._check_locked(new_call=False)

    def admit_call(self) -> None:
        """Check every budget and reserve one call of max_calls for a call about to go out.
        Once a budget is spent, work stays stopped: every later check and admission raises."""
        with self._lock:
            self._check_locked(new_call=True)
            self._reserved_calls += 1

    def record_error(self, role: str, kind: str) -> None:
        with self._lock:
            errors = self._usage(role).errors
            errors[kind] = errors.get(kind, 0) + 1

    def record_call(self, role: str, *, attempts: int, usage: Usage, cost: float,
                    wall_ms: float, failed: bool = False) -> None:
        with self._lock:
            u = self._usage(role)
            u.calls += 1
            u.failed_calls += int(failed)
            u.attempts += attempts
            u.input_tokens += usage.input_tokens
            u.cached_tokens += usage.cached_tokens
            u.output_tokens += usage.output_tokens
            u.cost_usd += cost
            u.wall_ms += wall_ms

    def record_cached(self, role: str) -> None:
        with self._lock:
            self._usage(role).cached_calls += 1

    def snapshot(self) -> AccountingSnapshot:
        with self._lock:
            roles = {r: u.model_copy(deep=True) for r, u in sorted(self._roles.items())}
            elapsed = self._clock() - self._started
            exceeded = self._exceeded
        return AccountingSnapshot(
            roles=roles, total=_sum(roles.values()), elapsed_s=elapsed,
            budget=self._budget.model_copy(), budget_exceeded=exceeded,
        )


def _sum(usages: Any) -> RoleUsage:
    total = RoleUsage()
    for u in usages:
        for field in ("calls", "cached_calls", "failed_calls", "attempts", "input_tokens",
                      "cached_tokens", "output_tokens", "cost_usd", "wall_ms"):
            setattr(total, field, getattr(total, field) + getattr(u, field))
        for kind, n in u.errors.items():
            total.errors[kind] = total.errors.get(kind, 0) + n
    return total
