"""The simulated model world: the embedded default backend. See README.md for every rule.

`respond(request)` is a pure function of the request (model, messages, tools, response format,
seed): no counters, no globals that change, no knowledge of runs, iterations or files a run
writes. The same request gives the same answer in-process, over HTTP (server.py), after a restart.
"""

from __future__ import annotations

import importlib
import json

from inner_loop.config import RoleConfig
from inner_loop.llm.types import LLMRequest, LLMResponse, ToolCall, Usage
from inner_loop.roles import ROLES

SIM_PREFIX = "sim-"


def role_of(request: LLMRequest) -> str:
    """The simulated model named `sim-<role>` plays that role; other names play request.role."""
    name = request.model.removeprefix(SIM_PREFIX)
    return name if request.model.startswith(SIM_PREFIX) and name in ROLES else request.role


def _text(request: LLMRequest, roles: tuple[str, ...] = ("system", "user")) -> str:
    return "\n\n".join(m.content or "" for m in request.messages if m.role in roles)


def _answer(request: LLMRequest) -> tuple[str | None, list[ToolCall]]:
    role, seed = role_of(request), request.seed
    mod = lambda name: importlib.import_module(f"inner_loop.sim.{name}")  # noqa: E731
    analyzer, challenger, implementer, judge, orchestrator, solver, verifier = (
        _Lazy(mod, n) for n in ("analyzer", "challenger", "implementer", "judge", "orchestrator", "solver", "verifier"))
    role, seed = role_of(request), request.seed
    if role == "orchestrator":
        tool, text = orchestrator.decide(request)
        calls = [ToolCall(id=f"call_{len(request.messages)}", name=tool, arguments="{}")] if tool else []
        return text, calls
    if role == "implementer":
        return implementer.step(request)
    if role == "challenger":
        return challenger.write_example(_text(request), seed, request.response_format == "json"), []
    if role == "verifier":
        return verifier.verify(_text(request), seed), []
    if role in ("weak_solver", "strong_solver"):
        return solver.answer(_text(request, ("user",)), role.split("_")[0], seed), []
    if role == "judge":
        return judge.judge(_text(request), seed), []
    if role == "analyzer":
        return analyzer.diagnose(_text(request), seed), []
    raise ValueError(f"the simulated world has no role {role!r}")


class _Lazy:
    """Imports a role's module on first use (a process that only judges never loads the memory)."""

    def __init__(self, loader, name):
        self._loader, self._name = loader, name

    def __getattr__(self, attr):
        return getattr(self._loader(self._name), attr)


def respond(request: LLMRequest) -> LLMResponse:
    content, calls = _answer(request)
    prompt_chars = sum(len(m.content or "") for m in request.messages)
    prompt_chars += len(json.dumps([t.model_dump() for t in request.tools or []]))
    out_chars = len(content or "") + sum(len(c.arguments) + len(c.name) for c in calls)
    return LLMResponse(
        content=content,
        tool_calls=calls,
        finish_reason="tool_calls" if calls else "stop",
        usage=Usage(input_tokens=max(1, prompt_chars // 4), output_tokens=max(1, out_chars // 4)),
        model=request.model,
        simulated=True,
    )


def backend(request: LLMRequest, role_config: RoleConfig) -> LLMResponse:
    """The `sim` backend (llm/backends.py; pyproject.toml registers it): `respond`."""
    del role_config  # the simulated world answers by the request alone
    return respond(request)
