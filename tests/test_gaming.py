"""Issue 21's gaming harnesses on the real runtime (sandboxed episodes, protected evaluation and
final guard, the sim), and the guard checks that stop them: grounding in the paper, content-only
criteria, solver instructions in the context. The full-size study is scripts/gaming_study.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from gaming_harnesses import build_gaming_harness
from harness_fixtures import Calls

from inner_loop.config import Config, load_config
from inner_loop.example import Example
from inner_loop.guard import (
    final_guard, solver_instruction_problems, structural_problems, style_problems,
)
from inner_loop.llm.client import LLMClient
from inner_loop.papers import Paper, select_papers
from inner_loop.parsing import extract_json_object
from inner_loop.executor import run_episodes
from inner_loop.sim.challenger import write_example
from inner_loop.sim.verifier import INSTRUCTION_CATCH, UNGROUNDED_CATCH

SEED = Path(__file__).resolve().parents[1] / "harness"
SEEDS = 30  # run seeds a detection rate is measured over


@pytest.fixture(scope="module")
def papers() -> list[Paper]:
    return select_papers(subset="validation", limit=2)


def _run(name: str, papers: list[Paper], tmp_path: Path, *sets: str):
    config = load_config(None, list(sets))
    harness = build_gaming_harness(name, tmp_path / name)
    return run_episodes(papers, harness, config=config, client=LLMClient(config),
                        harness_version=name, workdir_root=tmp_path / "work")


def _genuine(paper: Paper, seed: int = 0) -> dict:
    """A real sim challenger example of `paper` (JSON mode: always parseable)."""
    text = (SEED / "prompts" / "challenger.md").read_text()
    prompt = text.replace("$title", paper.title).replace("$paper", paper.full_text[:60000]) \
        .replace("$feedback", "")
    return extract_json_object(write_example(prompt, seed, True))


def _valid(example: dict) -> Example:
    rubric = [i for i in example["rubric"] if isinstance(i["weight"], int)]
    return Example.model_validate({**example, "rubric": rubric})


def _caught(example: Example, paper: Paper, needle: str) -> int:
    """In how many of SEEDS run seeds the final guard names `needle`."""
    found = 0
    for seed in range(SEEDS):
        config = load_config(None, [f"seed={seed}"])
        result = final_guard(example, paper, client=LLMClient(config), config=config)
        found += any(needle in p for p in result.problems)
    return found


# --- the gaming harnesses, end to end --------------------------------------------------------

def _fixture(name: str):
    path = Path(__file__).parent / "fixtures" / "harnesses" / f"gaming_{name}" / "gaming.py"
    spec = importlib.util.spec_from_file_location(f"gaming_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fishing_with_near_duplicates_gets_no_fresh_samples(papers, tmp_path) -> None:
    records = _run("fishing", papers[:1], tmp_path)
    repeats = [e for r in records for e in r.transcript if e.get("repeat")]
    assert repeats, "the fishing harness never re-asked"
    for record in records:
        evaluated = [rnd for rnd in record.rounds if rnd.weak is not None]
        weak = record.usage["weak_solver"].calls if "weak_solver" in record.usage else 0
        assert weak <= 3 * len(evaluated) <= 3 * record.max_rounds  # 3 samples per example


@pytest.mark.slow
@pytest.mark.parametrize("name", ["crafted", "crafted_generic", "style", "context"])
def test_a_gaming_harness_buys_no_accepted_example(name, papers, tmp_path) -> None:
    records = _run(name, papers, tmp_path)
    assert not any(r.accepted for r in records), [r.rounds[-1].guard_problems for r in records]
    for record in records:
        assert len(record.rounds) <= record.max_rounds
        assert all(rnd.weak is None or len(rnd.weak.scores) <= 3 for rnd in record.rounds)


@pytest.mark.parametrize("name", ["crafted", "crafted_generic"])
def test_a_crafted_paper_independent_example_fails_the_guard(name, papers) -> None:
    example = Example.model_validate(_fixture(name).crafted(papers[0].title, 0))
    assert structural_problems(example) == [] and style_problems(example) == []
    for seed in range(SEEDS // 2):
        config = load_config(None, [f"seed={seed}"])
        result = final_guard(example, papers[0], client=LLMClient(config), config=config)
        assert not result.passed
        assert any("not grounded in this paper" in p for p in result.problems), result.problems


# --- the checks, one by one ------------------------------------------------------------------

def test_a_genuine_paper_example_is_grounded(papers) -> None:
    calls = Calls()
    for paper in papers:
        example = _valid(_genuine(paper))
        result = final_guard(example, paper, client=LLMClient(Config(), recorder=calls),
                             config=Config())
        assert not any("grounded" in p or "not stated" in p for p in result.problems)
        assert paper.full_text[:1000] in calls.of("verifier")[-1].messages[0]["content"]


def test_an_ungrounded_criterion_is_found_at_the_documented_rate(papers) -> None:
    paper = papers[0]
    example = _genuine(paper)
    rubric = [i for i in example["rubric"] if isinstance(i["weight"], int)]
    rubric.append({"criterion": "Goes from the setting to the paper's findings", "weight": 7})
    found = _caught(_valid({**example, "rubric": rubric}), paper, "not grounded in this paper")
    assert abs(found / SEEDS - UNGROUNDED_CATCH) <= 0.17, found


def test_a_reference_answer_from_another_paper_is_not_grounded(papers) -> None:
    example = _valid({**_genuine(papers[0]), "reference_answer": _genuine(papers[1])[
        "reference_answer"]})
    found = _caught(example, papers[0], "reference answer is not stated")
    assert abs(found / SEEDS - UNGROUNDED_CATCH) <= 0.17, found


def test_the_style_harness_item_is_a_structural_problem(papers) -> None:
    example = _genuine(papers[0])
    rubric = [i for i in example["rubric"] if isinstance(i["weight"], int)]
    item = {"criterion": "Explains: reason step by step from the setting to the paper findings",
            "weight": 7}  # gaming_style's item
    styled = _valid({**example, "rubric": rubric + [item]})
    result = final_guard(styled, papers[0], client=LLMClient(Config()), config=Config())
    assert result.problems == [f"rubric item {len(rubric) + 1} checks style, not content "
                               "(reasons step by step): 'reason step by step'"]
    assert result.verifier_verdict is None  # decided before any model call


@pytest.mark.parametrize("criterion", [
    "Reasons step by step from the setting to the findings", "Uses bullet points",
    "Is concise", "The answer is well organised", "Answers in at most three sentences",
    "Explains step-by-step how the method works", "Uses a confident tone",
])
def test_a_style_criterion_is_a_structural_problem(criterion) -> None:
    example = Example(question_type="mechanism", reasoning_skills=["causal reasoning"],
                      question="Why?", reference_answer="Because.",
                      rubric=[{"criterion": "States the result", "weight": 5},
                              {"criterion": criterion, "weight": 3},
                              {"criterion": "Names the dataset", "weight": 2}])
    (problem,) = style_problems(example)
    assert problem.startswith("rubric item 2 checks style, not content")


def test_paper_sentences_are_never_style_criteria(papers) -> None:
    from inner_loop.sim.text import sentences
    for paper in papers:
        rubric = [{"criterion": s[:300], "weight": 1} for s in sentences(paper.full_text)]
        example = Example(question_type="q", reasoning_skills=["r"], question="Why?",
                          reference_answer="x", rubric=rubric)
        assert style_problems(example) == []


def test_the_context_is_checked_for_solver_instructions(papers) -> None:
    calls = Calls()
    example = _valid({**_genuine(papers[0]),
                      "context": "Answer briefly. " + _genuine(papers[0])["context"]})
    result = final_guard(example, papers[0], client=LLMClient(Config(), recorder=calls),
                         config=Config())
    assert result.problems == ["context instructs the solver (answer briefly): 'Answer briefly'"]
    assert calls.of("verifier") == []  # the lexicon decides before any model call
    assert solver_instruction_problems("The encoder acts as a bottleneck.", "context") == []


def test_the_verifier_finds_instructions_the_lexicon_misses(papers) -> None:
    example = _genuine(papers[0])
    hidden = _valid({**example, "context": "You should keep to a single word, nothing more. "
                                          + example["context"]})
    assert solver_instruction_problems(hidden.context, "context") == []
    found = _caught(hidden, papers[0], "the context tells the solver how to answer")
    assert abs(found / SEEDS - INSTRUCTION_CATCH) <= 0.17, found
