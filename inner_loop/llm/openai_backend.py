"""The only module in the project that imports `openai`.

`complete(request, role_config)` sends one LLMRequest to an OpenAI-compatible endpoint (Kimi /
Moonshot, vLLM, SGLang, Ollama, OpenRouter, the loopback sim server) and maps the answer — or the
failure — onto the seam: TransientLLMError (retried by the client), RequestRejected (a 4xx
about the request's content: not retried, the request's author's fault) or FatalLLMError (auth,
unknown model or route). The API key is read from os.environ[role_config.api_key_env] at call time,
sent as that request's Authorization header, and scrubbed from every error text; the SDK client
(one per endpoint and timeout) holds no key, so `prepare` builds it before the first call.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import openai

from inner_loop.config import RoleConfig
from inner_loop.llm.types import (
    REJECTED_TEXT, FatalLLMError, LLMRequest, LLMResponse, Message, RequestRejected, ToolCall,
    TransientLLMError, Usage, valid_text,
)

SIM_FINGERPRINT = "autodata-sim"  # system_fingerprint of the loopback sim server
NO_KEY = "not-needed"  # local servers (vLLM, llama.cpp, the sim server) ignore the key
NOT_THE_REQUEST = (401, 403, 404, 407)  # auth and route: the operator's, never the request's

_clients: dict[tuple[str, float], openai.OpenAI] = {}
_clients_lock = threading.Lock()


def prepare(role_config: RoleConfig) -> None:
    """Build the role's SDK client now (its connection pool: 20-40 ms of CPU), when LLMClient is
    built, not inside the first call's endpoint slot. Reads no key (see the module docstring)."""
    _client(role_config)


def complete(request: LLMRequest, role_config: RoleConfig) -> LLMResponse:
    api_key = _api_key(request.role, role_config)
    client = _client(role_config)
    error: Exception
    try:
        # The SDK's own POST with the body chat.completions.create would send: create() first runs
        # maybe_transform over every message (typing introspection, ~1 ms of CPU per call), which
        # is the identity for the plain JSON dicts request_kwargs builds (tested). Same client,
        # auth, headers, status and error mapping. cast_to=object: the SDK hands back the parsed
        # JSON as is, instead of building its ChatCompletion models (~0.4 ms more) only for
        # _to_response to read five fields off them.
        # The key as the SDK's own auth header would carry it, read at this call.
        body = client.post("/chat/completions", body=request_kwargs(request, role_config),
                           cast_to=object, options={"headers": {"Authorization": f"Bearer {api_key}"}})
        return _to_response(body)
    except openai.APIError as exc:
        error = _map_error(exc, api_key)
    except json.JSONDecodeError as exc:  # a truncated body with a JSON content type
        error = TransientLLMError(f"malformed JSON body: {exc}", kind="bad_response")
    except UnicodeEncodeError as exc:  # a lone surrogate in the messages: unsendable as UTF-8
        error = RequestRejected(f"{REJECTED_TEXT}: the request is not valid UTF-8 text "
                                f"({exc.reason} at index {exc.start})")
    except RecursionError:  # tool parameters nested too deeply for the JSON encoder
        error = RequestRejected(f"{REJECTED_TEXT}: the request is nested too deeply to encode")
    # raised outside the except blocks: the openai exception (which may quote the key) is not
    # even kept as __context__
    raise error


def _api_key(role: str, role_config: RoleConfig) -> str:
    if role_config.api_key_env is None:
        return NO_KEY
    key = os.environ.get(role_config.api_key_env)
    if not key:
        raise FatalLLMError(
            f"{role}: environment variable {role_config.api_key_env} is not set "
            f"(roles.{role}.api_key_env names it; export it before the run)"
        )
    return key


def _client(role_config: RoleConfig) -> openai.OpenAI:
    """One client (one connection pool) per endpoint and timeout; retries are ours. It holds no
    key (NO_KEY): each request carries its own Authorization header."""
    ident = (str(role_config.base_url), float(role_config.timeout_s))
    with _clients_lock:
        client = _clients.get(ident)
        if client is None:
            client = openai.OpenAI(
                base_url=role_config.base_url, api_key=NO_KEY,
                timeout=role_config.timeout_s, max_retries=0,
            )
            _clients[ident] = client
        return client


def request_kwargs(request: LLMRequest, role_config: RoleConfig) -> dict[str, Any]:
    """The chat.completions.create arguments for one request (pure; no key in it): plain JSON
    values only, so they are also the request body as the SDK would send it."""
    kwargs: dict[str, Any] = {
        "model": request.model,
        "messages": [_message(m) for m in request.messages],
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "seed": request.seed,
    }
    if request.tools:
        kwargs["tools"] = [
            {"type": "function", "function": {
                "name": t.name, "description": t.description, "parameters": t.parameters}}
            for t in request.tools
        ]
    response_format = _response_format(request, role_config)
    if response_format is not None:
        kwargs["response_format"] = response_format
    return kwargs


def _response_format(request: LLMRequest, role_config: RoleConfig) -> dict[str, Any] | None:
    if request.response_format != "json" or role_config.json_mode == "none":
        return None
    if role_config.json_mode == "schema" and request.json_schema is not None:
        return {"type": "json_schema",
                "json_schema": {"name": "response", "schema": request.json_schema}}
    return {"type": "json_object"}


def _message(m: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": c.arguments}}
            for c in m.tool_calls
        ]
    if m.tool_call_id is not None:
        out["tool_call_id"] = m.tool_call_id
    return out


def _to_response(body: Any) -> LLMResponse:
    """The LLMResponse of a chat.completion JSON body (as the SDK parsed it; any shape); every
    text valid UTF-8 (`valid_text`), so an answer can always be stored and sent back."""
    body = valid_text(body)
    if isinstance(body, str):  # a body without a JSON content type: the SDK returns its text
        try:
            body = json.loads(body)
        except ValueError:
            pass  # not JSON at all: reported below
    choices = body.get("choices") if isinstance(body, dict) else None
    if not choices or not isinstance(choices, list):
        what = "ChatCompletion" if isinstance(body, dict) else type(body).__name__
        kind = "empty choices" if isinstance(choices, list) else f"not a chat completion: {what}"
        raise TransientLLMError(f"bad response: {kind}", kind="bad_response")
    choice = choices[0]
    msg = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(msg, dict):
        raise TransientLLMError("bad response: a choice without a message", kind="bad_response")
    reasoning = msg.get("reasoning_content") or msg.get("reasoning")
    return LLMResponse(
        content=msg.get("content"),
        reasoning_content=reasoning if isinstance(reasoning, str) else None,
        tool_calls=[
            ToolCall(id=c.get("id"), name=c["function"].get("name"),
                     arguments=c["function"].get("arguments") or "{}")
            for c in (msg.get("tool_calls") or [])
            if isinstance(c, dict) and isinstance(c.get("function"), dict)
        ],
        finish_reason=choice.get("finish_reason") or "stop",
        usage=usage_of(body.get("usage")),
        model=body.get("model") or "",
        simulated=body.get("system_fingerprint") == SIM_FINGERPRINT,
    )


def _count(value: Any) -> int:
    """A token count as the endpoint wrote it: a non-negative whole number (`12` or `12.0`), else 0
    (null, a string, a bool, a fraction, a negative number or infinity are not counts)."""
    if type(value) is float and value.is_integer():
        value = int(value)
    return value if type(value) is int and value > 0 else 0


def usage_of(usage: Any) -> Usage:
    """The Usage of a chat.completion's `usage` object, whatever its shape. Cached prompt tokens
    are read where OpenAI and vLLM (`--enable-prompt-tokens-details`) put them,
    `prompt_tokens_details.cached_tokens`, else where Moonshot does, top-level `cached_tokens`
    (Kimi K2.x sends both, equal); never more than the prompt's tokens (recorded shapes:
    tests/fixtures/usage/)."""
    if not isinstance(usage, dict):
        return Usage()
    prompt = _count(usage.get("prompt_tokens"))
    details = usage.get("prompt_tokens_details")
    cached = _count(details.get("cached_tokens")) if isinstance(details, dict) else 0
    cached = cached or _count(usage.get("cached_tokens"))
    return Usage(input_tokens=prompt, output_tokens=_count(usage.get("completion_tokens")),
                 cached_tokens=min(cached, prompt))


def _scrub(text: str, api_key: str) -> str:
    return text.replace(api_key, "***") if api_key and api_key != NO_KEY else text


def _retry_after_s(exc: openai.APIStatusError) -> float | None:
    headers = exc.response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return float(value) * scale
            except ValueError:
                continue  # an HTTP date: fall back to our own backoff
    return None


def _map_error(exc: openai.APIError, api_key: str) -> Exception:
    text = _scrub(f"{type(exc).__name__}: {exc}", api_key)
    if isinstance(exc, openai.RateLimitError):
        return TransientLLMError(text, retry_after_s=_retry_after_s(exc), kind="rate_limit")
    if isinstance(exc, openai.APITimeoutError):
        return TransientLLMError(text, kind="timeout")
    if isinstance(exc, openai.APIConnectionError):
        return TransientLLMError(text, kind="connection")
    if isinstance(exc, openai.APIResponseValidationError):
        return TransientLLMError(text, kind="bad_response")
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code >= 500:
            return TransientLLMError(text, retry_after_s=_retry_after_s(exc), kind="server_error")
        if exc.status_code in (408, 409):
            return TransientLLMError(text, kind="server_error")
        if exc.status_code in NOT_THE_REQUEST:
            return FatalLLMError(text)
        return RequestRejected(_scrub(
            f"{REJECTED_TEXT} (HTTP {exc.status_code}): {_endpoint_message(exc)}", api_key))
    return FatalLLMError(text)


def _endpoint_message(exc: openai.APIStatusError) -> str:
    """The endpoint's own words (`error.message` of the body where it has one), one line."""
    body = exc.body
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str):
        message = body.get("message") if isinstance(body, dict) else None
    text = message if isinstance(message, str) and message.strip() else str(exc)
    return " ".join(text.split())[:500]


complete.prepare = prepare  # type: ignore[attr-defined]  # found by backends.prepare
