"""The harness loader: a harness is validated completely before anything runs it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from inner_loop.harness import (
    MAX_FILE_BYTES, HarnessInvalid, PromptRenderError, harness_digest, load_harness,
)

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "harness"

MANIFEST = """
[harness]
entry = "agent.py"
editable = ["prompts/*.md", "*.py"]

[prompts.challenger]
file = "prompts/challenger.md"
role = "challenger"
variables = ["title", "paper", "feedback"]
"""


@pytest.fixture
def harness_dir(tmp_path: Path) -> Path:
    d = tmp_path / "h"
    (d / "prompts").mkdir(parents=True)
    (d / "harness.toml").write_text(MANIFEST)
    (d / "agent.py").write_text("def run_episode(ctx):\n    return None\n")
    (d / "prompts" / "challenger.md").write_text("Paper $title:\n${paper}\nCosts $$5.\n$feedback\n")
    return d


def test_valid_harness_loads_and_renders(harness_dir: Path) -> None:
    h = load_harness(harness_dir)
    text = h.render("challenger", title="T", paper="P", feedback="")
    assert text == "Paper T:\nP\nCosts $5.\n\n"
    assert h.digest == harness_digest(harness_dir)


def test_seed_harness_is_valid() -> None:
    h = load_harness(SEED)
    assert {"orchestrator", "challenger", "verifier", "refinement"} <= set(h.templates)
    assert h.manifest.is_editable("prompts/challenger.md")
    assert h.manifest.is_editable("tools.py")
    assert not h.manifest.is_editable("harness.toml")


def test_missing_manifest_is_invalid(harness_dir: Path) -> None:
    (harness_dir / "harness.toml").unlink()
    with pytest.raises(HarnessInvalid, match="manifest missing"):
        load_harness(harness_dir)


def test_manifest_with_unknown_key_is_invalid(harness_dir: Path) -> None:
    (harness_dir / "harness.toml").write_text(MANIFEST + "\n[extra]\nx = 1\n")
    with pytest.raises(HarnessInvalid, match="extra"):
        load_harness(harness_dir)


def test_prompt_role_must_be_a_harness_role(harness_dir: Path) -> None:
    (harness_dir / "harness.toml").write_text(MANIFEST.replace('role = "challenger"',
                                                               'role = "weak_solver"'))
    with pytest.raises(HarnessInvalid, match="not a harness role"):
        load_harness(harness_dir)


def test_unknown_template_variable_is_invalid(harness_dir: Path) -> None:
    (harness_dir / "prompts" / "challenger.md").write_text("Paper $title $secret_variable\n")
    with pytest.raises(HarnessInvalid, match="undeclared variables \\['secret_variable'\\]"):
        load_harness(harness_dir)


def test_malformed_placeholder_is_invalid(harness_dir: Path) -> None:
    (harness_dir / "prompts" / "challenger.md").write_text("It costs $5 for $title\n")
    with pytest.raises(HarnessInvalid, match="invalid placeholder"):
        load_harness(harness_dir)


def test_missing_prompt_file_is_invalid(harness_dir: Path) -> None:
    (harness_dir / "prompts" / "challenger.md").unlink()
    with pytest.raises(HarnessInvalid, match="not found"):
        load_harness(harness_dir)


def test_non_utf8_prompt_is_invalid(harness_dir: Path) -> None:
    (harness_dir / "prompts" / "challenger.md").write_bytes(b"caf\xe9 $title\n")
    with pytest.raises(HarnessInvalid, match="not UTF-8"):
        load_harness(harness_dir)


def test_syntax_error_is_invalid(harness_dir: Path) -> None:
    (harness_dir / "tools.py").write_text("def broken(:\n    pass\n")
    with pytest.raises(HarnessInvalid, match="tools.py:1: does not compile"):
        load_harness(harness_dir)


def test_python_is_compiled_not_imported(harness_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    (harness_dir / "tools.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    load_harness(harness_dir)
    assert not marker.exists()


def test_symlink_is_invalid(harness_dir: Path) -> None:
    os.symlink("/etc/hostname", harness_dir / "prompts" / "link.md")
    with pytest.raises(HarnessInvalid, match="symlink not allowed: prompts/link.md"):
        load_harness(harness_dir)


def test_symlinked_directory_is_invalid(harness_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", harness_dir / "sub")
    with pytest.raises(HarnessInvalid, match="symlink not allowed: sub"):
        load_harness(harness_dir)


@pytest.mark.parametrize("path", ["../outside.md", "/etc/passwd", "prompts/../../x.md"])
def test_prompt_path_escaping_the_dir_is_invalid(harness_dir: Path, path: str) -> None:
    (harness_dir / "harness.toml").write_text(MANIFEST.replace("prompts/challenger.md", path))
    with pytest.raises(HarnessInvalid, match="relative path inside the harness directory"):
        load_harness(harness_dir)


def test_entry_escaping_the_dir_is_invalid(harness_dir: Path) -> None:
    (harness_dir / "harness.toml").write_text(MANIFEST.replace('"agent.py"', '"../agent.py"'))
    with pytest.raises(HarnessInvalid, match="harness.entry"):
        load_harness(harness_dir)


def test_binary_file_is_invalid(harness_dir: Path) -> None:
    (harness_dir / "model.bin").write_bytes(b"\x7fELF\x00\x01\x02")
    with pytest.raises(HarnessInvalid, match="binary file not allowed: model.bin"):
        load_harness(harness_dir)


def test_huge_file_is_invalid(harness_dir: Path) -> None:
    (harness_dir / "prompts" / "big.md").write_text("x" * (MAX_FILE_BYTES + 1))
    with pytest.raises(HarnessInvalid, match="file too large: prompts/big.md"):
        load_harness(harness_dir)


def test_missing_entry_is_invalid(harness_dir: Path) -> None:
    (harness_dir / "agent.py").unlink()
    with pytest.raises(HarnessInvalid, match="entry agent.py not found"):
        load_harness(harness_dir)


def test_git_dir_is_ignored(harness_dir: Path) -> None:
    before = harness_digest(harness_dir)
    (harness_dir / ".git").mkdir()
    (harness_dir / ".git" / "index").write_bytes(b"\x00binary git index")
    load_harness(harness_dir)
    assert harness_digest(harness_dir) == before


def test_git_worktree_pointer_file_is_ignored(harness_dir: Path) -> None:
    before = harness_digest(harness_dir)
    (harness_dir / ".git").write_text("gitdir: /somewhere/.git/worktrees/h\n")
    assert load_harness(harness_dir).digest == before == harness_digest(harness_dir)


def test_digest_changes_with_content(harness_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(harness_dir, copy)
    assert harness_digest(copy) == harness_digest(harness_dir)
    (copy / "prompts" / "challenger.md").write_text("Paper $title\n")
    assert harness_digest(copy) != harness_digest(harness_dir)


def test_render_rejects_missing_and_undeclared_variables(harness_dir: Path) -> None:
    h = load_harness(harness_dir)
    with pytest.raises(PromptRenderError, match="missing variable 'feedback'"):
        h.render("challenger", title="T", paper="P")
    with pytest.raises(PromptRenderError, match="undeclared variables \\['other'\\]"):
        h.render("challenger", title="T", paper="P", feedback="", other="x")
    with pytest.raises(PromptRenderError, match="unknown prompt"):
        h.render("verifier")


def test_editable_globs_match_segment_by_segment(harness_dir: Path) -> None:
    m = load_harness(harness_dir).manifest
    assert m.is_editable("agent.py")
    assert not m.is_editable("sub/agent.py")
    assert not m.is_editable("prompts/sub/x.md")
