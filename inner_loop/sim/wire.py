"""The OpenAI chat.completions wire format of the loopback sim server (server.py): requests.

`parse_chat(body)` validates a request body the way OpenAI does (a JSON object, known arguments
only, `messages` non-empty, `max_tokens` ≥ 1, `n` in 1..128, tools with a `function`, a known
`response_format` type, `stream_options` only with `stream`) and raises WireError — a 4xx in
OpenAI's error shape `{"error": {"message", "type", "param", "code"}}` — on anything else.
`to_llm_request` maps it onto the seam (the role is the model name `sim-<role>`; answers are built
by answers.py). `check_format` is the JSON-mode promise: an answer that is not
the JSON (or does not fit the JSON schema) the client asked for is a 400, never a reshaped answer;
`check_tool_choice` the same for `tool_choice` "none", "required" or a named tool.
Not modelled: `max_tokens` never truncates an answer (the sim's answers are short), no logprobs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from inner_loop.llm.types import LLMRequest, LLMResponse
from inner_loop.roles import ROLES
from inner_loop.sim import schema_check
from inner_loop.strict import field_error, first_error

FINGERPRINT = "autodata-sim"
MAX_N = 128


class WireError(Exception):
    """A request the endpoint refuses: HTTP status and OpenAI's error object."""

    def __init__(self, status: int, message: str, err_type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.err_type, self.param, self.code = status, err_type, param, code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": f"[autodata-sim] {self}", "type": self.err_type,
                          "param": self.param, "code": self.code}}


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class TextPart(_Wire):
    type: Literal["text"]
    text: str


class FunctionCall(_Wire):
    name: str
    arguments: str


class WireToolCall(_Wire):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class WireMessage(_Wire):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    name: str | None = None
    tool_calls: list[WireToolCall] | None = None
    tool_call_id: str | None = None
    refusal: str | None = None
    reasoning_content: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> "WireMessage":
        if self.role == "assistant" and self.content is None and not self.tool_calls:
            raise ValueError("an assistant message needs content or tool_calls")
        if self.role != "assistant" and self.content is None:
            raise ValueError(f"a {self.role} message needs content")
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a tool message needs tool_call_id")
        return self


class WireFunction(_Wire):
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str = ""
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class WireTool(_Wire):
    type: Literal["function"]
    function: WireFunction


class JsonSchemaFormat(_Wire):
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Wire):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_iff_json_schema(self) -> "ResponseFormat":
        if (self.type == "json_schema") != (self.json_schema is not None):
            raise ValueError("'json_schema' is required with type 'json_schema' and allowed only then")
        return self


class StreamOptions(_Wire):
    include_usage: bool = False
    include_obfuscation: bool | None = None


class NamedToolChoice(_Wire):
    type: Literal["function"]
    function: dict[str, str]


class ChatRequest(_Wire):
    """A chat.completions body. Accepted but without effect on the sim: top_p, stop, penalties,
    logit_bias, user, metadata, store, parallel_tool_calls, reasoning_effort, service_tier."""

    model: str
    messages: list[WireMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    n: int = Field(default=1, ge=1, le=MAX_N)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    response_format: ResponseFormat | None = None
    tools: list[WireTool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    stop: str | list[str] | None = None
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    logit_bias: dict[str, float] | None = None
    logprobs: Literal[False] | None = None  # the sim has no token log-probabilities
    user: str | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    reasoning_effort: str | None = None
    service_tier: str | None = None

    @model_validator(mode="after")
    def _stream_options_need_stream(self) -> "ChatRequest":
        if self.stream_options is not None and not self.stream:
            raise ValueError("'stream_options' is only allowed when 'stream' is true")
        return self


def _param(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not str(part).startswith(("literal[", "list[", "str", "function-", "json-or-python")):
            out += ("." if out else "") + str(part)
    return out


def parse_chat(body: bytes) -> ChatRequest:
    """The validated request, or WireError 400 (404 for a model the sim does not serve)."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(400, f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WireError(400, f"the request body must be a JSON object, not a JSON {type(data).__name__}")
    try:
        chat = ChatRequest.model_validate(data)
    except ValidationError as exc:
        err = field_error(exc)  # worded as OpenAI words it
        param = _param(err.loc) or None
        if err.kind == "extra_forbidden":
            msg = f"Unrecognized request argument supplied: {param}"
        elif err.kind == "missing":
            msg = f"Missing required parameter: '{param}'"
        else:
            msg = f"Invalid value for '{param or 'body'}': {err.message}"
        raise WireError(400, msg, param=param, code="invalid_value") from None
    role = chat.model.removeprefix("sim-")
    if not chat.model.startswith("sim-") or role not in ROLES:
        raise WireError(404, f"The model '{chat.model}' does not exist; the sim serves sim-<role> "
                             f"for roles {', '.join(ROLES)}", param="model", code="model_not_found")
    return chat


def _text(content: str | list[TextPart] | None) -> str | None:
    return "".join(p.text for p in content) if isinstance(content, list) else content


def _message(m: WireMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": "system" if m.role == "developer" else m.role,
                           "content": _text(m.content)}
    if m.tool_calls:
        out["tool_calls"] = [{"id": c.id, "name": c.function.name,
                              "arguments": c.function.arguments or "{}"} for c in m.tool_calls]
    if m.tool_call_id is not None:
        out["tool_call_id"] = m.tool_call_id
    return out


def choice_seed(seed: int, index: int) -> int:
    """Choice 0 uses the request's seed; choice i > 0 an independent 31-bit seed derived from it."""
    if index == 0:
        return seed
    return int.from_bytes(hashlib.sha256(f"sim-choice:{seed}:{index}".encode()).digest()[:4], "big") >> 1


def to_llm_request(chat: ChatRequest, index: int = 0) -> LLMRequest:
    fmt = chat.response_format
    schema = fmt.json_schema.schema_ if fmt is not None and fmt.json_schema is not None else None
    tools = [{"name": t.function.name, "description": t.function.description,
              "parameters": t.function.parameters or {"type": "object", "properties": {}}}
             for t in chat.tools or []]
    try:
        return LLMRequest.model_validate({
            "role": chat.model.removeprefix("sim-"), "model": chat.model,
            "messages": [_message(m) for m in chat.messages], "tools": tools or None,
            "response_format": "json" if fmt is not None and fmt.type != "text" else "text",
            "json_schema": schema,
            "temperature": 1.0 if chat.temperature is None else chat.temperature,
            "max_tokens": chat.max_tokens or chat.max_completion_tokens or 4096,
            "seed": choice_seed(chat.seed or 0, index),
        })
    except ValidationError as exc:
        raise WireError(400, f"invalid request: {first_error(exc)}", code="invalid_value") from None


def check_format(chat: ChatRequest, response: LLMResponse) -> None:
    """WireError 400 when the answer is not the JSON (or does not fit the schema) asked for."""
    fmt = chat.response_format
    if fmt is None or fmt.type == "text" or (response.tool_calls and not response.content):
        return
    role = chat.model.removeprefix("sim-")
    try:
        value = json.loads(response.content or "")
    except json.JSONDecodeError:
        raise WireError(400, f"the simulated {role} answers this request in prose; it cannot honour "
                             f"response_format {fmt.type} (send it without response_format)",
                        param="response_format", code="response_format_unsupported") from None
    schema = fmt.json_schema.schema_ if fmt.json_schema is not None else None
    found = [f"{type(value).__name__} is not a JSON object"] if not isinstance(value, dict) else []
    try:
        found += schema_check.problems(value, schema) if schema is not None and not found else []
    except ValueError as exc:
        raise WireError(400, f"response_format json_schema: {exc}", param="response_format.json_schema",
                        code="invalid_value") from None
    if found:
        raise WireError(400, f"the simulated {role}'s answer does not fit the requested "
                             f"{fmt.type}: {'; '.join(found[:3])}", param="response_format",
                        code="response_format_unsupported")


def check_tool_choice(chat: ChatRequest, response: LLMResponse) -> None:
    """WireError 400 when `tool_choice` required a call (or one named tool) the answer lacks."""
    choice, role = chat.tool_choice, chat.model.removeprefix("sim-")
    names = [c.name for c in response.tool_calls]
    if isinstance(choice, NamedToolChoice):
        wanted = choice.function.get("name")
        if chat.tools is None or wanted not in [t.function.name for t in chat.tools]:
            raise WireError(400, f"tool_choice names {wanted!r}, which is not among the tools",
                            param="tool_choice", code="invalid_value")
        if names != [wanted]:
            raise WireError(400, f"the simulated {role} answered with {names or 'no tool call'}; it "
                                 f"cannot honour tool_choice {wanted!r}", param="tool_choice",
                            code="tool_choice_unsupported")
    elif (choice == "required" and not names) or (choice == "none" and names):
        what = f"with the tool calls {names}" if names else "without a tool call"
        raise WireError(400, f"the simulated {role} answered {what}; it cannot honour tool_choice "
                             f"{choice!r}", param="tool_choice", code="tool_choice_unsupported")
