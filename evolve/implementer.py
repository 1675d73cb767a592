"""The implementer: a tool-using editing agent confined to a scratch worktree of the parent.

Its tools, and what they refuse, are the workspace's (`evolve/workspace.py`: `TOOLS`,
`Workspace`). The loop runs at most `max_steps` model calls; without `finish` the edits so far
stand. An endpoint that rejects the conversation the model has grown (a 4xx such as a context
overflow, `RequestRejected`) ends the loop the same way, its message in `stopped`; a rejection of
the very first request is the endpoint's, not the model's, and propagates. The candidate's diff is
taken from git afterwards, never from text the model typed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import Field

from inner_loop.formats import DIAGNOSIS, EDITABLE_GLOBS, HISTORY, sections
from inner_loop.llm import Client
from inner_loop.llm.types import Message, RequestRejected, ToolCall
from inner_loop.strict import Strict
from evolve.analyzer import Diagnosis, history_block, load_evolve_prompt
from evolve.workspace import (MAX_PATH_CHARS, TOOLS, BadToolCall, Refusal, Workspace,
                              clean_text, parse_arguments)

MAX_STEPS = 12


class ImplementerResult(Strict):
    summary: str = ""
    finished: bool = False
    steps: int = 0
    refusals: list[Refusal] = Field(default_factory=list)
    tool_log: list[dict[str, Any]] = Field(default_factory=list)
    stopped: str | None = None  # the endpoint rejected the conversation (RequestRejected)


def implementer_messages(diagnosis: Diagnosis, globs: Sequence[str],
                         history: Sequence[str]) -> list[Message]:
    user = sections([(DIAGNOSIS, diagnosis.model_dump_json(indent=2)),
                     (EDITABLE_GLOBS, "\n".join(globs)), (HISTORY, history_block(history))])
    return [Message(role="system", content=load_evolve_prompt("implementer")),
            Message(role="user", content=user)]


def _log_entry(name: str, arguments: str, result: dict[str, Any]) -> dict[str, Any]:
    try:
        path = parse_arguments(arguments).get("path")
    except BadToolCall:
        path = None
    return {"tool": clean_text(str(name))[:200],
            "path": clean_text(path)[:MAX_PATH_CHARS] if isinstance(path, str) else None,
            "ok": result.get("ok"), "error": result.get("error")}


def _echo(content: str | None, calls: list[ToolCall]) -> Message:
    """The model's turn as it goes back to the endpoint: valid UTF-8 (a lone surrogate the
    model wrote would make the next request unsendable)."""
    return Message(role="assistant", content=clean_text(content) if content else content,
                   tool_calls=[c.model_copy(update={"name": clean_text(c.name),
                                                    "arguments": clean_text(c.arguments)})
                               for c in calls] or None)


def run_implementer(client: Client, workspace: Workspace, diagnosis: Diagnosis,
                    history: Sequence[str], *, max_steps: int = MAX_STEPS,
                    tag: str = "") -> ImplementerResult:
    """Drive the agent until `finish`, a reply without tool calls, or `max_steps` model calls."""
    messages = implementer_messages(diagnosis, workspace.manifest.harness.editable, history)
    result = ImplementerResult()
    while result.steps < max_steps and not result.finished:
        try:
            response = client.complete("implementer", messages, tools=TOOLS,
                                       tag=f"{tag}:step{result.steps}")
        except RequestRejected as exc:
            if result.steps == 0:  # our own first request: the endpoint's fault, not the model's
                raise
            result.stopped = " ".join(clean_text(str(exc)).split())[:300]
            break
        result.steps += 1
        messages.append(_echo(response.content, response.tool_calls))
        if not response.tool_calls:
            break
        for call in response.tool_calls:
            out = workspace.call(call.name, call.arguments)
            result.tool_log.append(_log_entry(call.name, call.arguments, out))
            messages.append(Message(role="tool", tool_call_id=clean_text(call.id),
                                    content=clean_text(json.dumps(out, ensure_ascii=False))))
            if call.name == "finish":
                result.finished, result.summary = True, out["summary"]
    result.refusals = list(workspace.refusals)
    return result
