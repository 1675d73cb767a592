"""The protected steps of an episode, shared by the agentic dispatcher and the CoT baseline.

`EpisodeClient` is the run's LLMClient as one episode sees it (tagged calls, usage per role).
`evaluate_with_retry` / `guard_with_retry` run the protected evaluation and final guard, retrying
an infrastructure failure once more and then reporting it as infrastructure, never as a quality
verdict. `parse_example_arg` validates an example a harness (or a challenger reply) supplies.
"""

from __future__ import annotations

import threading
from typing import Any

from inner_loop.config import Config
from inner_loop.episode import RoleUsageRecord
from inner_loop.evaluation import InfrastructureError, SolverEval, evaluate_solver
from inner_loop.example import Example
from inner_loop.guard import GuardResult, final_guard
from inner_loop.llm import slots
from inner_loop.llm.types import FatalLLMError, LLMRequest, LLMResponse
from inner_loop.papers import Paper
from inner_loop.parsing import ParseFailure, parse_example

INFRA_ATTEMPTS = 2  # an infrastructure failure is retried once more, then recorded


class EpisodeClient:
    """The run's LLMClient as one episode sees it: same calls, tagged, usage counted per role."""

    def __init__(self, client: Any, tag: str):
        self._client = client
        self.config = client.config
        self.tag = tag
        self.usage: dict[str, RoleUsageRecord] = {}
        self._lock = threading.Lock()
        self._sent = 0  # calls so far: the episode's place in the endpoint queues (llm/slots.py)

    def build_request(self, *args: Any, **kwargs: Any) -> LLMRequest:
        return self._client.build_request(*args, **kwargs)

    def complete(self, role: str, messages: Any, *, tools: Any = None,
                 response_format: str = "text", json_schema: Any = None,
                 sample_index: int = 0, tag: str = "") -> LLMResponse:
        request = self._client.build_request(
            role, messages, tools=tools, response_format=response_format,
            json_schema=json_schema, sample_index=sample_index)
        return self.send(request, tag=tag)

    def send(self, request: LLMRequest, *, tag: str = "") -> LLMResponse:
        full_tag = f"{self.tag}/{tag}" if tag else self.tag
        with self._lock:
            self._sent += 1
            place = self._sent
        try:
            with slots.priority(place):
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


def evaluate_with_retry(example: Example, solver: str, *, client: Any, config: Config,
                        thresholds: Any, weak_eval: SolverEval | None = None,
                        tag: str = "") -> tuple[SolverEval | None, str | None]:
    """(SolverEval, None), or (None, "infrastructure: ...") after INFRA_ATTEMPTS failures."""
    last = ""
    for _ in range(INFRA_ATTEMPTS):
        try:
            return evaluate_solver(example, solver,  # type: ignore[arg-type]
                                   client=client, config=config,
                                   thresholds=thresholds, weak_eval=weak_eval, tag=tag), None
        except (InfrastructureError, FatalLLMError) as exc:
            last = str(exc)
    return None, f"infrastructure: {last}"


def guard_with_retry(example: Example, paper: Paper, *, client: Any, config: Config,
                     tag: str = "final_guard") -> tuple[GuardResult | None, str | None]:
    """(GuardResult, None), or (None, "infrastructure: ...") after INFRA_ATTEMPTS failures; the
    guard's verifier reads `paper` (grounding)."""
    last = ""
    for _ in range(INFRA_ATTEMPTS):
        try:
            return final_guard(example, paper, client=client, config=config, tag=tag), None
        except (InfrastructureError, FatalLLMError) as exc:
            last = str(exc)
    return None, f"infrastructure: {last}"


def parse_example_arg(value: Any) -> tuple[Example | None, str | None]:
    """The example a harness passed (JSON object or text), or (None, reason)."""
    if not isinstance(value, (str, dict)):
        return None, "the example must be a JSON object or a string holding one"
    try:
        return parse_example(value), None
    except ParseFailure as exc:
        return None, exc.reason
