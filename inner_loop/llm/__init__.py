"""The one LLM seam: LLMRequest -> LLMResponse. Only openai_backend.py imports `openai`."""

from inner_loop.llm.types import LLMRequest, LLMResponse, Message, ToolCall, ToolSpec, Usage

__all__ = ["LLMRequest", "LLMResponse", "Message", "ToolCall", "ToolSpec", "Usage"]
