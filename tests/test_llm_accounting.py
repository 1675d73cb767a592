"""Per-role accounting and hard budgets (inner_loop/llm/accounting.py)."""

import threading

import pytest

from inner_loop.config import BudgetConfig, RoleConfig
from inner_loop.llm.accounting import Accountant, cost_usd
from inner_loop.llm.types import BudgetExceeded, Usage


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_cost_uses_per_million_token_prices():
    rc = RoleConfig(price_input_per_mtok=2.0, price_output_per_mtok=10.0)
    assert cost_usd(Usage(input_tokens=500_000, output_tokens=100_000), rc) == pytest.approx(2.0)


def test_call_budget_refuses_the_call_after_the_last_one():
    acc = Accountant(BudgetConfig(max_calls=2), FakeClock())
    acc.admit_call()
    acc.admit_call()
    with pytest.raises(BudgetExceeded, match="max_calls=2"):
        acc.admit_call()
    assert acc.snapshot().budget_exceeded.startswith("call budget spent")


def test_usd_budget_stops_work_once_spent_and_stays_stopped():
    acc = Accountant(BudgetConfig(max_usd=0.01), FakeClock())
    acc.admit_call()
    acc.record_call("judge", attempts=1, usage=Usage(input_tokens=10), cost=0.011, wall_ms=5.0)
    with pytest.raises(BudgetExceeded, match="USD budget"):
        acc.check()
    with pytest.raises(BudgetExceeded):
        acc.admit_call()


def test_wall_time_budget_uses_the_injected_clock():
    clock = FakeClock()
    acc = Accountant(BudgetConfig(max_wall_s=60.0), clock)
    clock.now += 59.0
    acc.admit_call()
    clock.now += 2.0
    with pytest.raises(BudgetExceeded, match="wall-time"):
        acc.admit_call()
    clock.now -= 30.0  # once stopped, work stays stopped
    with pytest.raises(BudgetExceeded):
        acc.check()


def test_snapshot_counts_per_role_and_totals():
    acc = Accountant(BudgetConfig(), FakeClock())
    acc.record_call("judge", attempts=2, usage=Usage(input_tokens=10, output_tokens=3),
                    cost=0.5, wall_ms=7.0)
    acc.record_error("judge", "rate_limit")
    acc.record_call("weak_solver", attempts=1, usage=Usage(input_tokens=1, output_tokens=1),
                    cost=0.25, wall_ms=1.0, failed=True)
    acc.record_cached("weak_solver")
    snap = acc.snapshot()
    assert snap.roles["judge"].errors == {"rate_limit": 1}
    assert snap.roles["weak_solver"].failed_calls == 1 and snap.roles["weak_solver"].cached_calls == 1
    assert (snap.total.calls, snap.total.attempts, snap.total.input_tokens) == (2, 3, 11)
    assert snap.total.cost_usd == pytest.approx(0.75)


def test_concurrent_admission_never_exceeds_max_calls():
    acc = Accountant(BudgetConfig(max_calls=50), FakeClock())
    admitted = []
    lock = threading.Lock()

    def worker():
        for _ in range(20):
            try:
                acc.admit_call()
            except BudgetExceeded:
                return
            with lock:
                admitted.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 50


def test_reaching_max_calls_still_allows_cache_hits_until_a_new_call_is_refused():
    acc = Accountant(BudgetConfig(max_calls=1), FakeClock())
    acc.admit_call()
    acc.check()  # a cache hit needs no call
    with pytest.raises(BudgetExceeded):
        acc.admit_call()
    with pytest.raises(BudgetExceeded):
        acc.check()  # from now on work stays stopped
