"""`EpisodeClient`: the run's client as one episode sees it.

Same calls as the client it wraps, each tagged with the episode's tag, its usage counted per
role (`RoleUsageRecord`, the episode record's `usage`), and sent at the episode's place in the
endpoint queues: the number of calls the episode has made so far (llm/slots.py), so the episode
furthest behind goes first, plus the slot priority in force where the episode was started (0, or
the job's place that evolve/racing.py gives: the longest expected episodes first).
"""

from __future__ import annotations

import threading

from inner_loop.llm import slots
from inner_loop.llm.protocol import Client, ClientView
from inner_loop.llm.types import FatalLLMError, LLMRequest, LLMResponse
from inner_loop.strict import Strict


class RoleUsageRecord(Strict):
    """One role's calls within one episode (`EpisodeRecord.usage[role]`)."""

    calls: int = 0
    failed_calls: int = 0
    cached_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class EpisodeClient(ClientView):
    """The run's client as one episode sees it: same calls, tagged, usage counted per role."""

    def __init__(self, client: Client, tag: str):
        super().__init__(client)
        self.tag = tag
        self.usage: dict[str, RoleUsageRecord] = {}
        self._lock = threading.Lock()
        self._base = slots.current_priority()  # the job's place, where a scheduler gave one
        self._sent = 0  # calls so far: the episode's place in the endpoint queues (llm/slots.py)

    def send(self, request: LLMRequest, *, tag: str = "") -> LLMResponse:
        full_tag = f"{self.tag}/{tag}" if tag else self.tag
        with self._lock:
            self._sent += 1
            place = self._sent
        try:
            with slots.priority(self._base + place):
                response = self._client.send(request, tag=full_tag)
        except FatalLLMError:
            self._count(request.role, None)
            raise
        self._count(request.role, response)
        return response

    def _count(self, role: str, response: LLMResponse | None) -> None:
        with self._lock:
            u = self.usage.setdefault(role, RoleUsageRecord())
            if response is None:
                u.failed_calls += 1
            elif response.cached:
                u.cached_calls += 1
            else:
                u.calls += 1
                u.input_tokens += response.usage.input_tokens
                u.output_tokens += response.usage.output_tokens
                u.cost_usd += response.cost_usd
