"""Endpoint slots: a per-endpoint concurrency cap whose waiters are served by priority.

When more calls want an endpoint than its cap allows, the call with the lowest priority value
goes next (ties: first come, first served). An episode's calls carry how many calls the episode
has made so far (`EpisodeClient`), so the episodes that are furthest behind go first: episodes
progress evenly and finish close together, instead of a few long ones running alone, below the
cap, at the end of a scoring. Calls outside an episode (analyzer, implementer) go first.
Priorities change only the order in which waiting calls are sent, never what is sent.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_local = threading.local()


def current_priority() -> int:
    return getattr(_local, "priority", 0)


@contextmanager
def priority(value: int) -> Iterator[None]:
    """Calls made by this thread inside the block wait with priority `value` (lower first)."""
    before = current_priority()
    _local.priority = value
    try:
        yield
    finally:
        _local.priority = before


class Slots:
    """`cap` calls at a time; a freed slot is handed to the best waiter directly."""

    def __init__(self, cap: int):
        if cap < 1:
            raise ValueError("an endpoint needs at least one slot")
        self.cap = cap
        self._free = cap
        self._lock = threading.Lock()
        self._waiting: list[tuple[int, int, threading.Lock]] = []
        self._arrival = itertools.count()

    def acquire(self, prio: int = 0) -> None:
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                return
            handoff = threading.Lock()
            handoff.acquire()
            entry = (prio, next(self._arrival), handoff)
            heapq.heappush(self._waiting, entry)
        try:
            handoff.acquire()  # released by `release` when this waiter is given the slot
        except BaseException:  # interrupted while waiting: leave the queue, or pass the slot on
            with self._lock:
                if entry in self._waiting:
                    self._waiting.remove(entry)
                    heapq.heapify(self._waiting)
                    raise
            self.release()
            raise

    def release(self) -> None:
        with self._lock:
            if self._waiting:
                heapq.heappop(self._waiting)[2].release()  # the slot passes on, still taken
            else:
                self._free += 1

    @contextmanager
    def hold(self, prio: int | None = None) -> Iterator[None]:
        self.acquire(current_priority() if prio is None else prio)
        try:
            yield
        finally:
            self.release()
