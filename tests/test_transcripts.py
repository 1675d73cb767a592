"""render_transcripts: the exact text format the analyzer (and the simulated analyzer) parses."""

from __future__ import annotations

import json

from inner_loop.episode import EpisodeRecord, RoundRecord
from inner_loop.evaluation import JudgedSample, SolverEval
from inner_loop.example import Example, RubricItem
from evolve.transcripts import render_transcripts


def solver(kind: str, scores: list[float], answer: str = "an answer") -> SolverEval:
    samples = [JudgedSample(sample_index=i, answer=answer, judgments=[True], score=s)
               for i, s in enumerate(scores)]
    return SolverEval(solver=kind, samples=samples, scores=scores, avg=sum(scores) / len(scores),
                      max=max(scores), min=min(scores), passed=False)


def example(question: str = "Why does the method\nwork?") -> Example:
    return Example(question_type="causal", reasoning_skills=["a", "b"],
                   context="Setting the scene.\nSecond line.", question=question,
                   reference_answer="Because of X.",
                   rubric=[RubricItem(criterion="mentions X", weight=5, category="core")])


def record(paper_id: str, rounds: list[RoundRecord], status: str = "exhausted") -> EpisodeRecord:
    return EpisodeRecord(paper_id=paper_id, paper_title="T", method="agentic", preset="deployed",
                         thresholds={}, max_rounds=6, status=status, rounds=rounds)


def test_round_lines_follow_the_format():
    rnd = RoundRecord(index=1, example=example(), outcome="too_easy", failed_rule="weak_avg",
                      verifier_verdict="PASS", verifier_feedback="fine\nall good",
                      weak=solver("weak", [0.9, 0.8, 1.0], "w" * 400))
    text = render_transcripts([record("p1", [rnd])])
    lines = text.splitlines()
    assert lines[0] == "### Episode p1 (status=exhausted, rounds=1)"
    assert lines[1] == ("#### Round 1: outcome=too_easy failed_rule=weak_avg weak_avg=0.90 "
                        "strong_avg=-")
    assert lines[2] == "question_type: causal"
    assert lines[3] == "context: Setting the scene. Second line."
    assert lines[4] == "question: Why does the method work?"
    assert lines[5] == "reference_answer: Because of X."
    assert lines[6].startswith("rubric: ")
    assert json.loads(lines[6][len("rubric: "):]) == [
        {"criterion": "mentions X", "weight": 5, "category": "core"}]
    assert lines[7] == "verifier: PASS fine all good"
    assert lines[8] == "parse_error: -"
    assert lines[9] == "reason: -"
    assert lines[10] == "challenger_reply: -"
    assert lines[11] == "weak_answer: " + "w" * 300
    assert len(lines) == 12


def test_parse_error_round_without_example_uses_dashes():
    rnd = RoundRecord(index=2, challenger_raw="{bad", parse_error="invalid JSON: x",
                      outcome="parse_error")
    lines = render_transcripts([record("p2", [rnd])]).splitlines()
    assert lines[1] == "#### Round 2: outcome=parse_error failed_rule=- weak_avg=- strong_avg=-"
    assert lines[2:7] == ["question_type: -", "context: -", "question: -",
                          "reference_answer: -", "rubric: -"]
    assert lines[7] == "verifier: - -"
    assert lines[8] == "parse_error: invalid JSON: x"
    assert lines[9] == "reason: -"
    assert lines[10] == "challenger_reply: {bad"
    assert lines[11] == "weak_answer: -"


def test_an_abandoned_rounds_reply_head_shows_why_the_harness_dropped_it():
    rnd = RoundRecord(index=1, challenger_raw="Here is the example I wrote:\n{...}", outcome="abandoned",
                      reason="the example parsed but was never evaluated")
    lines = render_transcripts([record("p4", [rnd])]).splitlines()
    assert "reason: the example parsed but was never evaluated" in lines
    assert "challenger_reply: Here is the example I wrote: {...}" in lines


def test_strong_average_is_shown_when_the_strong_solver_ran():
    rnd = RoundRecord(index=1, example=example(), outcome="failed_on_strong",
                      failed_rule="strong_avg_min", weak=solver("weak", [0.1, 0.2, 0.3]),
                      strong=solver("strong", [0.5, 0.4, 0.3]))
    head = render_transcripts([record("p3", [rnd])]).splitlines()[1]
    assert head.endswith("weak_avg=0.20 strong_avg=0.40")


def test_episodes_are_separated_and_in_order():
    recs = [record(f"p{i}", [RoundRecord(index=1, outcome="abandoned")]) for i in range(3)]
    text = render_transcripts(recs)
    heads = [ln for ln in text.splitlines() if ln.startswith("### Episode")]
    assert heads == [f"### Episode p{i} (status=exhausted, rounds=1)" for i in range(3)]


def test_truncation_drops_whole_episodes_and_names_them():
    long_rounds = [RoundRecord(index=i, example=example("q" * 2000), outcome="too_easy")
                   for i in range(1, 6)]
    short = [RoundRecord(index=1, example=example(), outcome="too_easy")]
    recs = [record("long", long_rounds), record("s1", short), record("s2", short)]
    text = render_transcripts(recs, max_chars=3000)
    assert "### Episode s1" in text and "### Episode s2" in text
    assert "### Episode long" not in text and "q" * 2000 not in text
    assert text.splitlines()[-1] == "(omitted 1 longer episode(s) to fit: long)"
    assert len(text) <= 3000 + 100
    full = render_transcripts(recs)
    assert "omitted" not in full and "### Episode long" in full
