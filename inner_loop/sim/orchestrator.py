"""The simulated orchestrator: a tool-calling agent that follows its prompt's procedure.

It reads the tools it was given and the transcript so far (the harness's tool results, JSON) and
picks the next tool: challenger -> (verifier, if its procedure says to verify first) -> weak ->
strong -> submit, back to the challenger after any failure, and stops when the round limit its
prompt states is reached or the example was accepted.
"""

from __future__ import annotations

import json

from inner_loop.llm.types import LLMRequest, Message
from inner_loop.sim.lexicon import features, stated_rounds

NEXT_AFTER_SUCCESS = {"call_challenger": "call_verifier", "call_verifier": "evaluate_weak",
                      "evaluate_weak": "evaluate_strong", "evaluate_strong": "submit"}


def _tool_result(msg: Message) -> dict:
    try:
        data = json.loads(msg.content or "{}")
    except (json.JSONDecodeError, RecursionError):  # a harness's tool result is any text
        return {}
    return data if isinstance(data, dict) else {}


def _succeeded(name: str, result: dict) -> bool:
    if result.get("ok") is False or "error" in result:
        return False
    if name == "call_verifier":
        return str(result.get("verdict", "")).upper() == "PASS"
    if name in ("evaluate_weak", "evaluate_strong"):
        return bool(result.get("passed"))
    if name == "submit":
        return bool(result.get("accepted"))
    return True


def decide(request: LLMRequest) -> tuple[str | None, str]:
    """(tool to call or None to stop, the assistant's text)."""
    system = "\n".join(m.content or "" for m in request.messages if m.role == "system")
    tools = {t.name for t in request.tools or []}
    verify_first = "verify_first" in features(system, "orchestrator") and "call_verifier" in tools
    limit = stated_rounds(system, "orchestrator")
    calls = {c.id: c.name for m in request.messages if m.role == "assistant" for c in m.tool_calls or []}
    results = [(calls.get(m.tool_call_id or ""), _tool_result(m)) for m in request.messages if m.role == "tool"]
    rounds = sum(1 for name, _ in results if name == "call_challenger")
    if not results:
        return "call_challenger", "Starting round 1: asking the challenger for an example."
    name, result = results[-1]
    if name == "submit" and _succeeded(name, result):
        return None, "The example was accepted. Done."
    if name in NEXT_AFTER_SUCCESS and _succeeded(name, result):
        nxt = NEXT_AFTER_SUCCESS[name]
        if nxt == "call_verifier" and not verify_first:
            nxt = "evaluate_weak"
        if nxt in tools:
            return nxt, f"{name} succeeded; next: {nxt}."
    if limit is not None and rounds >= limit:
        return None, f"Stopping: the {limit}-round limit in my instructions is reached."
    return "call_challenger", f"{name} did not succeed; asking the challenger for a new example (round {rounds + 1})."
