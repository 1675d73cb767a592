"""The run database's episodes: an episode's rows, rounds and evaluation, idempotence, the
scores read from evaluations, a real episode record stored and read back (real DuckDB)."""

import pytest

from evolve.store import queries
from inner_loop.episode import EpisodeRecord, RoleUsageRecord, RoundRecord
from inner_loop.evaluation import SolverEval
from store_fixtures import count, episode, store, to_scored  # noqa: F401  (store is a fixture)


# -- episodes, evaluations, scores --------------------------------------------------------------


def test_record_episode_writes_episode_rounds_and_evaluation(store):
    eid = store.record_episode(episode("p1", True, ("too_easy", "accepted"), cost=0.25), "seed", "validation", 0, 1)
    ep = store.query("SELECT * FROM episodes")[0]
    assert ep["episode_id"] == eid and ep["rounds"] == 2 and ep["accepted"] and ep["cost_usd"] == 0.25
    assert store.get_blob(ep["record_blob"]).startswith("{")
    rounds = store.query("SELECT round, outcome, weak_avg, strong_avg FROM episode_rounds ORDER BY round")
    assert rounds == [{"round": 0, "outcome": "too_easy", "weak_avg": 0.8, "strong_avg": None},
                      {"round": 1, "outcome": "accepted", "weak_avg": 0.8, "strong_avg": 0.7}]
    assert store.query("SELECT candidate_id, paper_id, purpose, repeat, iteration, accepted, episode_id FROM evaluations") == [
        {"candidate_id": "seed", "paper_id": "p1", "purpose": "validation", "repeat": 0, "iteration": 1,
         "accepted": True, "episode_id": eid}]
    assert store.finished_episode_ids() == {eid}
    assert store.finished_evaluations() == {("seed", "p1", "validation", 0)}


def test_recording_the_same_episode_again_adds_no_rows(store):
    rec = episode("p1", False, ("too_easy", "failed_on_strong"))
    first = store.record_episode(rec, "seed", "validation", 0, 1)
    assert store.record_episode(rec, "seed", "validation", 0, 1) == first
    assert [count(store, t) for t in ("episodes", "episode_rounds", "evaluations")] == [1, 2, 1]


def test_an_evaluation_already_scored_keeps_its_first_episode(store):
    first = store.record_episode(episode("p1", False), "seed", "validation", 0, 1)
    assert store.record_episode(episode("p1", True), "seed", "validation", 0, 1) == first
    assert count(store, "episodes") == 1 and store.candidate_scores() == {"seed": (0.0, 1)}


def test_the_same_record_for_two_candidates_is_two_episodes(store):
    to_scored(store, "c1", 1)
    a = store.record_episode(episode("p1", True), "seed", "validation", 0, 1)
    b = store.record_episode(episode("p1", True), "c1", "validation", 0, 1)
    assert a != b and count(store, "episodes") == 2


def test_candidate_scores_average_all_validation_evaluations(store):
    to_scored(store, "c1", 1)
    store.record_episode(episode("p1", True), "seed", "validation", 0, 1)
    store.record_episode(episode("p2", False), "seed", "validation", 0, 1)
    store.record_episode(episode("p1", False), "seed", "validation", 1, 2)  # re-sampled parent
    store.record_episode(episode("t1", True), "seed", "minibatch", 0, 1)  # train papers never count
    store.record_episode(episode("p1", True), "c1", "validation", 0, 1)
    scores = store.candidate_scores()
    assert scores["seed"] == (pytest.approx(1 / 3), 3) and scores["c1"] == (1.0, 1)
    assert store.candidate_scores(accepted_only=True) == {"seed": (pytest.approx(1 / 3), 3)}
    assert queries.by_paper(store.outcomes("seed")) == {"p1": [1.0, 0.0], "p2": [0.0]}


# -- real records --------------------------------------------------------------------------------


def test_a_real_episode_record_is_stored_with_its_rounds(store):
    weak = SolverEval(solver="weak", samples=[], scores=[0.2, 0.4, 0.3], avg=0.3, max=0.4, min=0.2, passed=True)
    strong = SolverEval(solver="strong", samples=[], scores=[0.9, 0.8, 0.7], avg=0.8, max=0.9, min=0.7, passed=True)
    record = EpisodeRecord(
        paper_id="2401.00001", paper_title="A paper", method="agentic", preset="deployed", thresholds={},
        max_rounds=3, status="accepted", accepted=True, accepted_round=2,
        rounds=[RoundRecord(index=1, outcome="too_easy", failed_rule="weak_avg"),
                RoundRecord(index=2, outcome="accepted", weak=weak, strong=strong)],
        usage={"challenger": RoleUsageRecord(calls=2, cost_usd=0.5), "judge": RoleUsageRecord(cost_usd=0.25)},
        duration_ms=1234.0, simulated=True,
    )
    store.record_episode(record.model_dump(mode="json"), "seed", "validation", 0, 1)
    assert store.query("SELECT round, outcome, failed_rule, weak_avg, strong_avg FROM episode_rounds ORDER BY round") == [
        {"round": 1, "outcome": "too_easy", "failed_rule": "weak_avg", "weak_avg": None, "strong_avg": None},
        {"round": 2, "outcome": "accepted", "failed_rule": None, "weak_avg": 0.3, "strong_avg": 0.8}]
    ep = store.query("SELECT status, accepted, rounds, cost_usd, duration_ms FROM episodes")[0]
    assert ep == {"status": "accepted", "accepted": True, "rounds": 2, "cost_usd": 0.75, "duration_ms": 1234.0}
    assert EpisodeRecord.model_validate_json(store.get_blob(store.query("SELECT record_blob FROM episodes")[0]["record_blob"])) == record


@pytest.mark.parametrize("status", ["budget", "runtime_error"])
def test_an_episode_cut_short_by_the_run_is_no_evaluation(store, status):
    rec = {**episode("p1", False), "status": status}
    store.record_episode(rec, "seed", "validation", 0, 1)
    assert count(store, "episodes") == 1 and count(store, "evaluations") == 0
    assert store.finished_evaluations() == set()
