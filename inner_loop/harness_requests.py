"""What a harness sends the runtime over the RPC, read strictly, and what `evaluate` answers.

A harness's `llm` request carries OpenAI-style messages and tools (flat or nested tool calls);
`normalise_messages` / `normalise_tools` turn them into the protected `Message` / `ToolSpec`
or raise ValueError, which the dispatcher answers as a bad request. `eval_reply` is the one
shape of an evaluation's answer to the harness (dispatch.py).
"""

from __future__ import annotations

import json
from typing import Any

from inner_loop.evaluation import SolverEval
from inner_loop.example import Example
from inner_loop.llm.types import Message, ToolSpec

ANSWER_CHARS = 1500  # of each solver answer the harness gets back


def _flat_tool_call(call: Any) -> dict[str, Any]:
    if not isinstance(call, dict):
        raise ValueError("a tool call must be an object")
    fn = call.get("function") if isinstance(call.get("function"), dict) else call
    args = fn.get("arguments", "{}")
    return {"id": str(call.get("id", "")), "name": str(fn.get("name", "")),
            "arguments": args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)}


def normalise_messages(messages: Any) -> list[Message]:
    """OpenAI-style message dicts (flat or nested tool calls) → Message; ValueError if bad."""
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list of objects")
    out = []
    for m in messages:
        if not isinstance(m, dict):
            raise ValueError("every message must be an object")
        m = {k: v for k, v in m.items() if k != "name"}
        calls = m.pop("tool_calls", None)
        if calls:
            m["tool_calls"] = [_flat_tool_call(c) for c in calls]
        out.append(Message.model_validate(m))
    return out


def normalise_tools(tools: Any) -> list[ToolSpec] | None:
    if not tools:
        return None
    if not isinstance(tools, list):
        raise ValueError("tools must be a list")
    specs = []
    for t in tools:
        fn = t.get("function") if isinstance(t, dict) and isinstance(t.get("function"), dict) else t
        if not isinstance(fn, dict):
            raise ValueError("every tool must be an object")
        specs.append(ToolSpec(name=fn.get("name", ""), description=fn.get("description", ""),
                              parameters=fn.get("parameters") or {"type": "object",
                                                                  "properties": {}}))
    return specs


def eval_reply(ev: SolverEval, example: Example) -> dict[str, Any]:
    items_met = [sum(1 for s in ev.samples if i < len(s.judgments) and s.judgments[i])
                 for i in range(len(example.rubric))]
    return {"ok": True, "solver": ev.solver, "scores": ev.scores, "avg": ev.avg, "max": ev.max,
            "min": ev.min, "passed": ev.passed, "failed_rule": ev.failed_rule,
            "items_met": items_met, "answers": [s.answer[:ANSWER_CHARS] for s in ev.samples]}
