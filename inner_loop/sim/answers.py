"""The answers of the loopback sim server (server.py) in OpenAI's wire format: a
`chat.completion` (one choice per sample of `n`, summed usage) and the `chat.completion.chunk`
events of a stream (role, then content and tool-call deltas, a finish chunk per choice, and the
usage chunk last when `stream_options.include_usage`; without it every chunk omits usage)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from inner_loop.llm.types import LLMResponse
from inner_loop.sim.wire import FINGERPRINT


def _message_json(response: LLMResponse) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": response.content}
    if response.reasoning_content is not None:
        message["reasoning_content"] = response.reasoning_content
    if response.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in response.tool_calls]
    return message


def usage_json(responses: list[LLMResponse]) -> dict[str, int]:
    prompt = responses[0].usage.input_tokens if responses else 0
    completion_tokens = sum(r.usage.output_tokens for r in responses)
    return {"prompt_tokens": prompt, "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens}


def completion(model: str, responses: list[LLMResponse], completion_id: str) -> dict[str, Any]:
    return {
        "id": completion_id, "object": "chat.completion", "created": 0, "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [{"index": i, "message": _message_json(r), "finish_reason": r.finish_reason,
                     "logprobs": None} for i, r in enumerate(responses)],
        "usage": usage_json(responses),
    }


def _pieces(text: str, words: int = 4) -> list[str]:
    tokens = re.findall(r"\s*\S+\s*|\s+", text)
    return ["".join(tokens[i:i + words]) for i in range(0, len(tokens), words)] or [text]


def _choice_deltas(response: LLMResponse) -> Iterator[dict[str, Any]]:
    yield {"role": "assistant", "content": ""}
    if response.reasoning_content:
        for piece in _pieces(response.reasoning_content):
            yield {"reasoning_content": piece}
    for piece in _pieces(response.content) if response.content else []:
        yield {"content": piece}
    for i, call in enumerate(response.tool_calls):
        yield {"tool_calls": [{"index": i, "id": call.id, "type": "function",
                               "function": {"name": call.name, "arguments": ""}}]}
        args = call.arguments
        for start in range(0, len(args), 32):
            yield {"tool_calls": [{"index": i, "function": {"arguments": args[start:start + 32]}}]}


def stream_chunks(model: str, responses: list[LLMResponse], completion_id: str,
                  include_usage: bool) -> Iterator[dict[str, Any]]:
    """The `chat.completion.chunk` objects of a streamed answer, in order (no `[DONE]`)."""
    base = {"id": completion_id, "object": "chat.completion.chunk", "created": 0, "model": model,
            "system_fingerprint": FINGERPRINT}
    extra = {"usage": None} if include_usage else {}
    for index, response in enumerate(responses):
        for delta in _choice_deltas(response):
            yield {**base, "choices": [{"index": index, "delta": delta, "finish_reason": None,
                                        "logprobs": None}], **extra}
        yield {**base, "choices": [{"index": index, "delta": {},
                                    "finish_reason": response.finish_reason, "logprobs": None}], **extra}
    if include_usage:
        yield {**base, "choices": [], "usage": usage_json(responses)}
