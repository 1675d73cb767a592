"""Shared calls: within one scope, a byte-identical request is sent once (an exact saving).

An evolution iteration scores the child and its parent on the same validation papers with the
same sample indices (the same repeat). Wherever the child's harness behaves like its parent's —
an edit to the refinement prompt leaves round 1 untouched, an unchanged orchestrator sends the
same first call — the two episodes send identical requests: same role, model, messages, tools,
sample index and seed. `SharedCalls` sends each such request once and gives every asker the same
answer; the others are recorded as cached (no cost, not counted against `budget.max_calls`).
Concurrent askers wait for the one in flight, so the calls paid are the distinct requests,
whatever the thread timing.

Exactness: the simulated world answers a pure function of the request, so sharing changes no
answer, and so no example, verdict or decision (tests/test_shared_calls.py). A real endpoint
that honours `seed` answers identical requests identically as well; one that does not gives
both episodes one valid draw for the request instead of two. A failed call is not shared: the
next asker sends the request itself.
"""

from __future__ import annotations

import threading
from inner_loop.llm.cache import cache_key
from inner_loop.llm.protocol import SharingClient
from inner_loop.llm.types import LLMRequest, LLMResponse


class _Entry:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.response: LLMResponse | None = None


class SharedCalls:
    """One scope of shared requests (e.g. one iteration's scoring), thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self.sent = 0
        self.shared = 0

    def send(self, client: SharingClient, request: LLMRequest, *, tag: str = "") -> LLMResponse:
        """`client.send(request)` once per distinct request; later askers get its answer."""
        key = cache_key(request, client.config.role(request.role).endpoint_key())
        while True:
            with self._lock:
                entry = self._entries.get(key)
                owner = entry is None
                if owner:
                    entry = self._entries[key] = _Entry()
            assert entry is not None
            if owner:
                return self._send(client, request, tag, key, entry)
            entry.done.wait()
            if entry.response is not None:
                with self._lock:
                    self.shared += 1
                return client.send_shared(request, entry.response, tag=tag)
            # the owner's call failed: forget it and ask again (this asker may send it now)

    def _send(self, client: SharingClient, request: LLMRequest, tag: str, key: str,
              entry: _Entry) -> LLMResponse:
        try:
            response = client.send(request, tag=tag)
        except BaseException:
            with self._lock:
                self._entries.pop(key, None)
            entry.done.set()
            raise
        entry.response = response
        with self._lock:
            self.sent += 1
        entry.done.set()
        return response
