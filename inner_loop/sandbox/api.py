"""`ctx`: the only way out of the sandbox for harness code (see harness/README.md).

Every method is one RPC request to the trusted parent, which decides and records everything.
Nothing here is trusted: a harness can call the pipe directly, and the parent assumes it will.
Stdlib only: this module is imported inside the sandboxed child.
"""

from __future__ import annotations

import string

from inner_loop.sandbox.rpc import ChildChannel

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: the child must not pay for importing typing
if TYPE_CHECKING:
    from typing import Any


class Context:
    """What `run_episode(ctx)` gets: the paper, the round budget, prompts, models, evaluation."""

    def __init__(self, channel: ChildChannel, init: dict):
        self._channel = channel
        self._prompts: dict[str, dict] = init["prompts"]
        self.paper: dict = init["paper"]
        self.max_rounds: int = init["max_rounds"]

    def prompt(self, name: str, **variables: Any) -> str:
        """Render prompt `name` of the manifest with strict `string.Template.substitute`."""
        if name not in self._prompts:
            raise KeyError(f"unknown prompt {name!r}; declared: {sorted(self._prompts)}")
        spec = self._prompts[name]
        unknown = sorted(set(variables) - set(spec["variables"]))
        if unknown:
            raise KeyError(f"prompt {name!r}: undeclared variables {unknown}")
        return string.Template(spec["text"]).substitute({k: str(v) for k, v in variables.items()})

    def llm(self, role: str, messages: list[dict], tools: list[dict] | None = None,
            response_format: str = "text") -> dict:
        """One model call for orchestrator, challenger or verifier.

        Returns {"content": str|None, "tool_calls": [{"id","name","arguments"}]} or {"error": str}.
        Each challenger call starts a new round; calls beyond `max_rounds` are refused."""
        return self._channel.call("llm", role=role, messages=messages, tools=tools,
                                  response_format=response_format)

    def evaluate(self, example: dict | str, solver: str) -> dict:
        """Run the protected `solver` ("weak" or "strong") ×N and the judge on `example`."""
        return self._channel.call("evaluate", example=example, solver=solver)

    def submit(self, example: dict | str) -> dict:
        """Ask the runtime to accept `example`: {"accepted": true} ends the episode."""
        return self._channel.call("submit", example=example)

    def log(self, text: str) -> None:
        """A note in the episode transcript."""
        self._channel.call("log", text=str(text))
