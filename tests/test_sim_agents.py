"""The simulated analyzer and implementer read what they are given: different logs give
different diagnoses, and the edit follows the diagnosis and the file it reads."""

import json

from evolve.transcripts import render_transcripts
from inner_loop.episode import EpisodeRecord, RoundRecord
from inner_loop.example import Example
from inner_loop.llm.types import LLMRequest, Message, ToolCall
from inner_loop.generate import default_harness_dir
from inner_loop.sim import analyzer, edits, implementer, respond

REF = "The encoder uses sparse attention over 512 tokens to cut memory by 40 percent on long inputs."


def example(context: str, weights=(5, 4, -3)) -> Example:
    rubric = [{"criterion": f"States item {i}", "weight": w, "category": "c"} for i, w in enumerate(weights)]
    return Example(question_type="mechanism", reasoning_skills=["a", "b"], context=context,
                   question="Why is the encoder efficient?", reference_answer=REF, rubric=rubric)


def diagnose(rounds: list[RoundRecord], seed: int = 1) -> dict:
    record = EpisodeRecord(paper_id="p", paper_title="T", method="agentic", preset="deployed",
                           thresholds={}, max_rounds=6, status="exhausted", rounds=rounds)
    text = f"## Transcripts\n{render_transcripts([record])}\n\n## History\n(none)\n\n## Harness files\n"
    return json.loads(analyzer.diagnose(text, seed=seed))


def test_leaked_contexts_are_diagnosed_as_leaks_and_generic_ones_as_too_general():
    leaked = [RoundRecord(index=i, example=example("Setting. " + REF), outcome="too_easy") for i in (1, 2, 3)]
    plain = [RoundRecord(index=i, example=example("An unrelated setting about graphs."), outcome="too_easy")
             for i in (1, 2, 3)]
    def causes(rounds, seed=1):
        return [h["change"].split(" point to ")[1].split(";")[0].split(".")[0] for h in diagnose(rounds, seed)["hypotheses"]]
    assert "leak" in causes(leaked) and "generic" not in causes(leaked)
    assert "generic" in causes(plain) and "leak" not in causes(plain)
    assert sum(causes(leaked, s)[0] == "leak" for s in range(20)) >= 15  # misranked now and then


def test_hypotheses_quote_the_evidence_they_come_from():
    """The change names the failing rounds' papers and numbers, and quotes the question."""
    rounds = [RoundRecord(index=i, example=example("Setting. " + REF), outcome="too_easy") for i in (1, 2, 3)]
    change = diagnose(rounds)["hypotheses"][0]["change"]
    change = next(h["change"] for h in diagnose(rounds)["hypotheses"] if " point to leak" in h["change"])
    assert change.startswith("Evidence: 3 of 3 failed rounds (p) point to leak")
    assert '"Why is the encoder efficient?"' in change and "Change: " in change


def test_replies_wrapped_in_prose_are_diagnosed_as_a_json_problem():
    rounds = [RoundRecord(index=i, challenger_raw="Here is the example:\n{}", outcome="abandoned") for i in (1, 2)]
    assert diagnose(rounds)["hypotheses"][0]["category"] == "parse_error"


def implementer_request(diagnosis: dict, messages_after: list[Message], seed: int) -> LLMRequest:
    user = Message(role="user", content=f"## Diagnosis\n{json.dumps(diagnosis)}\n\n## Editable globs\n*.md\n\n## History\n(none)")
    return LLMRequest(role="implementer", model="sim-implementer", seed=seed, messages=[user, *messages_after])


def faithful_seed(diagnosis: dict) -> int:
    return next(s for s in range(200) if implementer._disposition(s, diagnosis) == "faithful")


def read_messages(path: str, content: str) -> list[Message]:
    return [Message(role="assistant", tool_calls=[ToolCall(id="c1", name="read_file", arguments=json.dumps({"path": path}))]),
            Message(role="tool", tool_call_id="c1", content=json.dumps({"ok": True, "path": path, "content": content}))]


SELF_TEST_CHANGE = ("Evidence: 5 of 9 failed rounds (p) point to generic. Change: add a paper-specific self-test: ask "
                    "whether a strong model could answer the question without reading this paper, and if so replace it.")


def test_a_faithful_implementer_reads_the_target_then_writes_the_diagnosed_change():
    diagnosis = {"hypotheses": [{"category": "too_easy", "target": "prompts/challenger.md",
                                 "change": SELF_TEST_CHANGE, "confidence": 0.8}]}
    seed = faithful_seed(diagnosis)
    first = respond(implementer_request(diagnosis, [], seed)).tool_calls[0]
    assert (first.name, json.loads(first.arguments)["path"]) == ("read_file", "prompts/challenger.md")
    content = "Write one example.\n\n<paper>\n$paper\n</paper>\n"
    write = respond(implementer_request(diagnosis, read_messages("prompts/challenger.md", content), seed)).tool_calls[0]
    args = json.loads(write.arguments)
    assert write.name == "write_file" and "$paper" in args["content"]
    assert "self_test" in edits.read_settings(args["content"].split("<paper>")[0]).switches or \
        any(args["content"].startswith("Write one example.\n\n" + h) for h in edits.w.HEDGED)


def test_an_idea_already_in_the_file_moves_the_implementer_to_the_next_hypothesis():
    diagnosis = {"hypotheses": [
        {"category": "too_easy", "target": "prompts/challenger.md", "change": SELF_TEST_CHANGE, "confidence": 0.8},
        {"category": "parse_error", "target": "prompts/challenger.md",
         "change": "Change: reply with only the JSON object, no trailing commas.", "confidence": 0.5}]}
    seed = faithful_seed(diagnosis)
    content = f"{edits.w.SENTENCES['self_test'][3]}\n\n<paper>\n$paper\n</paper>\n"  # another wording, same idea
    write = respond(implementer_request(diagnosis, read_messages("prompts/challenger.md", content), seed)).tool_calls[0]
    new = json.loads(write.arguments)["content"]
    assert "json" in new.lower()
    assert new.count("capable model could answer") == 1


def test_edits_draw_varied_parameters_and_wording_from_one_hypothesis():
    """Many implementer seeds on one rubric hypothesis: several caps, several wordings, all read back
    by the world as what they say."""
    change = "Evidence: 6 of 9 failed rounds (p) point to negatives. Change: use only positive weights, integers from 1 to 6; no negative items."
    diagnosis = {"hypotheses": [{"category": "failed_on_strong", "target": "prompts/challenger.md", "change": change, "confidence": 0.6}]}
    seed_text = (default_harness_dir() / "prompts" / "challenger.md").read_text()
    outs = []
    for seed in range(40):
        plan = edits.plan(diagnosis, "faithful", {"prompts/challenger.md": seed_text}, seed)
        outs.append(plan.edits[0][1](seed_text))
    caps = {edits._meaning(o).cap for o in outs}
    blocks = {next(line for line in o.splitlines() if "rubric" in line.lower() and ";" in line) for o in outs}
    assert len(caps) >= 3 and 6 in caps and len(blocks) >= 8


def test_a_proposed_cap_comes_from_the_weights_the_rounds_show():
    """The analyzer proposes a cap below the largest weight it saw (7 here), never a fixed number."""
    rounds = [RoundRecord(index=i, example=example("An unrelated setting.", weights=(7, 6, -4)), outcome="failed_on_strong")
              for i in (1, 2, 3)]
    for seed in range(6):
        hyp = next(h for h in diagnose(rounds, seed)["hypotheses"] if " point to negatives" in h["change"])
        assert "largest weight 7" in hyp["change"]
        cap = edits.read_settings(hyp["change"].split("Change:")[1]).cap
        assert cap is None or 2 <= cap < 7
