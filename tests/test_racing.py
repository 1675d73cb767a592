"""Racing (evolve.racing) is an exact saving: the same decisions with and without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from inner_loop.config import load_config
from evolve.racing import hopeless
from evolve.context import RunSettings, read_run_config, write_json
from evolve.run import resume_run, start_run
from evolve.store import StoreReader

# Two iterations that both start from the seed (concurrency 2), one episode per racing batch;
# run seed 0: one child loses (rejected), so racing has episodes to skip in this sim world.
SETS = ["seed=0", "evolve.iterations=2", "evolve.concurrency=2", "evolve.minibatch=1",
        "inner_loop.max_rounds=6", "inner_loop.concurrency=1", "evolve.final_repeats=0"]
SETTINGS = RunSettings(validation_limit=4)


def test_hopeless_when_a_perfect_remainder_only_ties_the_parent():
    assert hopeless(child_passes=0, child_left=2, child_total=4, parent_passes=2, parent_total=4)


def test_not_hopeless_while_the_child_can_still_strictly_win():
    assert not hopeless(child_passes=1, child_left=2, child_total=4, parent_passes=2,
                        parent_total=4)


def test_parent_worst_case_counts_prior_evaluations():
    # parent: 3 passes of 8 (4 prior + 4 new, all still to come counted as failures)
    assert hopeless(child_passes=0, child_left=1, child_total=4, parent_passes=3, parent_total=8)
    assert not hopeless(child_passes=1, child_left=1, child_total=4, parent_passes=3,
                        parent_total=8)


def _facts(path: Path) -> dict:
    with StoreReader.open(path) as r:
        return {
            "decisions": [(x["iteration"], x["candidate_id"], x["status"]) for x in r.query(
                "SELECT * FROM iterations ORDER BY iteration")],
            "parent_evals": sorted((x["candidate_id"], x["paper_id"], x["repeat"], x["accepted"])
                                   for x in r.query("SELECT * FROM evaluations WHERE "
                                                    "candidate_id = 'seed'")),
            "child_evals": r.query("SELECT candidate_id, count(*) AS n FROM evaluations WHERE "
                                   "purpose = 'validation' AND candidate_id <> 'seed' "
                                   "GROUP BY 1 ORDER BY 1"),
            "calls": r.query("SELECT count(*) AS n FROM llm_calls")[0]["n"],
            "evals": sorted((x["candidate_id"], x["paper_id"], x["purpose"], x["repeat"],
                             x["accepted"]) for x in r.query("SELECT * FROM evaluations")),
        }


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[dict, dict]:
    base = tmp_path_factory.mktemp("racing")
    out = []
    for flag in ("false", "true"):
        start_run(load_config(None, SETS + [f"evolve.racing={flag}"]), SETTINGS,
                  base / flag, show_progress=False)
        out.append(_facts(base / flag))
    return out[0], out[1]


def test_racing_gives_identical_decisions(runs):
    full, raced = runs
    assert raced["decisions"] == full["decisions"]


def test_racing_scores_the_parent_in_full(runs):
    full, raced = runs
    assert raced["parent_evals"] == full["parent_evals"]


def test_racing_skips_child_episodes_and_their_calls(runs):
    full, raced = runs
    assert sum(x["n"] for x in raced["child_evals"]) < sum(x["n"] for x in full["child_evals"])
    assert raced["calls"] < full["calls"]


def test_racing_skips_the_same_episodes_after_a_budget_stop_and_resume(runs, tmp_path):
    _, raced = runs
    path = tmp_path / "cut"
    start_run(load_config(None, SETS + [f"budget.max_calls={raced['calls'] // 2}"]), SETTINGS,
              path, show_progress=False)
    rc = read_run_config(path)
    budget = rc.config.budget.model_copy(update={"max_calls": None})
    rc = rc.model_copy(update={"config": rc.config.model_copy(update={"budget": budget})})
    write_json(path / "config.json", rc.model_dump(mode="json"))
    resume_run(path, show_progress=False)
    again = _facts(path)
    assert again["decisions"] == raced["decisions"]
    assert again["evals"] == raced["evals"]
