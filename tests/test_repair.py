"""Repair, never delete: every single-file corruption of harness/.git is repaired from DuckDB's
recorded commit shas, or refused with one line; the accepted history is never lost.

Real git and a real DuckDB file on tmp_path: two accepted candidates (c1 on the seed, c2 on c1)
are committed and recorded, then one file of .git is broken as a power loss or a hand edit
would break it, and the run is reopened the way `drive` does (open_harness, then reconcile)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from evolve.repair import RepairRefused, open_harness
from evolve.reconcile import reconcile
from evolve.repo import REF_PREFIX, HarnessRepo
from evolve.store import Store
from inner_loop.errors import UserError

SEED = Path(__file__).resolve().parents[1] / "harness"
PROMPT = "prompts/challenger.md"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          check=True).stdout


def accept(repo: HarnessRepo, store: Store, cid: str, iteration: int, parent: str) -> str:
    parent_sha = repo.ref_sha(parent)
    store.record_candidate(iteration, cid, parent)
    scratch = repo.scratch(parent_sha, cid)
    (scratch / PROMPT).write_text((scratch / PROMPT).read_text() + f"\nIdea of {cid}.\n")
    store.record_proposal(cid, repo.diff(scratch), "diagnosis", f"idea of {cid}")
    for state in ("validating", "scoring", "scored"):
        store.record_candidate_event(cid, state)
    store.record_decision(cid, "accepted", "", "strict", 0.6, 0.4)
    sha = repo.commit_candidate(scratch, parent_sha, cid, iteration, 0.6)
    store.record_commit(cid, sha)
    repo.remove_scratch(cid)
    return sha


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The run built once; each test breaks its own copy."""
    run_dir = tmp_path_factory.mktemp("repair") / "run"
    with Store.open(run_dir, create=True) as store:
        repo, _ = open_harness(run_dir, store, SEED, "run-1")
        store.record_run("run-1", "{}", repo.tree_sha(repo.seed_sha), True)
        reconcile(repo, store)
        accept(repo, store, "c1", 1, "seed")
        c2 = accept(repo, store, "c2", 2, "c1")
        repo.point_main(c2)
        history = {c.candidate_id: c.commit_sha for c in repo.accepted_commits()}
    return run_dir, history


@pytest.fixture
def run(template, tmp_path: Path):
    source, history = template
    run_dir = tmp_path / "run"
    shutil.copytree(source, run_dir, symlinks=True)
    store = Store.open(run_dir)
    yield run_dir, store, history
    store.close()


def reopen(run_dir: Path, store: Store):
    repo, report = open_harness(run_dir, store, SEED, "run-1")
    reconcile(repo, store)
    return repo, report


def intact(repo: HarnessRepo, history: dict[str, str]) -> None:
    assert repo.candidate_refs() == history
    assert {c.candidate_id: c.commit_sha for c in repo.accepted_commits()} == history
    assert git(repo.path, "status", "--porcelain") == ""
    assert git(repo.path, "fsck", "--no-dangling").strip() == ""


def dot_git(run_dir: Path) -> Path:
    return run_dir / "harness" / ".git"


@pytest.mark.parametrize("head", ["", "\x00\x00garbage", "ref: refs/heads/gone\n"])
def test_a_broken_head_is_rewritten_and_history_kept(run, head):
    run_dir, store, history = run
    (dot_git(run_dir) / "HEAD").write_text(head)
    repo, report = reopen(run_dir, store)
    assert report.head_fixed and (dot_git(run_dir) / "HEAD").read_text() == "ref: refs/heads/main\n"
    intact(repo, history)


@pytest.mark.parametrize("cid,content", [("seed", ""), ("c1", "not a sha\n"),
                                         ("c2", "0123456789abcdef0123456789abcdef01234567\n")])
def test_an_empty_garbage_or_dangling_candidate_ref_is_restored(run, cid, content):
    run_dir, store, history = run
    (dot_git(run_dir) / (REF_PREFIX + cid)).write_text(content)
    repo, report = reopen(run_dir, store)
    assert cid in report.restored_refs
    intact(repo, history)


def test_a_candidate_ref_moved_to_another_commit_is_moved_back(run):
    run_dir, store, history = run
    git(run_dir / "harness", "update-ref", REF_PREFIX + "c2", history["seed"])
    repo, report = reopen(run_dir, store)
    assert report.restored_refs == ["c2"]
    intact(repo, history)


def test_a_deleted_candidate_ref_is_recreated(run):
    run_dir, store, history = run
    (dot_git(run_dir) / (REF_PREFIX + "seed")).unlink()
    repo, _ = reopen(run_dir, store)
    intact(repo, history)


@pytest.mark.parametrize("cut", [0.3, 0.95])
def test_a_truncated_packed_refs_is_repaired(run, cut):
    run_dir, store, history = run
    git(run_dir / "harness", "pack-refs", "--all")
    packed = dot_git(run_dir) / "packed-refs"
    data = packed.read_bytes()
    packed.write_bytes(data[:int(len(data) * cut)])
    repo, report = reopen(run_dir, store)
    assert "packed-refs" in report.set_aside
    intact(repo, history)
    assert list((dot_git(run_dir) / "autodata-damaged").iterdir())  # set aside, not deleted


@pytest.mark.parametrize("content", ["", "garbage\n"])
def test_a_broken_main_branch_points_at_a_recorded_commit_again(run, content):
    run_dir, store, history = run
    (dot_git(run_dir) / "refs" / "heads" / "main").write_text(content)
    repo, report = reopen(run_dir, store)
    assert report.main_fixed and repo.main_sha() in history.values()
    intact(repo, history)


@pytest.mark.parametrize("damage", ["delete", "garbage"])
def test_a_deleted_or_garbage_index_is_rebuilt(run, damage):
    run_dir, store, history = run
    index = dot_git(run_dir) / "index"
    index.unlink() if damage == "delete" else index.write_bytes(b"DIRC garbage")
    repo, report = reopen(run_dir, store)
    assert report.index_rebuilt and index.is_file()
    intact(repo, history)


def test_a_deleted_git_config_is_rewritten(run):
    run_dir, store, history = run
    (dot_git(run_dir) / "config").unlink()
    repo, report = reopen(run_dir, store)
    assert report.config_fixed
    intact(repo, history)


def _object_file(run_dir: Path, sha: str) -> Path:
    return dot_git(run_dir) / "objects" / sha[:2] / sha[2:]


def test_a_missing_commit_object_is_refused_in_one_line_and_nothing_changes(run):
    run_dir, store, history = run
    _object_file(run_dir, history["c1"]).unlink()
    before = sorted(str(p) for p in dot_git(run_dir).rglob("*"))
    with pytest.raises(RepairRefused) as exc:
        open_harness(run_dir, store, SEED, "run-1")
    line = str(exc.value)
    assert "\n" not in line and "its commit" in line and history["c1"][:12] in line
    assert "accepted candidate c1" in line and "restore harness/.git from a backup" in line
    assert sorted(str(p) for p in dot_git(run_dir).rglob("*")) == before


def test_a_missing_blob_of_a_recorded_commit_is_refused(run):
    run_dir, store, history = run
    blob = git(run_dir / "harness", "rev-parse", f"{history['c2']}:{PROMPT}").strip()
    _object_file(run_dir, blob).unlink()
    with pytest.raises(RepairRefused, match="an object of its files"):
        open_harness(run_dir, store, SEED, "run-1")


def test_a_deleted_git_folder_of_a_recorded_run_is_refused_not_reinitialised(run):
    run_dir, store, _ = run
    shutil.rmtree(dot_git(run_dir))
    with pytest.raises(RepairRefused, match="is missing but DuckDB records 3 accepted"):
        open_harness(run_dir, store, SEED, "run-1")
    assert not dot_git(run_dir).exists()


def test_init_never_deletes_a_repo_that_holds_refs(tmp_path: Path):
    repo = HarnessRepo.init(tmp_path / "run", SEED, "run-1")
    (repo.path / ".git" / (REF_PREFIX + "seed")).write_text("")
    with pytest.raises(UserError, match="not re-initialised"):
        HarnessRepo.init(tmp_path / "run", SEED, "run-1")
    assert (repo.path / ".git" / "objects").is_dir()
