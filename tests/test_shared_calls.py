"""Shared calls (inner_loop.llm.shared, evolve.share_calls) are an exact saving: identical
requests are paid once, every asker gets the same answer, and runs decide exactly as without."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from harness_fixtures import Calls

from inner_loop.config import load_config
from inner_loop.llm.client import LLMClient
from inner_loop.llm.shared import SharedCalls
from inner_loop.llm.types import BudgetExceeded
from evolve.context import RunSettings
from evolve.run import start_run
from evolve.store import StoreReader

MESSAGES = [{"role": "user", "content": "Summarise the paper's main claim."}]


def test_concurrent_identical_requests_are_paid_once():
    calls = Calls()
    client = LLMClient(load_config(), recorder=calls)
    shared = SharedCalls()
    request = client.build_request("weak_solver", MESSAGES, sample_index=3)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: shared.send(client, request, tag="t"), range(8)))
    assert {a.content for a in answers} == {client.complete("weak_solver", MESSAGES,
                                                            sample_index=3).content}
    paid = [r for r in calls.records if not r.cached]
    assert len(paid) == 2 and len(calls.records) == 9  # one shared + the check above
    assert (shared.sent, shared.shared) == (1, 7)
    total = client.accounting.snapshot().total
    assert (total.calls, total.cached_calls) == (2, 7)


def test_different_sample_indices_are_never_shared():
    client = LLMClient(load_config())
    shared = SharedCalls()
    for i in range(3):
        shared.send(client, client.build_request("weak_solver", MESSAGES, sample_index=i))
    assert (shared.sent, shared.shared) == (3, 0)


def test_a_failed_call_is_not_shared():
    client = LLMClient(load_config(None, ["budget.max_calls=1"]))
    shared = SharedCalls()
    request = client.build_request("weak_solver", MESSAGES)
    shared.send(client, client.build_request("judge", MESSAGES))  # spends the budget
    for _ in range(2):  # each asker tries itself and is stopped: nothing was shared
        with pytest.raises(BudgetExceeded):
            shared.send(client, request)
    assert (shared.sent, shared.shared) == (1, 0)


def test_waiters_get_the_answer_of_the_call_in_flight():
    client = LLMClient(load_config())
    shared, gate, order = SharedCalls(), threading.Event(), []
    real_send = client.send

    def slow_send(request, *, tag=""):
        gate.wait(5)
        order.append("sent")
        return real_send(request, tag=tag)

    client.send = slow_send  # type: ignore[method-assign]  # holds the owner's call open
    request = client.build_request("strong_solver", MESSAGES)
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(shared.send, client, request) for _ in range(3)]
        gate.set()
        answers = [f.result(5) for f in futures]
    assert order == ["sent"] and len({a.content for a in answers}) == 1


SETS = ["seed=1", "evolve.iterations=2", "evolve.concurrency=2", "evolve.minibatch=1",
        "inner_loop.max_rounds=6", "inner_loop.concurrency=2", "evolve.racing=false",
        "inner_loop.stop_sampling_early=false", "evolve.final_repeats=0"]


def _facts(path: Path) -> dict:
    with StoreReader.open(path) as r:
        return {
            "decisions": r.query("SELECT iteration, candidate_id, status, child_score, "
                                 "parent_score FROM iterations ORDER BY iteration"),
            "evals": r.query("SELECT candidate_id, paper_id, purpose, repeat, accepted, rounds "
                             "FROM evaluations ORDER BY ALL"),
            "paid": r.query("SELECT count(*) AS n FROM llm_calls WHERE NOT cached")[0]["n"],
            "shared": r.query("SELECT count(*) AS n FROM llm_calls WHERE cached")[0]["n"],
        }


def test_runs_decide_identically_with_and_without_shared_calls(tmp_path):
    for flag in ("false", "true"):
        start_run(load_config(None, SETS + [f"evolve.share_calls={flag}"]),
                  RunSettings(validation_limit=4), tmp_path / flag, show_progress=False)
    off, on = _facts(tmp_path / "false"), _facts(tmp_path / "true")
    assert on["decisions"] == off["decisions"] and on["evals"] == off["evals"]
    assert off["shared"] == 0 and on["shared"] > 0
    assert on["paid"] + on["shared"] == off["paid"]  # every shared call is one not paid
