"""`Client`: the model seam every caller of a model is written against.

One interface, four implementations, each a view of the one run's `LLMClient`:

  LLMClient       (llm/client.py)        budgets, cache, retries, accounting, records
  EpisodeClient   (llm/episode_client.py) one episode's view: calls tagged, usage per role,
                                          its place in the endpoint queues
  RepeatClient    (evolve/jobs.py)       one repeat's view: sample indices shifted, calls
                                          shared between a child and its parent
  DriverClient    (ray_worker.py)        a Ray worker's view: requests built on the worker,
                                          sent by the driver's client

A caller builds a request for a role (`build_request`, the role's model, temperature, token
limit and the sample's seed from the config) and sends it (`send`); `complete` is the two in
one. Whatever wraps a client changes what is built or how it is sent, never the other parts.
The three views of a client share `ClientView` (forwarding, the sample-index shift).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from inner_loop.config import Config
from inner_loop.llm.types import LLMRequest, LLMResponse, Message, ToolSpec

Messages = Sequence[Message | dict[str, Any]]
ResponseFormat = Literal["text", "json"]


@runtime_checkable
class Client(Protocol):
    """Build a request for a role, send it; `complete` does both (inherited by subclasses)."""

    config: Config

    def build_request(
        self, role: str, messages: Messages, *, tools: Sequence[ToolSpec] | None = None,
        response_format: ResponseFormat = "text", json_schema: dict[str, Any] | None = None,
        sample_index: int = 0,
    ) -> LLMRequest: ...

    def send(self, request: LLMRequest, *, tag: str = "") -> LLMResponse: ...

    def complete(
        self, role: str, messages: Messages, *, tools: Sequence[ToolSpec] | None = None,
        response_format: ResponseFormat = "text", json_schema: dict[str, Any] | None = None,
        sample_index: int = 0, tag: str = "",
    ) -> LLMResponse:
        request = self.build_request(
            role, messages, tools=tools, response_format=response_format,
            json_schema=json_schema, sample_index=sample_index)
        return self.send(request, tag=tag)


@runtime_checkable
class SharingClient(Client, Protocol):
    """A client that can record a request as answered by an identical request's response
    (llm/shared.py): the run's `LLMClient`."""

    def send_shared(self, request: LLMRequest, answer: LLMResponse, *,
                    tag: str = "") -> LLMResponse: ...


class ClientView(Client):
    """A view of another client (`EpisodeClient`, `RepeatClient`, the judge's noticing client):
    requests built by the client it wraps, with sample indices shifted by `sample_offset`; sends
    passed through. A view overrides `send` for what it adds."""

    def __init__(self, client: Client, sample_offset: int = 0):
        self._client, self.sample_offset = client, sample_offset
        self.config = client.config

    def build_request(
        self, role: str, messages: Messages, *, tools: Sequence[ToolSpec] | None = None,
        response_format: ResponseFormat = "text", json_schema: dict[str, Any] | None = None,
        sample_index: int = 0,
    ) -> LLMRequest:
        return self._client.build_request(
            role, messages, tools=tools, response_format=response_format,
            json_schema=json_schema, sample_index=sample_index + self.sample_offset)

    def send(self, request: LLMRequest, *, tag: str = "") -> LLMResponse:
        return self._client.send(request, tag=tag)
