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
from inner_loop.harness import Manifest
from evolve.repo import ChangedPath, HarnessRepo
from evolve.validate import check_changes, smoke_reason

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
