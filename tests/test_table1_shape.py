"""Agentic Self-Instruct vs the CoT Self-Instruct baseline on the same papers: the shape of the
paper's Table 1 on the simulated world (seed harness, deployed preset)."""

import json

import pytest

from inner_loop.compare import run_stats
from inner_loop.config import load_config
from inner_loop.generate import run_generate
from inner_loop.llm.client import LLMClient
from inner_loop.papers import select_papers


@pytest.fixture(scope="module")
def table1(tmp_path_factory):
    papers = select_papers(subset="validation")
    out = {}
    for method in ("cot", "agentic"):
        config = load_config()
        d = tmp_path_factory.mktemp(method)
        run_generate(papers, d, config=config, client=LLMClient(config), method=method)
        out[method] = run_stats(d)
        out[method + "_rounds"] = [len(json.loads(line)["rounds"]) for line in open(d / "episodes.jsonl")]
    return out


def test_agentic_examples_separate_weak_from_strong_more_than_cot_data(table1):
    cot, agentic = table1["cot"], table1["agentic"]
    assert cot.scored_by_both >= 6  # CoT: (almost) every paper's one example reaches both solvers
    assert agentic.accepted >= 1
    assert agentic.gap >= 0.2  # every accepted example clears the preset's gap
    assert agentic.gap > cot.all_gap + 0.1


def test_agentic_refines_over_several_rounds_and_cot_does_not(table1):
    assert sum(table1["agentic_rounds"]) / len(table1["agentic_rounds"]) > 1.5
    assert set(table1["cot_rounds"]) == {1}
    assert table1["agentic"].acceptance_rate >= table1["cot"].acceptance_rate


def test_outputs_are_labelled_simulated(table1):
    assert table1["cot"].simulated and table1["agentic"].simulated
