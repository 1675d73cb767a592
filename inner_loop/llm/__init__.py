"""The one LLM seam: LLMRequest -> LLMResponse, behind the `Client` protocol. Only
openai_backend.py imports `openai`."""

from inner_loop.llm.protocol import Client, SharingClient
from inner_loop.llm.types import LLMRequest, LLMResponse, Message, ToolCall, ToolSpec, Usage

__all__ = ["Client", "LLMRequest", "LLMResponse", "Message", "SharingClient", "ToolCall",
           "ToolSpec", "Usage"]
