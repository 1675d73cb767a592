"""Endpoint slots (inner_loop.llm.slots): the cap holds, waiters go by priority then arrival."""

from __future__ import annotations

import threading
import time

import pytest

from inner_loop.config import load_config
from inner_loop.llm import backends, slots
from inner_loop.llm.client import LLMClient
from inner_loop.llm.slots import Slots


def _queue_waiters(s: Slots, prios: list[int], order: list[int]) -> list[threading.Thread]:
    threads = []
    for i, p in enumerate(prios):
        def work(p: int = p, i: int = i) -> None:
            with s.hold(p):
                order.append(i)
        t = threading.Thread(target=work)
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 5
        while len(s._waiting) < i + 1 and time.monotonic() < deadline:  # enqueued in this order
            time.sleep(0.001)
    return threads


def test_waiting_calls_go_by_priority_then_arrival():
    s, order = Slots(1), []
    s.acquire()  # the only slot is taken: everyone below waits
    threads = _queue_waiters(s, [5, 1, 3, 1], order)
    s.release()
    for t in threads:
        t.join(5)
    assert order == [1, 3, 2, 0]


def test_the_cap_holds_under_contention():
    s, lock = Slots(3), threading.Lock()
    busy, peak, done = [0], [0], []

    def work(i: int) -> None:
        with s.hold(i % 4):
            with lock:
                busy[0] += 1
                peak[0] = max(peak[0], busy[0])
            time.sleep(0.002)
            with lock:
                busy[0] -= 1
        done.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(done) == 40 and peak[0] == 3 and s._free == 3


def test_priority_block_sets_and_restores_this_threads_priority():
    assert slots.current_priority() == 0
    with slots.priority(7):
        assert slots.current_priority() == 7
        with slots.priority(2):
            assert slots.current_priority() == 2
        assert slots.current_priority() == 7
    assert slots.current_priority() == 0


def test_an_endpoint_needs_a_slot():
    with pytest.raises(ValueError):
        Slots(0)


def test_a_waiter_interrupted_before_its_turn_leaves_the_queue(monkeypatch):
    class Interrupted(Exception):
        pass

    class HandOff:  # the hand-off lock, whose blocking wait is interrupted (a Ctrl-C)
        def acquire(self, *args):
            if args:
                return True
            raise Interrupted

        def release(self):
            pass

    s = Slots(1)
    s.acquire()  # the only slot is taken: the next caller waits
    monkeypatch.setattr(slots.threading, "Lock", HandOff)
    with pytest.raises(Interrupted):
        s.acquire()
    monkeypatch.undo()
    assert s._waiting == []  # gone from the queue: no release hands the slot to it
    s.release()
    assert s._free == 1


def test_a_roles_backend_loads_when_the_client_is_built_never_in_a_calls_slot(monkeypatch):
    """Attack: a backend whose first lookup loads it slowly (the openai SDK's import, about a
    second) and records how many endpoint slots were taken meanwhile. It loads in
    LLMClient(...), before any call; the call after it finds it loaded."""
    lookup, loads, built = backends.backend_for, [], []

    def loading_backend_for(name: str):
        if not loads:  # the first lookup loads the module
            loads.append(sum(s.cap - s._free for c in built for s in c._semaphores.values()))
            time.sleep(0.05)
        return lookup(name)

    monkeypatch.setattr(backends, "backend_for", loading_backend_for)
    client = LLMClient(load_config(None, []))
    assert loads == [0]  # loaded while the client was built, every slot free
    built.append(client)
    assert client.complete("weak_solver", [{"role": "user", "content": "hi"}]).content
    assert loads == [0]  # the call did not load it again
