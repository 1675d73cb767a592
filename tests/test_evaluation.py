"""Protected evaluation on the sim backend: solver samples, judge, scores, verdicts, and
infrastructure errors kept apart from quality failures. Also the protected prompt rendering."""

import pytest
from harness_fixtures import Calls

from inner_loop.thresholds import PRESETS, full_check, weak_check
from inner_loop.config import Config, load_config
from inner_loop.evaluation import InfrastructureError, evaluate_solver, judge_answer, summarise
from inner_loop.example import Example, RubricItem
from inner_loop.llm.client import LLMClient
from inner_loop.llm.types import BudgetExceeded
from inner_loop.prompting import PromptError, format_rubric, render
from inner_loop.scoring import mean, score

TH = PRESETS["deployed"]
REFERENCE = "Merging tokens at layer four keeps recall because SECRET-REFERENCE-MARKER."


def make_example() -> Example:
    return Example(
        question_type="mechanism",
        reasoning_skills=["causal reasoning", "quantitative estimation"],
        context="A vision transformer merges similar tokens between layers to save compute.",
        question="Why does merging tokens early in the network cost more accuracy than merging late?",
        reference_answer=REFERENCE,
        rubric=[
            RubricItem(criterion="Explains that early layers hold low-level features", weight=5),
            RubricItem(criterion="States that merged tokens lose spatial detail", weight=4),
            RubricItem(criterion="Mentions the compute saving grows with depth", weight=2),
            RubricItem(criterion="Claims that merging improves accuracy", weight=-3),
        ],
    )


def client_with(calls: Calls, config: Config | None = None) -> LLMClient:
    return LLMClient(config or Config(), recorder=calls)


def text_of(record) -> str:
    return "\n".join(m.get("content") or "" for m in record.messages)


# --- protected prompts ----------------------------------------------------------------------

def test_format_rubric_numbers_items_with_signed_weights():
    assert format_rubric(make_example().rubric).splitlines() == [
        "1. [weight +5] Explains that early layers hold low-level features",
        "2. [weight +4] States that merged tokens lose spatial detail",
        "3. [weight +2] Mentions the compute saving grows with depth",
        "4. [weight -3] Claims that merging improves accuracy",
    ]


def test_format_rubric_folds_newlines_inside_a_criterion():
    rubric = [{"criterion": "Names the\nmerge   schedule", "weight": 3, "category": "core"}]
    assert format_rubric(rubric) == "1. [weight +3] Names the merge schedule"


def test_render_rejects_missing_and_unknown_variables():
    with pytest.raises(PromptError, match="missing variables \\['question'\\]"):
        render("solver_user", context="c")
    with pytest.raises(PromptError, match="unknown variables \\['reference_answer'\\]"):
        render("solver_user", context="c", question="q", reference_answer="r")


def test_render_leaves_dollar_signs_in_values_alone():
    text = render("solver_user", context="costs $5", question="why $x?")
    assert "costs $5" in text and "why $x?" in text


# --- evaluate_solver on the sim -------------------------------------------------------------

LENIENT = PRESETS["deployed"].model_copy(update={  # nothing can settle a failure early
    "weak_avg_max": 1.0, "weak_max_max": None, "weak_no_zero": False})


def test_weak_evaluation_has_one_judged_sample_per_configured_sample():
    calls = Calls()
    cfg = load_config(overrides=["inner_loop.samples_per_solver=5"])
    ev = evaluate_solver(make_example(), "weak", client=client_with(calls, cfg), config=cfg,
                         thresholds=LENIENT, tag="t")
    assert [s.sample_index for s in ev.samples] == [0, 1, 2, 3, 4]
    assert sorted(r.sample_index for r in calls.of("weak_solver")) == [0, 1, 2, 3, 4]
    assert len(calls.of("judge")) == 5
    assert all(len(s.judgments) == 4 and s.judge_attempts == 1 for s in ev.samples)


def test_scores_follow_the_protected_formula_and_verdict_the_weak_rules():
    ex = make_example()
    ev = evaluate_solver(ex, "weak", client=client_with(Calls()), config=Config(),
                         thresholds=LENIENT)
    weights = [item.weight for item in ex.rubric]
    assert len(ev.samples) == 3
    assert ev.scores == [score(weights, s.judgments) for s in ev.samples]
    assert (ev.avg, ev.max, ev.min) == (mean(ev.scores), max(ev.scores), min(ev.scores))
    expected = weak_check(LENIENT, ev.scores)
    assert (ev.passed, ev.failed_rule) == (expected.passed, expected.failed_rule)


def test_strong_verdict_uses_the_full_rules_against_the_weak_scores():
    ex, client = make_example(), client_with(Calls())
    lenient = LENIENT.model_copy(update={"strong_avg_min": 0.0, "min_gap": -1.0})
    weak = evaluate_solver(ex, "weak", client=client, config=Config(), thresholds=lenient)
    strong = evaluate_solver(ex, "strong", client=client, config=Config(), thresholds=lenient,
                             weak_eval=weak)
    assert len(strong.samples) == 3
    expected = full_check(lenient, weak.scores, strong.scores)
    assert strong.solver == "strong"
    assert (strong.passed, strong.failed_rule) == (expected.passed, expected.failed_rule)


def test_strong_evaluation_without_weak_evaluation_is_a_bug():
    with pytest.raises(ValueError, match="weak solver"):
        evaluate_solver(make_example(), "strong", client=client_with(Calls()), config=Config(),
                        thresholds=TH)


def test_solver_sees_only_context_and_question():
    calls, ex = Calls(), make_example()
    evaluate_solver(ex, "weak", client=client_with(calls), config=Config(), thresholds=TH)
    for record in calls.of("weak_solver"):
        text = text_of(record)
        assert ex.context in text and ex.question in text
        assert "SECRET-REFERENCE-MARKER" not in text
        assert all(item.criterion not in text for item in ex.rubric)


def test_judge_sees_rubric_question_and_answer_but_never_the_reference():
    calls, ex = Calls(), make_example()
    ev = evaluate_solver(ex, "weak", client=client_with(calls), config=Config(), thresholds=TH)
    judged_texts = [text_of(r) for r in calls.of("judge")]
    for text in judged_texts:
        assert format_rubric(ex.rubric) in text and ex.question in text
        assert "SECRET-REFERENCE-MARKER" not in text
    for sample in ev.samples:
        assert any(sample.answer in text for text in judged_texts)


def test_same_seed_gives_the_same_evaluation():
    ex = make_example()
    a = evaluate_solver(ex, "weak", client=client_with(Calls()), config=Config(), thresholds=TH)
    b = evaluate_solver(ex, "weak", client=client_with(Calls()), config=Config(), thresholds=TH)
    assert a == b


# --- infrastructure errors are not quality failures -----------------------------------------

def test_failing_solver_endpoint_raises_infrastructure_error(monkeypatch):
    monkeypatch.delenv("AUTODATA_TEST_NO_SUCH_KEY", raising=False)
    cfg = load_config(overrides=[
        "roles.weak_solver.backend=openai",
        "roles.weak_solver.base_url=http://127.0.0.1:9/v1",
        "roles.weak_solver.model=some-model",
        "roles.weak_solver.api_key_env=AUTODATA_TEST_NO_SUCH_KEY",
    ])
    calls = Calls()
    with pytest.raises(InfrastructureError, match="weak evaluation") as info:
        evaluate_solver(make_example(), "weak", client=client_with(calls, cfg), config=cfg,
                        thresholds=TH)
    samples = info.value.samples  # drawn one by one: the first failure ends the evaluation
    assert len(samples) == 1 and len(calls.of("weak_solver")) == 1
    assert all("AUTODATA_TEST_NO_SUCH_KEY" in s.solver_error for s in samples)
    assert all(s.score is None for s in samples)
    assert calls.of("judge") == []


def test_summarise_refuses_samples_without_scores():
    ex = make_example()
    ev = evaluate_solver(ex, "weak", client=client_with(Calls()), config=Config(), thresholds=TH)
    broken = [ev.samples[0].model_copy(update={"score": None, "solver_error": "down"})]
    with pytest.raises(ValueError, match="every sample needs a score"):
        summarise("weak", broken, TH)


def test_judge_without_parseable_reply_is_reasked_then_an_infrastructure_error():
    # the judge role served by a model that answers in prose: no reply ever parses
    cfg = load_config(overrides=["roles.judge.model=sim-weak_solver"])
    calls = Calls()
    with pytest.raises(InfrastructureError) as info:
        evaluate_solver(make_example(), "weak", client=client_with(calls, cfg), config=cfg,
                        thresholds=TH)
    samples = info.value.samples
    assert all(s.judge_attempts == 4 and "no parseable reply" in s.judge_error for s in samples)
    assert len(samples) == 1 and samples[0].answer and samples[0].solver_error is None
    assert len(calls.of("judge")) == 4
    assert {r.sample_index for r in calls.of("judge")} == {0, 101, 102, 103}


def test_spent_budget_stops_the_evaluation_and_is_not_an_infrastructure_error():
    cfg = load_config(overrides=["budget.max_calls=2"])
    with pytest.raises(BudgetExceeded):
        evaluate_solver(make_example(), "weak", client=client_with(Calls(), cfg), config=cfg,
                        thresholds=TH)
