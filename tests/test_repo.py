"""The harness git repo: seed commit, scratch worktrees, git diffs, candidate commits
(reconcile after a crash: tests/test_reconcile.py).

Real git on tmp_path, seeded with the project's own harness/ directory."""

import os
import subprocess
from pathlib import Path

import pytest

from evolve.repo import HarnessRepo, check_candidate_id
from inner_loop.errors import UserError

SEED = Path(__file__).resolve().parents[1] / "harness"
PROMPT = "prompts/challenger.md"


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def repo(tmp_path):
    return HarnessRepo.init(tmp_path / "run", SEED, "run-1")


def edit(scratch, text="\nAsk about one concrete mechanism of the paper.\n"):
    path = scratch / PROMPT
    path.write_text(path.read_text() + text)


def all_subjects(repo):
    return git(repo.path, "log", "--all", "--format=%s").splitlines()


# -- seed ----------------------------------------------------------------------------------------


def test_init_commits_the_seed_harness_as_the_root_commit(repo):
    assert (repo.path / "harness.toml").read_text() == (SEED / "harness.toml").read_text()
    assert git(repo.path, "rev-list", "--all").split() == [repo.seed_sha]
    assert repo.trailers(repo.seed_sha) == {"Autodata-Run": "run-1", "Autodata-Candidate": "seed"}
    assert repo.candidate_refs() == {"seed": repo.seed_sha}
    assert repo.main_sha() == repo.seed_sha and repo.run_id == "run-1"
    assert git(repo.path, "status", "--porcelain") == ""
    assert git(repo.path, "ls-files").split() == sorted(
        str(p.relative_to(SEED)) for p in SEED.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def test_init_again_opens_the_same_repo(repo):
    again = HarnessRepo.init(repo.run_dir, SEED, "run-1")
    assert again.seed_sha == repo.seed_sha


def test_init_redoes_a_half_made_repo(tmp_path):
    run = tmp_path / "run"
    (run / "harness").mkdir(parents=True)
    (run / "harness" / "leftover.txt").write_text("crash during init")
    repo = HarnessRepo.init(run, SEED, "run-1")
    assert not (repo.path / "leftover.txt").exists() and repo.ref_sha("seed")


def test_init_from_a_missing_seed_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="seed harness not found"):
        HarnessRepo.init(tmp_path / "run", tmp_path / "nope", "run-1")


def test_open_a_folder_without_a_harness_repo_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not an autodata harness repo"):
        HarnessRepo.open(tmp_path)


# -- scratch and diffs ---------------------------------------------------------------------------


def test_scratch_is_a_worktree_at_the_parent_and_diff_comes_from_git(repo):
    scratch = repo.scratch(repo.seed_sha, "c1")
    assert scratch == repo.run_dir / "scratch" / "c1"
    assert repo.diff(scratch) == ""
    edit(scratch)
    diff = repo.diff(scratch)
    assert diff.startswith(f"diff --git a/{PROMPT} b/{PROMPT}\n")
    assert "+Ask about one concrete mechanism of the paper." in diff and diff.endswith("\n")
    assert (repo.path / PROMPT).read_text() == (SEED / PROMPT).read_text()  # main untouched


def test_changed_paths_report_status_modes_symlinks_and_binaries(repo):
    scratch = repo.scratch(repo.seed_sha, "c1")
    edit(scratch)
    (scratch / "helper.py").write_text("def f():\n    return 1\n")
    os.rename(scratch / "parse.py", scratch / "parsing2.py")
    (scratch / "tools.py").unlink()
    os.symlink("/etc/passwd", scratch / "prompts" / "leak.md")
    (scratch / "prompts" / "blob.md").write_bytes(b"\x00\x01binary")
    (scratch / "agent.py").chmod(0o755)
    changes = {c.path: c for c in repo.changed_paths(scratch)}
    assert changes[PROMPT].status == "modified" and changes[PROMPT].added_lines == 2
    assert changes["helper.py"].status == "added" and changes["helper.py"].size_bytes == len("def f():\n    return 1\n")
    assert changes["parsing2.py"].status == "renamed" and changes["parsing2.py"].old_path == "parse.py"
    assert changes["tools.py"].status == "deleted" and changes["tools.py"].size_bytes is None
    assert changes["prompts/leak.md"].symlink and changes["prompts/leak.md"].new_mode == "120000"
    assert changes["prompts/blob.md"].binary and not changes["helper.py"].binary
    assert changes["agent.py"].status == "modified" and changes["agent.py"].new_mode == "100755"
    assert {c.letter for c in changes.values()} == {"M", "A", "R", "D"}


def test_ignored_files_are_not_part_of_the_candidate(repo):
    scratch = repo.scratch(repo.seed_sha, "c1")
    (scratch / ".gitignore").write_text("*.log\n")
    (scratch / "debug.log").write_text("noise")
    assert [c.path for c in repo.changed_paths(scratch)] == [".gitignore"]
    assert not (scratch / "debug.log").exists()


def test_remove_scratch_leaves_no_worktree_behind(repo):
    scratch = repo.scratch(repo.seed_sha, "c1")
    edit(scratch)
    assert repo.remove_scratch("c1") is True
    assert not scratch.exists()
    assert git(repo.path, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert repo.remove_scratch("c1") is False


def test_scratch_rebuilt_from_a_recorded_diff_has_the_same_diff(repo):
    scratch = repo.scratch(repo.seed_sha, "c1")
    edit(scratch)
    os.rename(scratch / "parse.py", scratch / "parse_json.py")
    diff = repo.diff(scratch)
    repo.remove_scratch("c1")
    rebuilt = repo.scratch(repo.seed_sha, "c1", diff=diff)
    assert repo.diff(rebuilt) == diff


@pytest.mark.parametrize("bad", ["../x", "a b", "x.lock", "", "-rf", "a/b"])
def test_candidate_ids_must_be_safe_ref_and_folder_names(bad):
    with pytest.raises(ValueError):
        check_candidate_id(bad)


# -- commits -------------------------------------------------------------------------------------


def test_accepted_candidate_commit_has_its_parent_trailers_and_ref(repo):
    scratch = repo.scratch(repo.seed_sha, "c1")
    edit(scratch)
    sha = repo.commit_candidate(scratch, repo.seed_sha, "c1", 1, 0.44, "ask about one mechanism")
    assert git(repo.path, "rev-parse", sha + "^").strip() == repo.seed_sha
    assert repo.trailers(sha) == {
        "Autodata-Run": "run-1", "Autodata-Iteration": "1", "Autodata-Parent": "seed",
        "Autodata-Candidate": "c1", "Autodata-Validation-Pass-Rate": "0.4400"}
    assert repo.ref_sha("c1") == sha
    assert git(repo.path, "show", f"{sha}:{PROMPT}") == (scratch / PROMPT).read_text()
    assert git(repo.path, "log", "-1", "--format=%s", sha).strip() == "c1: ask about one mechanism"


def test_git_log_shows_exactly_the_accepted_candidates(repo):
    accepted = repo.scratch(repo.seed_sha, "c1")
    edit(accepted)
    repo.commit_candidate(accepted, repo.seed_sha, "c1", 1, 0.5)
    rejected = repo.scratch(repo.seed_sha, "c2")
    edit(rejected, "\nBe weak.\n")
    repo.diff(rejected)
    for cid in ("c1", "c2"):
        repo.remove_scratch(cid)
    assert all_subjects(repo) == ["Candidate c1", "Seed harness"]
    assert [c.candidate_id for c in repo.accepted_commits()] == ["seed", "c1"]


def test_commit_from_the_recorded_diff_has_the_same_tree(repo):
    scratch = repo.scratch(repo.seed_sha, "c1")
    edit(scratch)
    os.rename(scratch / "parse.py", scratch / "parse_json.py")
    (scratch / "tools.py").unlink()
    diff = repo.diff(scratch)
    from_scratch = repo.commit_candidate(scratch, repo.seed_sha, "c1", 1, 0.5)
    from_diff = repo.commit_candidate(diff, repo.seed_sha, "c1-again", 1, 0.5)
    assert repo.tree_sha(from_scratch) == repo.tree_sha(from_diff)


def test_committing_twice_returns_the_first_commit(repo):
    scratch = repo.scratch(repo.seed_sha, "c1")
    edit(scratch)
    first = repo.commit_candidate(scratch, repo.seed_sha, "c1", 1, 0.5)
    assert repo.commit_candidate(scratch, repo.seed_sha, "c1", 1, 0.5) == first
    assert len(all_subjects(repo)) == 2


def test_commit_refuses_a_scratch_that_is_not_at_the_parent(repo):
    first = repo.scratch(repo.seed_sha, "c1")
    edit(first)
    c1 = repo.commit_candidate(first, repo.seed_sha, "c1", 1, 0.5)
    scratch = repo.scratch(repo.seed_sha, "c2")
    with pytest.raises(ValueError, match="not the parent"):
        repo.commit_candidate(scratch, c1, "c2", 2, 0.6)


def test_lineage_of_commits_is_readable_from_trailers(repo):
    s1 = repo.scratch(repo.seed_sha, "c1")
    edit(s1)
    c1 = repo.commit_candidate(s1, repo.seed_sha, "c1", 1, 0.5)
    s2 = repo.scratch(c1, "c2")
    edit(s2, "\nNever leak the answer in the context.\n")
    c2 = repo.commit_candidate(s2, c1, "c2", 4, 0.625)
    commits = repo.accepted_commits()
    assert [(c.candidate_id, c.parent_id, c.iteration, c.pass_rate) for c in commits] == [
        ("seed", None, 0, None), ("c1", "seed", 1, 0.5), ("c2", "c1", 4, 0.625)]
    assert commits[2].parent_sha == c1 and commits[2].commit_sha == c2 and commits[2].run_id == "run-1"


def test_point_main_moves_the_branch_and_the_files(repo):
    scratch = repo.scratch(repo.seed_sha, "c1")
    edit(scratch)
    sha = repo.commit_candidate(scratch, repo.seed_sha, "c1", 1, 0.5)
    repo.point_main(sha)
    assert repo.main_sha() == sha and (repo.path / PROMPT).read_text() == (scratch / PROMPT).read_text()
    assert git(repo.path, "status", "--porcelain") == ""


def test_checkout_exports_the_files_of_a_commit(repo):
    scratch = repo.scratch(repo.seed_sha, "c1")
    edit(scratch)
    sha = repo.commit_candidate(scratch, repo.seed_sha, "c1", 1, 0.5)
    out = repo.checkout(sha)
    assert out == repo.run_dir / "checkouts" / sha and not (out / ".git").exists()
    assert (out / PROMPT).read_text() == (scratch / PROMPT).read_text()
    assert repo.checkout(sha) == out

