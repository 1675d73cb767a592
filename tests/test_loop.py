"""The outer loop end to end on the simulated model world: a short run, then its invariants.

One small run (3 validation papers, 5 iterations) is shared by the module. Its seed is chosen so
that accepted, rejected and invalid candidates all occur; if a change to the simulated world
moves that, pick another seed in RUN_SETS (the other assertions hold for any seed).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from inner_loop.config import load_config
from evolve.cli import main
from evolve.selection import candidate_id, iteration_rng
from evolve.repo import HarnessRepo
from evolve.context import RunSettings, read_run_config
from evolve.run import resume_run, start_run
from evolve.store import StoreReader

RUN_SETS = ["seed=2", "evolve.iterations=5", "evolve.minibatch=1", "inner_loop.max_rounds=3",
            "evolve.final_repeats=0"]  # the final re-evaluation: tests/test_final.py
SETTINGS = RunSettings(validation_limit=3)


def run(path: Path, *extra: str, settings: RunSettings = SETTINGS):
    return start_run(load_config(None, RUN_SETS + list(extra)), settings, path,
                     show_progress=False)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, object]:
    path = tmp_path_factory.mktemp("evolve") / "run"
    return path, run(path)


def rows(path: Path, sql: str) -> list[dict]:
    with StoreReader.open(path) as reader:
        return reader.query(sql)


def attempt_facts(path: Path) -> list[tuple]:
    """What must not depend on thread timing or interruptions: every attempt and evaluation."""
    its = [(r["iteration"], r["candidate_id"], r["parent_id"], r["status"]) for r in
           rows(path, "SELECT * FROM iterations ORDER BY iteration")]
    evals = sorted((r["candidate_id"], r["paper_id"], r["purpose"], r["repeat"], r["accepted"])
                   for r in rows(path, "SELECT * FROM evaluations"))
    repo = HarnessRepo.open(path)
    trees = sorted((c.candidate_id, repo.tree_sha(c.commit_sha)) for c in repo.accepted_commits())
    return [its, evals, trees]


def test_run_has_accepted_rejected_and_invalid_candidates(reference):
    _, summary = reference
    assert summary.status == "finished" and summary.simulated
    assert summary.iterations_done == 5
    assert all(summary.counts[k] >= 1 for k in ("accepted", "rejected", "invalid")), summary.counts
    assert summary.best_score > summary.seed_score
    assert summary.lineage[0].candidate_id == "seed"
    assert summary.lineage[-1].candidate_id == summary.best_candidate


def test_git_log_shows_exactly_the_accepted_candidates(reference):
    path, _ = reference
    accepted = {r["candidate_id"] for r in rows(
        path, "SELECT candidate_id FROM candidate_status WHERE status = 'accepted'")}
    log = subprocess.run(["git", "log", "--all", "--format=%(trailers:key=Autodata-Candidate,"
                          "valueonly,separator=)"], cwd=path / "harness", check=True,
                         capture_output=True, text=True).stdout.split()
    assert sorted(log) == sorted(accepted) and "seed" in accepted
    repo = HarnessRepo.open(path)
    assert set(repo.candidate_refs()) == accepted
    for commit in repo.accepted_commits():
        if commit.candidate_id != "seed":
            assert commit.trailers["Autodata-Run"] == path.name
            assert commit.parent_id in accepted and commit.pass_rate is not None


def test_store_records_every_attempt_with_its_outcome(reference):
    path, _ = reference
    statuses = rows(path, "SELECT * FROM candidate_status WHERE candidate_id <> 'seed' "
                          "ORDER BY iteration")
    assert [r["iteration"] for r in statuses] == [1, 2, 3, 4, 5]
    assert [r["candidate_id"] for r in statuses] == [candidate_id(2, n) for n in range(1, 6)]
    history = rows(path, "SELECT * FROM iterations ORDER BY iteration")
    assert [(h["candidate_id"], h["status"]) for h in history] == \
        [(r["candidate_id"], r["status"]) for r in statuses]
    for r in statuses:
        if r["status"] == "invalid":
            assert r["reason"] and r["policy"] is None
        else:
            assert r["diff_blob"] and r["diagnosis_blob"] and r["policy"] == "strict"
            assert (r["status"] == "accepted") == (r["child_mean"] > r["parent_mean"])


def test_invalid_candidates_are_never_scored(reference):
    path, _ = reference
    scored = rows(path, "SELECT DISTINCT s.candidate_id FROM candidate_status s JOIN evaluations "
                        "e USING (candidate_id) WHERE s.status = 'invalid' "
                        "AND e.purpose = 'validation'")
    assert scored == []


def test_children_and_parents_are_scored_on_every_validation_paper(reference):
    path, _ = reference
    for r in rows(path, "SELECT * FROM candidate_status WHERE status IN ('accepted', "
                        "'rejected') AND candidate_id <> 'seed'"):
        n = r["iteration"]
        child = rows(path, f"SELECT * FROM evaluations WHERE candidate_id = '{r['candidate_id']}'"
                           f" AND purpose = 'validation' AND iteration = {n}")
        parent = rows(path, f"SELECT * FROM evaluations WHERE candidate_id = '{r['parent_id']}'"
                            f" AND purpose = 'validation' AND iteration = {n}")
        assert len(child) == len(parent) == 3
        assert {e["repeat"] for e in child + parent} == {n}


def test_every_llm_call_is_recorded_and_attributed(reference):
    path, summary = reference
    calls = rows(path, "SELECT iteration, candidate_id, role, simulated FROM llm_calls")
    assert len(calls) == summary.llm_calls > 0
    assert all(c["iteration"] is not None and c["candidate_id"] for c in calls)
    assert all(c["simulated"] for c in calls)
    roles = {c["role"] for c in calls}
    assert {"analyzer", "implementer", "challenger", "weak_solver", "judge"} <= roles


def test_parent_selection_is_a_function_of_seed_and_iteration():
    assert candidate_id(7, 3) == candidate_id(7, 3) != candidate_id(8, 3)
    assert iteration_rng(7, 3).random() == iteration_rng(7, 3).random()
    assert iteration_rng(7, 3).random() != iteration_rng(7, 4).random()


def test_run_folder_holds_config_harness_database_and_log(reference):
    path, _ = reference
    rc = read_run_config(path)
    assert rc.config.evolve.iterations == 5 and rc.preset == "deployed"
    assert rc.thresholds["weak_avg_max"] == 0.65 and rc.settings.validation_limit == 3
    assert "api_key" not in (path / "config.json").read_text().replace("api_key_env", "")
    assert (path / "harness" / ".git").exists() and (path / "autodata.duckdb").exists()
    assert "iteration 5" in (path / "logs" / "run.log").read_text()
    assert not (path / "run.lock").exists()
    assert not any((path / "scratch").iterdir())


def test_resume_after_budget_stops_reaches_the_same_lineage(reference, tmp_path):
    ref_path, _ = reference
    path = tmp_path / "run"
    first = run(path, "budget.max_calls=90")  # stops while the seed is being scored
    assert first.status == "stopped: budget"
    for max_calls in (450, None):  # stops mid-run once, then runs to the end
        config = json.loads((path / "config.json").read_text())
        config["config"]["budget"]["max_calls"] = max_calls
        (path / "config.json").write_text(json.dumps(config))
        summary = resume_run(path, show_progress=False)
    assert summary.status == "finished"
    assert attempt_facts(path) == attempt_facts(ref_path)
    n_eval = rows(path, "SELECT count(*) AS n FROM evaluations")[0]["n"]
    assert rows(path, "SELECT count(*) AS n FROM episodes")[0]["n"] == n_eval
    events = [r["status"] for r in rows(path, "SELECT status FROM run_events ORDER BY seq")]
    assert events == ["created", "running", "stopped", "resumed", "stopped", "resumed",
                      "finished"]


def test_budget_stop_is_clean_and_resume_without_budget_left_stops_again(tmp_path):
    path = tmp_path / "run"
    summary = run(path, "budget.max_calls=200")
    assert summary.status == "stopped: budget" and "call budget" in summary.detail
    calls = rows(path, "SELECT count(*) AS n FROM llm_calls")[0]["n"]
    again = resume_run(path, show_progress=False)
    assert again.status == "stopped: budget"
    assert rows(path, "SELECT count(*) AS n FROM llm_calls")[0]["n"] == calls
    assert not (path / "run.lock").exists()


def test_unparseable_diagnosis_is_a_recorded_invalid_attempt(tmp_path, capsys):
    path = tmp_path / "run"
    sets = [a for s in RUN_SETS + ["evolve.iterations=1", 'roles.analyzer.model="sim-weak_solver"',
                                   "run.validation_limit=3"] for a in ("--set", s)]
    assert main(["evolve", "--run-dir", str(path), *sets, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "finished" and summary["counts"]["invalid"] == 1
    assert summary["simulated"] is True and summary["run_dir"] == str(path)
    [row] = rows(path, "SELECT * FROM candidate_status WHERE candidate_id <> 'seed'")
    assert row["reason"].startswith("analyzer: unparseable diagnosis (")
    assert row["diff_blob"] is None
    [it] = rows(path, "SELECT * FROM iterations")
    assert it["status"] == "invalid" and "unparseable" in it["summary"]


@pytest.mark.parametrize("sets,why", [
    (["budget.max_wall_s=1"], "wall-time budget"),
    (["budget.max_usd=0.05", "roles.orchestrator.price_input_per_mtok=1000"], "USD budget"),
])
def test_usd_and_wall_time_budgets_stop_the_run(tmp_path, sets, why):
    summary = run(tmp_path / "run", *sets)
    assert summary.status == "stopped: budget" and why in summary.detail
    assert summary.iterations_done < 5


def test_bad_evolve_settings_are_a_user_error(tmp_path):
    from inner_loop.errors import UserError
    with pytest.raises(UserError, match="concurrency"):
        run(tmp_path / "run", "evolve.concurrency=0")
    assert not (tmp_path / "run").exists()
