"""Reconcile after a crash: the harness git repo and the run's database brought back into
agreement (commits made before the crash completed, lost commits redone from the recorded diff,
refs without a committing event deleted, disagreements refused). Real git on tmp_path."""

import pytest

from evolve.reconcile import reconcile
from evolve.repo import REF_PREFIX, HarnessRepo
from evolve.store import Store
from inner_loop.errors import UserError
from test_repo import PROMPT, SEED, all_subjects, edit, git


@pytest.fixture
def repo(tmp_path):
    return HarnessRepo.init(tmp_path / "run", SEED, "run-1")


@pytest.fixture
def run(repo):
    store = Store.open(repo.run_dir, create=True)
    store.record_run("run-1", "{}", repo.tree_sha(repo.seed_sha), True)
    store.record_seed(repo.seed_sha)
    yield repo, store
    store.close()


def scored_candidate(repo, store, cid, iteration, parent="seed", decision=None):
    parent_sha = repo.ref_sha(parent)
    store.record_candidate(iteration, cid, parent)
    store.record_candidate_event(cid, "proposing")
    scratch = repo.scratch(parent_sha, cid)
    edit(scratch, f"\nIdea of {cid}.\n")
    store.record_proposal(cid, repo.diff(scratch), "diagnosis", f"idea of {cid}")
    for state in ("validating", "scoring", "scored"):
        store.record_candidate_event(cid, state)
    if decision:
        store.record_decision(cid, decision, "", "strict", 0.6, 0.4)
    return scratch, parent_sha


def test_reconcile_completes_a_commit_made_before_the_crash(run):
    repo, store = run
    scratch, parent = scored_candidate(repo, store, "c1", 1, decision="accepted")
    sha = repo.commit_candidate(scratch, parent, "c1", 1, 0.6)  # crash before record_commit
    report = reconcile(repo, store)
    assert report.completed == ["c1"] and not report.recommitted
    assert store.attempt_states()["c1"] == "accepted" and store.candidate_status("c1").commit_sha == sha
    assert len(all_subjects(repo)) == 2


def test_reconcile_recommits_from_the_recorded_diff_when_the_commit_was_lost(run):
    repo, store = run
    scratch, _ = scored_candidate(repo, store, "c1", 1, decision="accepted")
    expected = (scratch / PROMPT).read_text()  # crash after `committing`, before git commit
    report = reconcile(repo, store)
    assert report.recommitted == ["c1"] and report.removed_scratch == ["c1"]
    sha = repo.ref_sha("c1")
    assert store.candidate_status("c1").commit_sha == sha and store.attempt_states()["c1"] == "accepted"
    assert git(repo.path, "show", f"{sha}:{PROMPT}") == expected
    assert repo.trailers(sha)["Autodata-Validation-Pass-Rate"] == "0.6000"


def test_reconcile_deletes_a_ref_without_a_committing_event(run):
    repo, store = run
    scratch, parent = scored_candidate(repo, store, "c1", 1)  # scored, never decided
    sha = repo.commit_candidate(scratch, parent, "c1", 1, 0.6)
    repo.point_main(sha)
    report = reconcile(repo, store)
    assert report.deleted_refs == ["c1"] and repo.ref_sha("c1") is None
    assert repo.main_sha() == repo.seed_sha
    assert [c.candidate_id for c in repo.accepted_commits()] == ["seed"]
    assert store.attempt_states()["c1"] == "scored"


def test_reconcile_restores_the_ref_of_an_accepted_candidate(run):
    repo, store = run
    scratch, parent = scored_candidate(repo, store, "c1", 1, decision="accepted")
    sha = repo.commit_candidate(scratch, parent, "c1", 1, 0.6)
    store.record_commit("c1", sha)
    repo.delete_ref("c1")
    assert reconcile(repo, store).restored_refs == ["c1"] and repo.ref_sha("c1") == sha


def test_reconcile_records_a_seed_missing_from_the_database(repo, tmp_path):
    with Store.open(repo.run_dir, create=True) as store:
        assert reconcile(repo, store).seed_recorded
        assert store.candidate_status("seed").commit_sha == repo.seed_sha


def test_reconcile_of_a_consistent_run_changes_nothing(run):
    repo, store = run
    scratch, parent = scored_candidate(repo, store, "c1", 1, decision="accepted")
    store.record_commit("c1", repo.commit_candidate(scratch, parent, "c1", 1, 0.6))
    scored_candidate(repo, store, "c2", 2, parent="c1", decision="rejected")
    reconcile(repo, store)
    report = reconcile(repo, store)
    assert report.model_dump() == {"seed_recorded": False, "completed": [], "recommitted": [],
                                   "restored_refs": [], "deleted_refs": [], "removed_scratch": []}
    assert sorted(repo.candidate_refs()) == ["c1", "seed"]


def test_reconcile_refuses_a_ref_that_disagrees_with_the_database(run):
    repo, store = run
    scratch, parent = scored_candidate(repo, store, "c1", 1, decision="accepted")
    store.record_commit("c1", repo.commit_candidate(scratch, parent, "c1", 1, 0.6))
    git(repo.path, "update-ref", REF_PREFIX + "c1", repo.seed_sha)
    with pytest.raises(UserError, match="changed by hand"):
        reconcile(repo, store)
