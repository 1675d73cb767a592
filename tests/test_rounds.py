"""The round rules (inner_loop/rounds.py): near-duplicates and the evaluation budget, on the real
dispatcher with the sim behind it (real solver and judge calls, counted by the client)."""

from __future__ import annotations

from pathlib import Path

import pytest

from inner_loop.config import load_config
from inner_loop.dispatch import Dispatcher
from inner_loop.example import Example
from inner_loop.llm.client import LLMClient
from inner_loop.papers import Paper, select_papers
from inner_loop.rounds import example_key, normalise
from inner_loop.llm.episode_client import EpisodeClient

SEED = Path(__file__).resolve().parents[1] / "harness"


@pytest.fixture(scope="module")
def paper() -> Paper:
    return select_papers(subset="validation", limit=1)[0]


def _dispatcher(paper: Paper, *sets: str) -> Dispatcher:
    config = load_config(None, list(sets))
    return Dispatcher(paper, config=config, client=EpisodeClient(LLMClient(config), "test"))


def _call(d: Dispatcher, op: str, **args: object) -> dict:
    return d.dispatch({"id": 1, "op": op, "args": args})


def _challenge(d: Dispatcher, paper: Paper) -> dict:
    text = (SEED / "prompts" / "challenger.md").read_text()
    prompt = text.replace("$title", paper.title).replace("$paper", paper.full_text[:20000]) \
        .replace("$feedback", "")
    return _call(d, "llm", role="challenger", messages=[{"role": "user", "content": prompt}])


def _example(paper: Paper, n: int = 0) -> dict:
    """A paper-grounded example written by hand (the harness's own, no challenger call)."""
    facts = [s for s in paper.full_text.split(". ") if len(s.split()) > 12][n: n + 3]
    return {"question_type": "mechanism", "reasoning_skills": ["causal reasoning"],
            "context": f"This concerns {paper.title}.",
            "question": f"Why does the paper report what it does (part {n + 1})?",
            "reference_answer": ". ".join(facts) + ".",
            "rubric": [{"criterion": f"States that {' '.join(f.split()[:14])}", "weight": 5 + i}
                       for i, f in enumerate(facts)]}


def _near_duplicates(example: dict) -> list[dict]:
    rubric = example["rubric"]
    return [
        {**example, "question": example["question"] + "?"},
        {**example, "question": "  " + example["question"].upper() + " \u200b\n"},
        {**example, "context": example["context"].replace(" ", "\t  ") + " ..."},
        {**example, "reference_answer": example["reference_answer"].lower().rstrip(".") + "!!"},
        {**example, "rubric": list(reversed(rubric))},
        {**example, "rubric": [{**i, "criterion": i["criterion"] + ".", "category": "x"}
                               for i in rubric]},
        {**example, "question_type": "comparison", "reasoning_skills": ["other", "skills"]},
    ]


def test_normalise_folds_whitespace_punctuation_case_and_unicode_forms() -> None:
    assert normalise("  Why,\tDOES it\u00a0fail?!\n") == "why does it fail"
    assert normalise("\uff37hy") == normalise("why")  # full-width letters (NFKC)
    assert normalise("zero\u200bwidth") == "zero width"


def test_near_duplicates_share_a_key_and_real_edits_do_not(paper: Paper) -> None:
    example = _example(paper)
    key = example_key(Example.model_validate(example))
    for dup in _near_duplicates(example):
        assert example_key(Example.model_validate(dup)) == key, dup
    changed = [{**example, "question": example["question"].replace("Why", "How")},
               {**example, "rubric": [{**example["rubric"][0], "weight": 1}] + example["rubric"][1:]},
               {**example, "context": example["context"] + " Extra"}]
    for other in changed:
        assert example_key(Example.model_validate(other)) != key


def test_a_near_duplicate_gets_the_recorded_result_never_new_samples(paper: Paper) -> None:
    d = _dispatcher(paper)
    example = _example(paper)
    first = _call(d, "evaluate", example=example, solver="weak")
    assert first["ok"] is True
    calls = d.client.usage["weak_solver"].calls + d.client.usage["judge"].calls
    for dup in _near_duplicates(example):
        assert _call(d, "evaluate", example=dup, solver="weak") == first
        assert d.transcript[-1]["repeat"] is True and d.transcript[-1]["round"] == 1
    assert d.client.usage["weak_solver"].calls + d.client.usage["judge"].calls == calls
    assert len(d.rounds) == 1 and d.rounds[0].example == Example.model_validate(example)


def test_each_evaluation_of_a_new_example_is_a_round(paper: Paper) -> None:
    d = _dispatcher(paper, "inner_loop.max_rounds=2")
    assert _call(d, "evaluate", example=_example(paper, 0), solver="weak")["ok"]
    assert _call(d, "evaluate", example=_example(paper, 3), solver="weak")["ok"]
    assert [r.index for r in d.rounds] == [1, 2]
    assert all(r.challenger_raw is None and r.weak is not None for r in d.rounds)
    samples = d.client.usage["weak_solver"].calls
    refused = _call(d, "evaluate", example=_example(paper, 6), solver="weak")
    assert refused["ok"] is False and refused["error"].startswith("round budget spent")
    assert d.client.usage["weak_solver"].calls == samples and len(d.rounds) == 2
    assert _challenge(d, paper)["error"].startswith("round budget spent")


def test_one_round_allows_one_evaluated_example(paper: Paper) -> None:
    """The review's fishing: with max_rounds=1, 13 weak evaluations fitted in one round."""
    d = _dispatcher(paper, "inner_loop.max_rounds=1")
    _challenge(d, paper)
    replies = [_call(d, "evaluate", example=_example(paper, 2 * i), solver="weak")
               for i in range(13)]
    assert replies[0]["ok"] is True  # the harness's own example fills the challenger's round
    assert all(r["ok"] is False and "round budget spent" in r["error"] for r in replies[1:])
    assert len(d.rounds) == 1
    assert d.client.usage["weak_solver"].calls <= 3


def test_the_challengers_example_fills_its_own_round(paper: Paper) -> None:
    d = _dispatcher(paper, "inner_loop.max_rounds=12")
    for _ in range(10):
        _challenge(d, paper)
        if d.rounds[-1].example is not None:
            break
    rnd = d.rounds[-1]
    assert rnd.example is not None, "the sim challenger never wrote a parseable example"
    _challenge(d, paper)  # a later round, never evaluated
    reply = _call(d, "evaluate", example=rnd.example.model_dump(), solver="weak")
    assert reply["ok"] is True and d.transcript[-1]["round"] == rnd.index
    assert rnd.weak is not None and d.rounds[-1].weak is None
    assert len(d.rounds) == rnd.index + 1  # no round opened for it


def test_strong_on_a_near_duplicate_reads_the_weak_record(paper: Paper) -> None:
    d = _dispatcher(paper)
    example = _example(paper)
    weak = _call(d, "evaluate", example=example, solver="weak")
    reply = _call(d, "evaluate", example={**example, "question": example["question"] + " ?"},
                  solver="strong")
    if weak["passed"]:
        assert reply["ok"] is True and d.rounds[0].strong is not None
    else:
        assert reply == {"ok": False, "error": "weak check not passed for this example"}
        assert "strong_solver" not in d.client.usage
