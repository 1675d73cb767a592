"""The CoT Self-Instruct baseline: one challenger call, both solvers always, same filters."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from inner_loop.thresholds import full_check, thresholds_for, weak_check
from inner_loop.config import load_config
from inner_loop.cot import CONFINEMENT, PAPER_CHARS, challenger_prompt, run_cot_episode
from inner_loop.harness import load_harness
from inner_loop.llm.client import LLMClient
from inner_loop.papers import Paper, select_papers
from inner_loop.executor import run_episodes

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "harness"
DILIGENT = Path(__file__).parent / "fixtures" / "harnesses" / "diligent"


@pytest.fixture(scope="module")
def papers() -> list[Paper]:
    return select_papers(subset="validation", limit=5)


def test_cot_is_one_challenger_call_with_the_harness_prompt(papers: list[Paper]) -> None:
    config = load_config()
    record = run_cot_episode(papers[0], SEED, config=config, client=LLMClient(config))
    assert record.method == "cot" and record.max_rounds == 1
    assert len(record.rounds) == 1 and record.usage["challenger"].calls == 1
    assert record.confinement == CONFINEMENT
    sent = record.transcript[0]["messages"][0]["content"]
    assert sent == challenger_prompt(load_harness(SEED), papers[0])
    assert papers[0].full_text[:PAPER_CHARS] in sent  # the paper (cut as the harness does)


def test_cot_cuts_a_long_paper_where_the_seed_harness_does(papers: list[Paper]) -> None:
    extra = papers[0].sections[-1].model_copy(update={"text": "More words. " * PAPER_CHARS})
    long = papers[0].model_copy(update={"sections": [*papers[0].sections, extra]})
    assert len(long.full_text) > PAPER_CHARS
    sent = challenger_prompt(load_harness(SEED), long)
    assert long.full_text[:PAPER_CHARS] in sent and long.full_text not in sent


def test_cot_runs_both_solvers_even_when_too_easy(tmp_path: Path) -> None:
    config = load_config()
    papers = select_papers(subset="validation", limit=10)  # the 9th is too easy in this world
    records = run_episodes(papers, SEED, config=config, client=LLMClient(config), method="cot",
                           workdir_root=tmp_path,
                           run=lambda p: run_cot_episode(p, SEED, config=config,
                                                         client=LLMClient(config)))
    evaluated = [r.rounds[0] for r in records if r.rounds and r.rounds[0].example is not None]
    assert evaluated
    assert any(rnd.outcome == "too_easy" for rnd in evaluated)
    for rnd in evaluated:
        assert rnd.weak is not None and rnd.strong is not None  # same solver statistics
        assert rnd.weak.passed == (rnd.outcome not in ("too_easy",))


def test_cot_decisions_recompute_from_stored_samples(papers: list[Paper]) -> None:
    config = load_config()
    _, thresholds = thresholds_for(config)
    client = LLMClient(config)
    records = [run_cot_episode(p, DILIGENT, config=config, client=client) for p in papers]
    for record in records:
        for rnd in record.rounds:
            if rnd.weak is None or rnd.strong is None:
                continue
            full = full_check(thresholds, rnd.weak.scores, rnd.strong.scores).passed
            assert weak_check(thresholds, rnd.weak.scores).passed == rnd.weak.passed
            assert full == rnd.strong.passed
            assert (rnd.outcome in ("accepted", "failed_final_guard")) == full
            assert record.accepted == (rnd.outcome == "accepted")


def test_cot_renders_only_declared_variables(papers: list[Paper], tmp_path: Path) -> None:
    harness = tmp_path / "h"
    shutil.copytree(DILIGENT, harness)
    manifest = (harness / "harness.toml").read_text()
    (harness / "harness.toml").write_text(
        manifest.replace('variables = ["title", "paper", "feedback"]',
                         'variables = ["title", "paper"]'))
    prompt = (harness / "prompts" / "challenger.md").read_text().replace("$feedback", "")
    (harness / "prompts" / "challenger.md").write_text(prompt)
    config = load_config()
    record = run_cot_episode(papers[0], harness, config=config, client=LLMClient(config))
    assert record.status in ("accepted", "exhausted") and record.error is None


def test_cot_with_an_invalid_harness_is_recorded(papers: list[Paper], tmp_path: Path) -> None:
    harness = tmp_path / "h"
    shutil.copytree(DILIGENT, harness)
    (harness / "prompts" / "challenger.md").write_text("$title $unknown\n")
    config = load_config()
    record = run_cot_episode(papers[0], harness, config=config, client=LLMClient(config))
    assert record.status == "harness_error" and "undeclared variables" in record.error
    assert record.usage == {} and record.rounds == []
