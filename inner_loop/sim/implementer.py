"""The simulated implementer: a tool-using editing agent driven by the diagnosis it is given.

It is a pure function of its conversation: from the diagnosis (first user message) it chooses a
plan — the top hypothesis whose change is not already in the target file — and a *disposition*
drawn from its seed: a faithful edit (60%), a useless rewording (12%), a harmful edit (10%), a
broken edit (9%: an unknown template variable or a Python syntax error) or an attempt on a
protected path (9%). Then: read the target -> write the edited file -> finish with a summary.
What the edit says comes from the change text, understood through the same lexicon the other
simulated models use, perturbed and worded from the implementer's own stream (edits.py).
"""

from __future__ import annotations

import json

from inner_loop.formats import DIAGNOSIS, EDITABLE_GLOBS, section_of
from inner_loop.llm.types import LLMRequest, ToolCall
from inner_loop.sim import edits
from inner_loop.sim.text import rng

DISPOSITIONS = (("faithful", 0.60), ("useless", 0.12), ("harmful", 0.10), ("broken", 0.09), ("protected", 0.09))


def _diagnosis(request: LLMRequest) -> dict:
    first = next((m.content or "" for m in request.messages if m.role == "user"), "")
    body = section_of(first, DIAGNOSIS, EDITABLE_GLOBS)
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _disposition(seed: int, diagnosis: dict) -> str:
    roll = rng("implementer", seed, json.dumps(diagnosis, sort_keys=True)).random()
    for name, p in DISPOSITIONS:
        if roll < p:
            return name
        roll -= p
    return DISPOSITIONS[0][0]


def _history(request: LLMRequest) -> tuple[list[tuple[str, dict]], dict[str, str]]:
    """(tool name, parsed result) in order, and the files read so far (path -> content)."""
    names = {c.id: (c.name, c.arguments) for m in request.messages if m.role == "assistant" for c in m.tool_calls or []}
    steps, files = [], {}
    for m in request.messages:
        if m.role != "tool":
            continue
        name, _ = names.get(m.tool_call_id or "", ("?", "{}"))
        try:
            result = json.loads(m.content or "{}")
        except json.JSONDecodeError:
            result = {}
        steps.append((name, result))
        if name == "read_file" and result.get("ok"):
            files[result.get("path", "")] = result.get("content", "")
    return steps, files


def _call(name: str, n: int, **args) -> list[ToolCall]:
    return [ToolCall(id=f"call_{n}", name=name, arguments=json.dumps(args))]


def step(request: LLMRequest) -> tuple[str, list[ToolCall]]:
    """Read each planned file, write it, then finish; a refused or failed write ends the plan."""
    diagnosis = _diagnosis(request)
    steps, files = _history(request)
    n = len(request.messages)
    plan = edits.plan(diagnosis, _disposition(request.seed, diagnosis), files, request.seed)
    writes = [result for name, result in steps if name in ("write_file", "replace_in_file")]
    if any(not w.get("ok") for w in writes):
        err = next(w.get("error", "") for w in writes if not w.get("ok"))
        return "A write was refused; stopping.", _call("finish", n, summary=f"{plan.summary} ({err[:120]})")
    if len(writes) >= len(plan.edits):
        return "Done.", _call("finish", n, summary=plan.summary)
    path, apply = plan.edits[len(writes)]
    if path not in files:
        read_before = [r for name, r in steps if name == "read_file" and r.get("path") == path]
        if read_before or (steps and steps[-1][0] == "read_file" and not steps[-1][1].get("ok")):
            if plan.disposition != "protected":
                return "A file I need could not be read.", _call("finish", n, summary=f"no edit: cannot read {path}")
        else:
            return f"Plan: {plan.summary}. Reading {path}.", _call("read_file", n, path=path)
    return f"Writing {path}.", _call("write_file", n, path=path, content=apply(files.get(path, "")))
