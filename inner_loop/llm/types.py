"""Pydantic models of the LLM seam. Every backend (sim in-process, any OpenAI-compatible
HTTP endpoint, the loopback sim server) takes an LLMRequest and returns an LLMResponse."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from inner_loop.roles import Role
from inner_loop.strict import Strict


def valid_text(value: Any) -> Any:
    """`value` (a str, or lists/dicts of them) as valid UTF-8: lone surrogates, which a model's
    JSON may carry as `\\ud800` and no file, database or HTTP body can hold, become `?`."""
    if isinstance(value, str):
        if value.isascii():
            return value
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [valid_text(v) for v in value]
    if isinstance(value, dict):
        return {k: valid_text(v) for k, v in value.items()}
    return value


class ToolCall(Strict):
    id: str
    name: str
    arguments: str = "{}"  # JSON-encoded object, exactly as the model wrote it (may be malformed)


class Message(Strict):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None


class ToolSpec(Strict):
    name: str
    description: str
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class LLMRequest(Strict):
    role: Role
    model: str
    messages: list[Message]
    tools: list[ToolSpec] | None = None
    response_format: Literal["text", "json"] = "text"
    json_schema: dict[str, Any] | None = None  # sent as a JSON-schema response_format where supported
    temperature: float = 1.0
    max_tokens: int = 4096
    seed: int = 0          # the sample seed; derived from the run seed and sample_index
    sample_index: int = 0  # repeated samples of one request differ only here (and in seed)


class Usage(Strict):
    input_tokens: int = 0
    output_tokens: int = 0
    # of input_tokens, the prompt tokens the endpoint served from its prefix cache (OpenAI, vLLM
    # `prompt_tokens_details.cached_tokens`; Moonshot `cached_tokens`), billed at the role's
    # price_cached_input_per_mtok; 0 when the endpoint reports none (the in-process sim)
    cached_tokens: int = 0


class LLMResponse(Strict):
    content: str | None = None
    reasoning_content: str | None = None  # reasoning models (Kimi-K2.6) return this beside the answer
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: str = "stop"
    usage: Usage = Field(default_factory=Usage)
    model: str = ""
    simulated: bool = False  # True for every answer produced by the simulated model world
    latency_ms: float = 0.0
    cost_usd: float = 0.0
    attempts: int = 1
    cached: bool = False


class LLMError(Exception):
    """Base of LLM-layer errors."""


class TransientLLMError(LLMError):
    """429, 5xx, timeouts, connection resets, malformed bodies: retried with backoff."""

    def __init__(self, message: str, retry_after_s: float | None = None, kind: str = "transient"):
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.kind = kind


class FatalLLMError(LLMError):
    """Not retried: auth failure, unknown model or route, missing API key variable, retries
    exhausted. Failures the request's author cannot cause: the run stops (infrastructure)."""


REJECTED_TEXT = "rejected by the endpoint"  # in every RequestRejected message


class RequestRejected(FatalLLMError):
    """The endpoint refused this request's content: a 4xx other than 401/403/404/407 (auth,
    route), 408/409 (retried) and 429 (rate limit) — a context overflow, an invalid schema, bad
    parameters — or a request that cannot be encoded (a lone surrogate). Not retried. The fault
    is whoever shaped the request's content: a harness-role call makes the episode a harness
    failure; the implementer's grown conversation ends its loop (see llm/README.md)."""


class BudgetExceeded(LLMError):
    """A hard budget (USD, calls, wall time) is spent; work stops cleanly."""
