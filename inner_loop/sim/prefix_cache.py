"""Automatic prefix caching, emulated for usage only: how many of a prompt's tokens an endpoint
like vLLM (`--enable-prefix-caching`) or Moonshot (automatic context caching) would serve from
its cache. Answers never depend on it.

The model (vLLM's APC): a prompt is cut into blocks of `block_tokens` tokens; a block is cached
when the same model saw the same tokens up to and including that block before (a hash chain, so
a block only matches after an identical prefix); a request's cached tokens are its leading run of
cached full blocks. As in vLLM, the prompt's last token is always computed, so a prompt sent twice
has all but its last partial block cached. Blocks are evicted least recently used beyond
`capacity_tokens`, a prompt's last blocks before its first (vLLM frees a request's blocks in
reverse order), so a shared beginning outlives the tails that differ. The simulated world counts
4 characters per token (`inner_loop.sim.respond`), so a block is 4 × block_tokens characters of
the rendered prompt (`prompt_text`: the tools, then each message's role and content, as a chat
template lays them out).

Used by `autodata sim-serve` (one cache per server) and by `evolve.cost_cache` (the same cache
replayed over a run's recorded calls).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from inner_loop.llm.types import LLMRequest, LLMResponse

CHARS_PER_TOKEN = 4  # the simulated world's token count (inner_loop.sim.respond)


class PrefixCacheOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # tokens the cache holds (0: no cache; the usage then reports no cached tokens at all)
    capacity_tokens: int = Field(default=4_000_000, ge=0)
    block_tokens: int = Field(default=16, ge=1)  # vLLM's default block size
    # where the usage reports them: OpenAI / vLLM `prompt_tokens_details.cached_tokens`, or
    # Moonshot's top-level `cached_tokens`
    usage_shape: Literal["openai", "moonshot"] = "openai"


def prompt_text(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> str:
    """The prompt as one text, in the order a chat template renders it: the tool specs (they sit
    in the system preamble), then every message's role, content, tool calls and tool-call id.
    `messages` are Message dumps (`role`, `content`, `tool_calls` [{id, name, arguments}],
    `tool_call_id`), as a CallRecord holds them."""
    parts = [json.dumps(tools, sort_keys=True)] if tools else []
    for m in messages:
        parts.append(f"<|{m.get('role')}|>\n{m.get('content') or ''}")
        for call in m.get("tool_calls") or []:
            parts.append(f"<|call|>{call.get('id')} {call.get('name')}({call.get('arguments')})")
        if m.get("tool_call_id"):
            parts.append(f"<|result of|>{m['tool_call_id']}")
    return "\n".join(parts)


class PrefixCache:
    """One endpoint's prefix cache (thread-safe); `scope` separates models (no sharing between
    models, as each model has its own KV cache)."""

    def __init__(self, options: PrefixCacheOptions | None = None):
        self.options = options or PrefixCacheOptions()
        self._blocks: OrderedDict[bytes, None] = OrderedDict()  # block key -> (LRU order)
        self._lock = threading.Lock()
        self.lookups = self.prompt_tokens = self.cached_tokens = 0

    @property
    def enabled(self) -> bool:
        return self.options.capacity_tokens >= self.options.block_tokens

    def observe(self, scope: str, text: str, prompt_tokens: int) -> int:
        """The cached tokens of a prompt `text` of `prompt_tokens` tokens sent to `scope`'s model
        now; its full blocks are then cached (the request was served)."""
        o = self.options
        if not self.enabled or prompt_tokens <= 1:
            return 0
        size = o.block_tokens * CHARS_PER_TOKEN
        keys, chain = [], hashlib.blake2b(scope.encode(), digest_size=16).digest()
        for start in range(0, len(text) - size + 1, size):
            chain = hashlib.blake2b(chain + text[start:start + size].encode("utf-8", "replace"),
                                    digest_size=16).digest()
            keys.append(chain)
        capacity = o.capacity_tokens // o.block_tokens
        with self._lock:
            hits = 0
            while hits < len(keys) and keys[hits] in self._blocks:
                hits += 1
            for key in reversed(keys):  # as vLLM frees a request's blocks: its tail is evicted first
                self._blocks[key] = None
                self._blocks.move_to_end(key)
            while len(self._blocks) > capacity:
                self._blocks.popitem(last=False)
            # the last prompt token is always computed: at most the full blocks before it
            cached = min(hits * o.block_tokens, (prompt_tokens - 1) // o.block_tokens * o.block_tokens)
            self.lookups += 1
            self.prompt_tokens += prompt_tokens
            self.cached_tokens += cached
        return cached

    def usage_fields(self, cached: int) -> dict[str, Any]:
        """The usage entries that report `cached` tokens in this endpoint's shape."""
        if self.options.usage_shape == "moonshot":
            return {"cached_tokens": cached}
        return {"prompt_tokens_details": {"cached_tokens": cached}}


def cached_usage(cache: PrefixCache, request: LLMRequest, response: LLMResponse) -> dict[str, Any]:
    """The usage fields reporting `request`'s cached prompt tokens (scoped by its model) after
    `cache` saw it; none when the cache is off."""
    if not cache.enabled:
        return {}
    text = prompt_text([m.model_dump(mode="json", exclude_none=True) for m in request.messages],
                       [t.model_dump(mode="json") for t in request.tools or []])
    return cache.usage_fields(cache.observe(request.model, text, response.usage.input_tokens))
