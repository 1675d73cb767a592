"""validate.check_changes rejects each class of bad diff before anything is spent on it.

Diffs come from real git: a run's harness repo (evolve.repo) with a scratch worktree edited the
way an implementer could (or could try to) edit it."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
from harness_fixtures import MINIMAL_MANIFEST

from inner_loop.episode import EpisodeRecord
from inner_loop.harness import MAX_FILES, Manifest
from evolve.changes import ChangedPath
from evolve.repo import HarnessRepo
from evolve.validate import archive_reason, check_changes, check_tree, same_tree, smoke_reason

MANIFEST = MINIMAL_MANIFEST


@pytest.fixture
def scratch(tmp_path: Path) -> tuple[HarnessRepo, Path]:
    seed = tmp_path / "seed"
    (seed / "prompts").mkdir(parents=True)
    (seed / "harness.toml").write_text(MANIFEST)
    (seed / "prompts" / "challenger.md").write_text("Read $paper and ask one hard question.\n")
    (seed / "agent.py").write_text("def run_episode(ctx):\n    return None\n")
    repo = HarnessRepo.init(tmp_path / "run", seed, "test-run")
    return repo, repo.scratch(repo.seed_sha, "c1")


def check(scratch: tuple[HarnessRepo, Path]) -> str | None:
    """Check the edited scratch against the PARENT's manifest (the committed harness.toml)."""
    repo, tree = scratch
    manifest = Manifest.model_validate(tomllib.loads(MANIFEST))
    return check_changes(tree, manifest, repo.changed_paths(tree))


def test_valid_prompt_edit_passes(scratch):
    (scratch[1] / "prompts" / "challenger.md").write_text("Read $paper carefully.\n")
    assert check(scratch) is None


def test_new_editable_file_passes(scratch):
    (scratch[1] / "helpers.py").write_text("X = 1\n")
    assert check(scratch) is None


def test_empty_diff_is_no_change(scratch):
    assert check(scratch) == "no change"


def test_protected_path_is_rejected(scratch):
    (scratch[1] / "harness.toml").write_text(MANIFEST.replace('"*.py"', '"**"'))
    assert check(scratch) == "protected path changed: harness.toml"


def test_file_outside_the_globs_is_rejected(scratch):
    (scratch[1] / "notes.txt").write_text("hello\n")
    assert check(scratch) == "protected path changed: notes.txt"


def test_deleted_manifest_is_rejected(scratch):
    (scratch[1] / "harness.toml").unlink()
    assert check(scratch) == "manifest deleted: harness.toml"


def test_renamed_manifest_is_rejected(scratch):
    (scratch[1] / "harness.toml").rename(scratch[1] / "manifest.py")
    assert check(scratch) == "manifest renamed: harness.toml -> manifest.py"


@pytest.mark.parametrize("path", ["../evil.py", "/tmp/evil.py", "prompts/../../x.md"])
def test_escaping_path_is_rejected(scratch, path: str):
    # git never reports such a path; the check still refuses one whatever produced it
    change = ChangedPath(path=path, status="added", letter="A", old_mode="000000",
                         new_mode="100644", symlink=False, submodule=False, binary=False,
                         size_bytes=1, added_lines=1, deleted_lines=0)
    manifest = Manifest.model_validate(tomllib.loads(MANIFEST))
    assert check_changes(scratch[1], manifest, [change]).startswith("path escapes")


def test_symlink_is_rejected(scratch, tmp_path: Path):
    (tmp_path / "target.md").write_text("x")
    os.symlink(tmp_path / "target.md", scratch[1] / "prompts" / "link.md")
    assert check(scratch) == "symlink not allowed: prompts/link.md"


def test_binary_file_is_rejected(scratch):
    (scratch[1] / "blob.py").write_bytes(b"x = 1\n\0\0\0")
    assert check(scratch) == "binary file not allowed: blob.py"


def test_oversized_file_is_rejected(scratch):
    (scratch[1] / "prompts" / "big.md").write_text("x" * (256 * 1024 + 1))
    assert check(scratch).startswith("file too large: prompts/big.md")


def test_unknown_template_variable_fails_to_load(scratch):
    (scratch[1] / "prompts" / "challenger.md").write_text("Read $paper and $secret.\n")
    reason = check(scratch)
    assert reason.startswith("harness does not load:") and "secret" in reason


def test_syntax_error_fails_to_load(scratch):
    (scratch[1] / "agent.py").write_text("def run_episode(ctx:\n")
    assert check(scratch).startswith("harness does not load: agent.py")


def test_deleted_entry_fails_to_load(scratch):
    (scratch[1] / "agent.py").unlink()
    assert check(scratch).startswith("harness does not load")


def _episode(status: str, error: str | None = None) -> EpisodeRecord:
    return EpisodeRecord(paper_id="p", paper_title="T", method="agentic", preset="deployed",
                         thresholds={}, max_rounds=1, status=status, error=error)


def test_smoke_reason_flags_a_harness_error():
    assert smoke_reason(_episode("harness_error", "NameError: x\nline 2")) == \
        "smoke episode: harness error: NameError: x line 2"


def test_smoke_reason_flags_a_timeout():
    assert smoke_reason(_episode("timeout", "episode exceeded 300s")).startswith(
        "smoke episode: timeout")


def test_smoke_reason_accepts_an_exhausted_episode():
    assert smoke_reason(_episode("exhausted")) is None


# --- issue 22: protected whatever the globs say; lstat before git; the committed tree ----------

WIDE = MANIFEST.replace('editable = ["prompts/*.md", "*.py"]', 'editable = ["*", "*/*"]')


def check_wide(scratch: tuple[HarnessRepo, Path]) -> str | None:
    repo, tree = scratch
    return check_changes(tree, Manifest.model_validate(tomllib.loads(WIDE)),
                         repo.changed_paths(tree))


@pytest.mark.parametrize("path", [".gitattributes", ".gitignore", ".gitmodules",
                                  "prompts/.gitattributes", "harness.toml"])
def test_git_control_files_and_manifest_are_protected_under_wide_globs(scratch, path):
    assert Manifest.model_validate(tomllib.loads(WIDE)).is_editable("anything.py")
    (scratch[1] / path).write_text("* export-ignore\n")
    assert check_wide(scratch) == f"protected path changed: {path}"


def test_a_thousand_files_are_refused_from_lstat_before_git(scratch):
    import time

    for i in range(1000):
        (scratch[1] / f"f{i}.md").write_text("x")
    t0 = time.monotonic()
    assert check_tree(scratch[1]) == f"too many files: more than {MAX_FILES}"
    assert time.monotonic() - t0 < 2.0


def test_a_hard_link_is_refused_before_git(scratch):
    os.link(scratch[1] / "agent.py", scratch[1] / "twin.py")
    assert check_tree(scratch[1]) == "hard link not allowed: agent.py (2 links)"


def test_export_ignore_would_make_the_commit_differ_from_the_validated_files(scratch):
    repo, tree = scratch
    assert archive_reason(repo, tree, repo.staged_tree(tree)) is None
    (tree / ".gitattributes").write_text("agent.py export-ignore\n")
    reason = archive_reason(repo, tree, repo.staged_tree(tree))
    assert reason == "the committed files would differ from the validated files (git attributes?)"


def test_a_tree_seen_before_is_a_duplicate(scratch):
    repo, tree = scratch
    (tree / "prompts" / "challenger.md").write_text("Read $paper twice.\n")
    sha = repo.staged_tree(tree)
    assert same_tree(sha, {sha: "c0004-abcdef"}) == "same tree as c0004-abcdef"
    assert same_tree(sha, {repo.tree_sha(repo.seed_sha): "seed"}) is None
