"""The orchestrator agent loop: a tool-calling agent that drives one episode for one paper."""

import json

from tools import TOOL_SPECS, EpisodeState, run_tool

STEPS_PER_ROUND = 6


def run_episode(ctx):
    state = EpisodeState(ctx)
    title = ctx.paper["title"]
    messages = [
        {"role": "system", "content": ctx.prompt("orchestrator", title=title, max_rounds=str(ctx.max_rounds))},
        {"role": "user", "content": f"Paper: {title}\nProduce one accepted example for this paper."},
    ]
    for _ in range(ctx.max_rounds * STEPS_PER_ROUND):
        reply = ctx.llm("orchestrator", messages, tools=TOOL_SPECS)
        if "error" in reply:
            ctx.log(f"orchestrator error: {reply['error']}")
            return
        calls = reply.get("tool_calls") or []
        messages.append({"role": "assistant", "content": reply.get("content"), "tool_calls": calls or None})
        if not calls:
            ctx.log(f"orchestrator stopped: {reply.get('content')}")
            return
        for call in calls:
            result = run_tool(state, call["name"])
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": json.dumps(result)})
            if state.done:
                return
