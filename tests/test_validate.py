"""validate.check_changes rejects each class of bad diff before anything is spent on it."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from inner_loop.harness import Manifest
from inner_loop.episode import EpisodeRecord
from evolve.validate import Change, check_changes, smoke_reason

MANIFEST = """\
[harness]
entry = "agent.py"
editable = ["prompts/*.md", "*.py"]

[prompts.challenger]
file = "prompts/challenger.md"
role = "challenger"
variables = ["paper"]
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "wt"
    (root / "prompts").mkdir(parents=True)
    (root / "harness.toml").write_text(MANIFEST)
    (root / "prompts" / "challenger.md").write_text("Read $paper and ask one hard question.\n")
    (root / "agent.py").write_text("def run_episode(ctx):\n    return None\n")
    return root


def check(tree: Path, *changes: Change) -> str | None:
    """Check the changed tree against the PARENT's manifest (the committed harness.toml)."""
    manifest = Manifest.model_validate(tomllib.loads(MANIFEST))
    return check_changes(tree, manifest, list(changes))


def test_valid_prompt_edit_passes(tree: Path):
    (tree / "prompts" / "challenger.md").write_text("Read $paper carefully.\n")
    assert check(tree, Change(status="M", path="prompts/challenger.md")) is None


def test_empty_diff_is_no_change(tree: Path):
    assert check(tree) == "no change"


def test_protected_path_is_rejected(tree: Path):
    (tree / "harness.toml").write_text(MANIFEST.replace('"*.py"', '"**"'))
    reason = check(tree, Change(status="M", path="harness.toml"))
    assert reason == "protected path changed: harness.toml"


def test_deleted_manifest_is_rejected(tree: Path):
    (tree / "harness.toml").unlink()
    assert check(tree, Change(status="D", path="harness.toml")) == "manifest deleted: harness.toml"


def test_renamed_manifest_is_rejected(tree: Path):
    (tree / "harness.toml").rename(tree / "manifest.py")
    reason = check(tree, Change(status="R", path="manifest.py", old_path="harness.toml"))
    assert reason == "manifest renamed: harness.toml -> manifest.py"


@pytest.mark.parametrize("path", ["../evil.py", "/tmp/evil.py", "prompts/../../x.md"])
def test_escaping_path_is_rejected(tree: Path, path: str):
    assert check(tree, Change(status="A", path=path)).startswith("path escapes")


def test_symlink_is_rejected(tree: Path, tmp_path: Path):
    (tmp_path / "target.md").write_text("x")
    os.symlink(tmp_path / "target.md", tree / "prompts" / "link.md")
    assert check(tree, Change(status="A", path="prompts/link.md")) == \
        "symlink not allowed: prompts/link.md"


def test_binary_file_is_rejected(tree: Path):
    (tree / "blob.py").write_bytes(b"x = 1\n\0\0\0")
    assert check(tree, Change(status="A", path="blob.py")) == "binary file not allowed: blob.py"


def test_oversized_file_is_rejected(tree: Path):
    (tree / "prompts" / "big.md").write_text("x" * (256 * 1024 + 1))
    assert check(tree, Change(status="A", path="prompts/big.md")).startswith(
        "file too large: prompts/big.md")


def test_unknown_template_variable_fails_to_load(tree: Path):
    (tree / "prompts" / "challenger.md").write_text("Read $paper and $secret.\n")
    reason = check(tree, Change(status="M", path="prompts/challenger.md"))
    assert reason.startswith("harness does not load:") and "secret" in reason


def test_syntax_error_fails_to_load(tree: Path):
    (tree / "agent.py").write_text("def run_episode(ctx:\n")
    reason = check(tree, Change(status="M", path="agent.py"))
    assert reason.startswith("harness does not load: agent.py")


def test_deleted_entry_fails_to_load(tree: Path):
    (tree / "agent.py").unlink()
    assert check(tree, Change(status="D", path="agent.py")).startswith("harness does not load")


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
