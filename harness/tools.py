"""The orchestrator's tools. Each handler returns a JSON-serialisable result for the transcript."""

import json

from parse import parse_example

PAPER_CHARS = 60000  # this harness's own cut; the runtime's protected prompts cut at the same 60,000

TOOL_SPECS = [
    {"name": "call_challenger", "description": "Ask the challenger for a new example (earlier failures are included).",
     "parameters": {"type": "object", "properties": {}}},
    {"name": "call_verifier", "description": "Ask the quality verifier to check the current example.",
     "parameters": {"type": "object", "properties": {}}},
    {"name": "evaluate_weak", "description": "Run the weak solver on the current example and judge it.",
     "parameters": {"type": "object", "properties": {}}},
    {"name": "evaluate_strong", "description": "Run the strong solver on the current example and judge it.",
     "parameters": {"type": "object", "properties": {}}},
    {"name": "submit", "description": "Submit the current example for acceptance.",
     "parameters": {"type": "object", "properties": {}}},
]


class EpisodeState:
    def __init__(self, ctx):
        self.ctx = ctx
        self.example = None
        self.failures = {"TOO EASY": [], "FAILED ON STRONG": [], "FAILED QUALITY CHECK": []}
        self.done = False

    def fail(self, group, reason=""):
        question = (self.example or {}).get("question", "(no question)")
        self.failures[group].append(f"- Q: {question}" + (f" | {reason}" if reason else ""))
        self.example = None

    def feedback(self):
        if not any(self.failures.values()):
            return ""
        blocks = [f"{name}:\n" + "\n".join(items) for name, items in self.failures.items() if items]
        return self.ctx.prompt("refinement", failures="\n\n".join(blocks))


def call_challenger(state):
    paper = state.ctx.paper
    prompt = state.ctx.prompt("challenger", title=paper["title"], paper=paper["text"][:PAPER_CHARS],
                              feedback=state.feedback())
    reply = state.ctx.llm("challenger", [{"role": "user", "content": prompt}])
    if "error" in reply:
        return {"ok": False, "error": reply["error"]}
    example, error = parse_example(reply.get("content"))
    if error:
        state.fail("FAILED QUALITY CHECK", f"unparseable output: {error}")
        return {"ok": False, "error": error}
    state.example = example
    return {"ok": True, "question_type": example.get("question_type"), "question": example.get("question")}


def call_verifier(state):
    if state.example is None:
        return {"ok": False, "error": "no current example"}
    prompt = state.ctx.prompt("verifier", paper=state.ctx.paper["text"][:PAPER_CHARS],
                              example=json.dumps(state.example, indent=2))
    reply = state.ctx.llm("verifier", [{"role": "user", "content": prompt}])
    text = (reply.get("content") or "").strip()
    verdict = "PASS" if reply.get("verdict") == "PASS" else "FAIL"  # the runtime's reading
    if verdict == "FAIL":
        state.fail("FAILED QUALITY CHECK", " ".join(text.splitlines()[1:])[:300])
    return {"ok": True, "verdict": verdict, "feedback": text[:500]}


def evaluate(state, solver):
    if state.example is None:
        return {"ok": False, "error": "no current example"}
    result = state.ctx.evaluate(state.example, solver)
    if not result.get("ok"):
        state.fail("FAILED QUALITY CHECK", result.get("error", "invalid example"))
        return result
    if not result.get("passed"):
        state.fail("TOO EASY" if solver == "weak" else "FAILED ON STRONG")
    return {k: result.get(k) for k in ("ok", "passed", "avg", "max", "failed_rule")}


def submit(state):
    if state.example is None:
        return {"ok": False, "error": "no current example"}
    result = state.ctx.submit(state.example)
    if result.get("accepted"):
        state.done = True
    else:
        state.fail("FAILED QUALITY CHECK", result.get("reason", "rejected at submission"))
    return result


HANDLERS = {
    "call_challenger": call_challenger,
    "call_verifier": call_verifier,
    "evaluate_weak": lambda s: evaluate(s, "weak"),
    "evaluate_strong": lambda s: evaluate(s, "strong"),
    "submit": submit,
}


def run_tool(state, name):
    handler = HANDLERS.get(name)
    if handler is None:
        return {"ok": False, "error": f"unknown tool {name}"}
    return handler(state)
