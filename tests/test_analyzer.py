"""The analyzer: its message format, parsing the reply at the edge, and a real (simulated) call."""

from __future__ import annotations

import json

import pytest

from inner_loop.config import load_config
from inner_loop.episode import EpisodeRecord, RoundRecord
from inner_loop.evaluation import JudgedSample, SolverEval
from inner_loop.example import Example, RubricItem
from inner_loop.llm.client import LLMClient
from evolve.analyzer import (
    Diagnosis, DiagnosisUnparseable, analyzer_messages, history_line, parse_diagnosis,
    run_analyzer,
)

GOOD = {"summary": "too easy", "failure_counts": {"too_easy": 3},
        "evidence": [{"paper_id": "p1", "round": 1, "quote": "q"}],
        "hypotheses": [{"category": "too_easy", "target": "prompts/challenger.md",
                        "change": "ask for paper-specific details", "confidence": 0.7}]}
FILES = [("agent.py", True), ("harness.toml", False), ("prompts/challenger.md", True)]


def weak(scores: list[float]) -> SolverEval:
    return SolverEval(solver="weak", scores=scores, avg=sum(scores) / len(scores),
                      max=max(scores), min=min(scores), passed=False,
                      samples=[JudgedSample(sample_index=i, answer="generic answer", score=s)
                               for i, s in enumerate(scores)])


def episode(paper_id: str, outcome: str, n_rounds: int, context: str = "Setting.") -> EpisodeRecord:
    ex = Example(question_type="why", context=context, question="Why does it work?",
                 reference_answer="Because the ablation shows a 4.2 point drop.",
                 rubric=[RubricItem(criterion="mentions the 4.2 point drop", weight=5)])
    rounds = [RoundRecord(index=i + 1, example=ex, outcome=outcome, weak=weak([0.9, 0.8, 0.85]),
                          failed_rule="weak_avg" if outcome == "too_easy" else None,
                          verifier_verdict="PASS", verifier_feedback="ok")
              for i in range(n_rounds)]
    return EpisodeRecord(paper_id=paper_id, paper_title="T", method="agentic", preset="deployed",
                         thresholds={}, max_rounds=6, status="exhausted", rounds=rounds)


def test_user_message_has_the_three_sections_in_order():
    msgs = analyzer_messages("### Episode p1 (status=exhausted, rounds=0)", [], FILES)
    assert [m.role for m in msgs] == ["system", "user"]
    assert msgs[1].content == ("## Transcripts\n### Episode p1 (status=exhausted, rounds=0)\n\n"
                               "## History\n(none)\n\n## Harness files\nagent.py (editable)\n"
                               "harness.toml (protected)\nprompts/challenger.md (editable)")


def test_system_prompt_is_the_protected_evolve_prompt():
    assert "analyzer" in analyzer_messages("", [], FILES)[0].content.lower()


def test_history_line_format():
    assert history_line(3, "seed", "rejected", "added a\nself-test", 0.25, 0.2) == \
        "- iteration 3 (parent seed): rejected — added a self-test (validation 0.25 -> 0.20)"
    assert history_line(4, "c1", "invalid", "x", 0.5, None).endswith("(validation 0.50 -> -)")


def test_history_lines_go_into_the_message():
    line = history_line(1, "seed", "accepted", "s", 0.1, 0.3)
    assert f"## History\n{line}\n\n## Harness files" in analyzer_messages("t", [line], FILES)[1].content


def test_parse_plain_json():
    assert parse_diagnosis(json.dumps(GOOD)) == Diagnosis.model_validate(GOOD)


def test_parse_fenced_json_with_prose():
    text = f"Here is my analysis.\n```json\n{json.dumps(GOOD)}\n```\nDone."
    assert parse_diagnosis(text).summary == "too easy"


@pytest.mark.parametrize("text,needle", [
    ("I think the challenger is weak.", "no JSON object"),
    ('{"summary": "x",', "never closed"),
    (json.dumps({**GOOD, "hypotheses": [{**GOOD["hypotheses"][0], "confidence": 3}]}),
     "confidence"),
    (json.dumps({**GOOD, "mood": "sad"}), "mood"),
    (json.dumps({"failure_counts": {}}), "summary"),
    (None, "empty reply"),
])
def test_unparseable_reply_raises_with_a_one_line_reason(text, needle):
    with pytest.raises(DiagnosisUnparseable) as err:
        parse_diagnosis(text)
    assert err.value.reason.startswith("analyzer: unparseable diagnosis (")
    assert needle in err.value.reason and "\n" not in err.value.reason


def test_simulated_analyzer_reads_the_transcripts():
    client = LLMClient(load_config())
    too_easy = run_analyzer(client, [episode("p1", "too_easy", 3), episode("p2", "too_easy", 2)],
                            [], FILES)
    parse = run_analyzer(client, [episode("p1", "parse_error", 2)], [], FILES)
    assert too_easy.failure_counts == {"too_easy": 5}
    assert parse.failure_counts == {"parse_error": 2}
    assert too_easy.hypotheses and too_easy.hypotheses[0].target in {p for p, _ in FILES}
    assert too_easy.model_dump() != parse.model_dump()
    assert {e.paper_id for e in too_easy.evidence} <= {"p1", "p2"}


def test_a_model_that_does_not_answer_in_json_is_an_unparseable_diagnosis():
    config = load_config(None, ['roles.analyzer.model="sim-weak_solver"'])
    with pytest.raises(DiagnosisUnparseable):
        run_analyzer(LLMClient(config), [episode("p1", "too_easy", 1)], [], FILES)
