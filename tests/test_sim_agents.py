"""The simulated analyzer and implementer read what they are given: different logs give
different diagnoses, and the edit follows the diagnosis and the file it reads."""

import json

from evolve.transcripts import render_transcripts
from inner_loop.episode import EpisodeRecord, RoundRecord
from inner_loop.example import Example
from inner_loop.llm.types import LLMRequest, Message, ToolCall
from inner_loop.sim import analyzer, edits, implementer, respond

REF = "The encoder uses sparse attention over 512 tokens to cut memory by 40 percent on long inputs."


def example(context: str, weights=(5, 4, -3)) -> Example:
    rubric = [{"criterion": f"States item {i}", "weight": w, "category": "c"} for i, w in enumerate(weights)]
    return Example(question_type="mechanism", reasoning_skills=["a", "b"], context=context,
                   question="Why is the encoder efficient?", reference_answer=REF, rubric=rubric)


def diagnose(rounds: list[RoundRecord]) -> dict:
    record = EpisodeRecord(paper_id="p", paper_title="T", method="agentic", preset="deployed",
                           thresholds={}, max_rounds=6, status="exhausted", rounds=rounds)
    text = f"## Transcripts\n{render_transcripts([record])}\n\n## History\n(none)\n\n## Harness files\n"
    return json.loads(analyzer.diagnose(text, seed=1))


def test_leaked_contexts_are_diagnosed_as_leaks_and_generic_ones_as_too_general():
    leaked = [RoundRecord(index=i, example=example("Setting. " + REF), outcome="too_easy") for i in (1, 2, 3)]
    plain = [RoundRecord(index=i, example=example("An unrelated setting about graphs."), outcome="too_easy")
             for i in (1, 2, 3)]
    def ideas(rounds):
        return [h["change"] for h in diagnose(rounds)["hypotheses"]]
    assert analyzer.IDEAS["leak"][2] in ideas(leaked) and analyzer.IDEAS["generic"][2] not in ideas(leaked)
    assert analyzer.IDEAS["generic"][2] in ideas(plain) and analyzer.IDEAS["leak"][2] not in ideas(plain)


def test_replies_wrapped_in_prose_are_diagnosed_as_a_json_problem():
    rounds = [RoundRecord(index=i, challenger_raw="Here is the example:\n{}", outcome="abandoned") for i in (1, 2)]
    assert diagnose(rounds)["hypotheses"][0]["category"] == "parse_error"


def implementer_request(diagnosis: dict, messages_after: list[Message], seed: int) -> LLMRequest:
    user = Message(role="user", content=f"## Diagnosis\n{json.dumps(diagnosis)}\n\n## Editable globs\n*.md\n\n## History\n(none)")
    return LLMRequest(role="implementer", model="sim-implementer", seed=seed, messages=[user, *messages_after])


def faithful_seed(diagnosis: dict) -> int:
    return next(s for s in range(200) if implementer._disposition(s, diagnosis) == "faithful")


def test_a_faithful_implementer_reads_the_target_then_writes_the_diagnosed_change():
    diagnosis = {"hypotheses": [{"category": "too_easy", "target": "prompts/challenger.md",
                                 "change": analyzer.IDEAS["generic"][2], "confidence": 0.8}]}
    seed = faithful_seed(diagnosis)
    first = respond(implementer_request(diagnosis, [], seed)).tool_calls[0]
    assert (first.name, json.loads(first.arguments)["path"]) == ("read_file", "prompts/challenger.md")
    content = "Write one example.\n\n<paper>\n$paper\n</paper>\n"
    read = [Message(role="assistant", tool_calls=[ToolCall(id="c1", name="read_file", arguments=first.arguments)]),
            Message(role="tool", tool_call_id="c1", content=json.dumps({"ok": True, "path": "prompts/challenger.md", "content": content}))]
    write = respond(implementer_request(diagnosis, read, seed)).tool_calls[0]
    args = json.loads(write.arguments)
    assert write.name == "write_file" and edits.SELF_TEST in args["content"] and "$paper" in args["content"]


def test_an_idea_already_in_the_file_moves_the_implementer_to_the_next_hypothesis():
    diagnosis = {"hypotheses": [
        {"category": "too_easy", "target": "prompts/challenger.md", "change": analyzer.IDEAS["generic"][2], "confidence": 0.8},
        {"category": "parse_error", "target": "prompts/challenger.md", "change": analyzer.IDEAS["json"][2], "confidence": 0.5}]}
    seed = faithful_seed(diagnosis)
    content = f"{edits.SELF_TEST}\n\n<paper>\n$paper\n</paper>\n"
    read = [Message(role="assistant", tool_calls=[ToolCall(id="c1", name="read_file", arguments='{"path": "prompts/challenger.md"}')]),
            Message(role="tool", tool_call_id="c1", content=json.dumps({"ok": True, "path": "prompts/challenger.md", "content": content}))]
    write = respond(implementer_request(diagnosis, read, seed)).tool_calls[0]
    assert edits.JSON_RULE in json.loads(write.arguments)["content"]
