"""The formats of inner_loop/formats.py: what evolve writes, the simulated world reads back.

Real records: episodes of the seed harness on the sim, rendered by evolve/transcripts.py and
read by the simulated analyzer; the analyzer's and implementer's messages as evolve builds them,
read by the simulated analyzer and implementer."""

from __future__ import annotations

from pathlib import Path

import pytest

from evolve.analyzer import analyzer_messages
from evolve.implementer import implementer_messages
from evolve.transcripts import render_transcripts
from inner_loop import formats
from inner_loop.config import load_config
from inner_loop.llm.client import LLMClient
from inner_loop.papers import select_papers
from inner_loop.executor import run_episodes
from inner_loop.sim import analyzer as sim_analyzer
from inner_loop.sim import implementer as sim_implementer
from inner_loop.llm.types import LLMRequest

SEED = Path(__file__).resolve().parents[1] / "harness"


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    config = load_config(None, ["inner_loop.max_rounds=3"])
    return run_episodes(select_papers(subset="train", limit=3), SEED, config=config,
                        client=LLMClient(config), workdir_root=tmp_path_factory.mktemp("w"))


def test_every_rendered_round_is_read_back(records):
    text = render_transcripts(records)
    rounds = sim_analyzer.read_rounds(text)
    written = [(r.paper_id, rnd.index, rnd.outcome) for r in records for rnd in r.rounds]
    assert [(p, i, o) for p, i, o, _ in rounds] == written
    for (_, _, _, block), rnd in zip(rounds, [x for r in records for x in r.rounds]):
        assert formats.field_of(block, "question") == " ".join(
            (rnd.example.question if rnd.example else "-").split())
        assert set(formats.ROUND_FIELDS) <= {ln.split(":", 1)[0] for ln in block.splitlines()}


def test_the_analyzer_message_is_read_by_section(records):
    transcripts = render_transcripts(records)
    history = ["- iteration 1 (parent seed): rejected — x (validation 0.20 -> 0.10)"]
    user = analyzer_messages(transcripts, history, [("prompts/challenger.md", True)])[1].content
    assert formats.section_of(user, formats.TRANSCRIPTS, formats.HISTORY) == f"\n{transcripts}\n"
    assert formats.section_of(user, formats.HISTORY, formats.HARNESS_FILES).strip() == history[0]


def test_the_implementer_reads_the_diagnosis_it_is_given():
    from evolve.analyzer import Diagnosis

    diagnosis = Diagnosis.model_validate({"summary": "too easy", "hypotheses": []})
    user = implementer_messages(diagnosis, ["prompts/*.md"], [])[1].content
    request = LLMRequest(role="implementer", model="sim-implementer", seed=1,
                         messages=[{"role": "user", "content": user}])
    assert sim_implementer._diagnosis(request) == diagnosis.model_dump(mode="json")


def test_a_message_without_a_heading_is_read_whole():
    assert formats.section_of("no headings here", formats.DIAGNOSIS, formats.EDITABLE_GLOBS) \
        == "no headings here"
    assert formats.sections([("A", "1"), ("B", "2")]) == "## A\n1\n\n## B\n2"
