"""Runner semantics: the parent decides every outcome from its own records (sim backend)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from inner_loop.thresholds import full_check, thresholds_for
from inner_loop.config import Config, load_config
from inner_loop.dispatch import Dispatcher, EpisodeEnd
from inner_loop.harness_requests import normalise_messages
from inner_loop.parsing import parse_verdict
from inner_loop.evaluation import summarise
from inner_loop.guard import structural_problems
from inner_loop.llm.client import LLMClient
from inner_loop.papers import Paper, select_papers
from inner_loop.executor import run_episodes
from inner_loop.runner import run_episode
from inner_loop.scoring import score
from inner_loop.llm.episode_client import EpisodeClient

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "harness"
DILIGENT = Path(__file__).parent / "fixtures" / "harnesses" / "diligent"
GREEDY = Path(__file__).parent / "fixtures" / "harnesses" / "greedy"


@pytest.fixture(scope="module")
def papers() -> list[Paper]:
    return select_papers(subset="validation", limit=4)


def _dispatcher(paper: Paper, *sets: str) -> Dispatcher:
    config = load_config(None, list(sets))
    return Dispatcher(paper, config=config, client=EpisodeClient(LLMClient(config), "test"))


def _call(d: Dispatcher, op: str, **args: object) -> object:
    return d.dispatch({"id": 1, "op": op, "args": args})


def _challenge(d: Dispatcher, paper: Paper) -> dict:
    """One challenger call with the seed harness's challenger prompt (a real sim example)."""
    text = (SEED / "prompts" / "challenger.md").read_text()
    prompt = text.replace("$title", paper.title).replace("$paper", paper.full_text[:20000]) \
        .replace("$feedback", "")
    return _call(d, "llm", role="challenger", messages=[{"role": "user", "content": prompt}])


def _some_example(d: Dispatcher, paper: Paper) -> dict:
    for _ in range(d.max_rounds):
        _challenge(d, paper)
        if d.rounds[-1].example is not None:
            return d.rounds[-1].example.model_dump()
    pytest.fail("the sim challenger never wrote a parseable example")


def test_strong_is_refused_before_weak(papers: list[Paper]) -> None:
    d = _dispatcher(papers[0])
    example = _some_example(d, papers[0])
    reply = _call(d, "evaluate", example=example, solver="strong")
    assert reply == {"ok": False, "error": "weak check not passed for this example"}
    assert "strong_solver" not in d.client.usage


def test_invalid_example_before_any_round_spends_nothing(papers: list[Paper]) -> None:
    d = _dispatcher(papers[0])
    reply = _call(d, "evaluate", example={"question": "x"}, solver="weak")
    assert reply["ok"] is False and reply["error"].startswith("invalid example")
    assert d.client.usage == {} and d.rounds == []


def test_round_budget_is_enforced(papers: list[Paper]) -> None:
    d = _dispatcher(papers[0], "inner_loop.max_rounds=2")
    _challenge(d, papers[0])
    _challenge(d, papers[0])
    reply = _challenge(d, papers[0])
    assert reply == {"error": "round budget spent: max_rounds=2 (each challenger call and each "
                              "evaluation of a new example is a round)"}
    assert len(d.rounds) == 2
    assert d.client.usage["challenger"].calls == 2


def test_round_budget_is_enforced_in_the_sandbox(papers: list[Paper], tmp_path: Path) -> None:
    config = load_config(None, ["inner_loop.max_rounds=2"])
    record = run_episode(papers[0], GREEDY, config=config, client=LLMClient(config),
                         workdir_root=tmp_path)
    assert [r.index for r in record.rounds] == [1, 2]
    logs = [e["text"] for e in record.transcript if e["op"] == "log"]
    assert len(logs) == 5
    assert all("round budget spent" in line for line in logs[2:])
    assert record.usage["challenger"].calls == 2


def test_invalid_example_is_a_failed_quality_check(papers: list[Paper]) -> None:
    d = _dispatcher(papers[0])
    _challenge(d, papers[0])
    bad = {"question_type": "x", "question": "Why?", "reference_answer": "Because.",
           "rubric": [{"criterion": "c", "weight": "+8"}]}
    reply = _call(d, "evaluate", example=bad, solver="weak")
    assert reply["ok"] is False and reply["error"].startswith("invalid example: rubric.0.weight")
    assert d.rounds[-1].outcome == "failed_quality_check"
    assert "weak_solver" not in d.client.usage


def test_submit_without_passing_evaluations_is_refused(papers: list[Paper]) -> None:
    d = _dispatcher(papers[0])
    example = _some_example(d, papers[0])
    reply = _call(d, "submit", example=example)
    assert reply["accepted"] is False and "no passing weak and strong" in reply["reason"]
    assert d.accepted is None


def test_an_evaluation_is_run_once_per_example(papers: list[Paper]) -> None:
    d = _dispatcher(papers[0])
    example = _some_example(d, papers[0])
    first = _call(d, "evaluate", example=example, solver="weak")
    calls = d.client.usage["weak_solver"].calls
    again = _call(d, "evaluate", example=json.dumps(example), solver="weak")
    assert again == first
    assert d.client.usage["weak_solver"].calls == calls == 3
    assert d.transcript[-1]["repeat"] is True


def test_unparseable_unevaluated_round_is_a_parse_error(papers: list[Paper]) -> None:
    d = _dispatcher(papers[0])
    _call(d, "llm", role="challenger", messages=[{"role": "user", "content": "Say hello."}])
    assert d.rounds[0].example is None and d.rounds[0].parse_error
    record = d.record(_base(d))
    assert record.rounds[0].outcome == "parse_error"


def test_verifier_fail_without_evaluation_is_a_failed_quality_check(papers: list[Paper]) -> None:
    d = _dispatcher(papers[0])
    example = _some_example(d, papers[0])
    d.rounds[-1].verifier_verdict = parse_verdict('{"verdict": "fail", "feedback": "leaks"}')
    d.rounds[-1].verifier_feedback = "the context leaks the answer"
    record = d.record(_base(d))
    assert example is not None
    assert record.rounds[-1].outcome == "failed_quality_check"
    assert "leaks" in record.rounds[-1].reason


def test_verdict_parsing() -> None:
    assert parse_verdict('{"verdict": "PASS"}') == "PASS"
    assert parse_verdict("Verdict: FAIL\nthe rubric has string weights") == "FAIL"
    assert parse_verdict("PASS\nall good") == "PASS"
    assert parse_verdict("I am not sure.") is None


def test_openai_style_tool_calls_are_accepted() -> None:
    messages = normalise_messages([
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function",
             "function": {"name": "submit", "arguments": {"x": 1}}}]},
        {"role": "tool", "tool_call_id": "c1", "name": "submit", "content": "{}"},
    ])
    assert messages[0].tool_calls[0].name == "submit"
    assert messages[0].tool_calls[0].arguments == '{"x": 1}'


def test_infrastructure_failure_is_never_a_quality_verdict(papers: list[Paper]) -> None:
    d = _dispatcher(papers[0], "roles.weak_solver.backend=openai",
                    "roles.weak_solver.base_url=http://127.0.0.1:9", "roles.weak_solver.model=m",
                    "roles.weak_solver.api_key_env=AUTODATA_TEST_UNSET_KEY_VARIABLE")
    example = _some_example(d, papers[0])
    reply = _call(d, "evaluate", example=example, solver="weak")
    assert reply["ok"] is False and reply["error"].startswith("infrastructure: ")
    assert d.rounds[-1].outcome == "infrastructure"
    assert d.client.usage["weak_solver"].failed_calls == 2  # the first sample, retried once more


def test_budget_exceeded_ends_the_episode(papers: list[Paper], tmp_path: Path) -> None:
    config = load_config(None, ["budget.max_calls=4"])
    record = run_episode(papers[0], DILIGENT, config=config, client=LLMClient(config),
                         workdir_root=tmp_path)
    assert record.status == "budget"
    assert "budget" in record.error and not record.accepted


def test_done_ends_the_episode_as_exhausted(papers: list[Paper]) -> None:
    d = _dispatcher(papers[0])
    with pytest.raises(EpisodeEnd):
        _call(d, "done", result="{'accepted': True}")
    assert d.record(_base(d)).status == "exhausted"


def _base(d: Dispatcher) -> dict:
    preset, thresholds = thresholds_for(d.config)
    return {"paper_id": d.paper.id, "paper_title": d.paper.title, "method": "agentic",
            "preset": preset, "thresholds": thresholds.model_dump(), "max_rounds": d.max_rounds,
            "status": "exhausted"}


def test_seed_harness_episode_is_recorded(papers: list[Paper], tmp_path: Path) -> None:
    config = load_config()
    record = run_episode(papers[0], SEED, config=config, client=LLMClient(config),
                         workdir_root=tmp_path)
    assert record.status in ("accepted", "exhausted")
    assert record.error is None and record.simulated
    assert 1 <= len(record.rounds) <= config.inner_loop.max_rounds
    assert record.transcript[0]["op"] == "llm" and record.transcript[0]["role"] == "orchestrator"
    assert record.usage["orchestrator"].calls >= 1
    assert record.harness_version and len(record.harness_version) == 64
    assert record.confinement


def _recompute(record, config: Config) -> None:
    """An accepted example is accepted again when recomputed from the stored samples alone."""
    _, thresholds = thresholds_for(config)
    rnd = record.accepted_round_record()
    example = record.accepted_example
    assert rnd is not None and rnd.example == example and rnd.outcome == "accepted"
    weights = [item.weight for item in example.rubric]
    for ev in (rnd.weak, rnd.strong):
        assert len(ev.samples) == config.inner_loop.samples_per_solver
        assert [score(weights, s.judgments) for s in ev.samples] == ev.scores
    assert summarise("weak", rnd.weak.samples, thresholds).passed
    assert full_check(thresholds, rnd.weak.scores, rnd.strong.scores).passed
    assert structural_problems(example) == []
    eid = example.example_id()
    ops = [(e["op"], e.get("solver")) for e in record.transcript if e.get("example_id") == eid]
    assert ops[:2] == [("evaluate", "weak"), ("evaluate", "strong")] and ops[-1][0] == "submit"


def test_accepted_examples_recompute_to_accepted(papers: list[Paper], tmp_path: Path) -> None:
    config = load_config()
    harness = tmp_path / "harness"
    shutil.copytree(DILIGENT, harness)
    seen: list[tuple[int, int]] = []
    records = run_episodes(papers, harness, config=config, client=LLMClient(config),
                           method="agentic", harness_version="v-test", workdir_root=tmp_path / "w",
                           progress=lambda done, total, _r: seen.append((done, total)))
    assert [r.paper_id for r in records] == [p.id for p in papers]  # input order
    assert seen == [(i, len(papers)) for i in range(1, len(papers) + 1)]
    accepted = [r for r in records if r.accepted]
    assert accepted, [r.rounds[-1].outcome for r in records]
    for record in accepted:
        assert record.status == "accepted" and record.harness_version == "v-test"
        _recompute(record, config)
