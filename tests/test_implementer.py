"""The implementer's tools: confined to the scratch worktree and the editable globs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from harness_fixtures import MINIMAL_MANIFEST

from inner_loop.harness import Manifest, load_harness
from evolve.workspace import TOOLS, Workspace, list_harness_files

MANIFEST = MINIMAL_MANIFEST


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "wt"
    (root / "prompts").mkdir(parents=True)
    (root / "harness.toml").write_text(MANIFEST)
    (root / "prompts" / "challenger.md").write_text("Read $paper and ask one hard question.\n")
    (root / "agent.py").write_text("def run_episode(ctx):\n    return None\n")
    (tmp_path / "outside.txt").write_text("secret")
    return root


@pytest.fixture
def ws(tree: Path) -> Workspace:
    return Workspace(tree, load_harness(tree).manifest)


def call(ws: Workspace, name: str, **args) -> dict:
    return ws.call(name, json.dumps(args))


def test_list_files_marks_editable_and_protected(ws: Workspace):
    out = call(ws, "list_files")
    assert out["ok"] is True
    marks = {f["path"]: f["editable"] for f in out["files"]}
    assert marks == {"agent.py": True, "harness.toml": False, "prompts/challenger.md": True}


def test_read_file_reads_protected_manifest(ws: Workspace):
    out = call(ws, "read_file", path="harness.toml")
    assert out["ok"] is True and "editable" in out["content"]


def test_write_file_changes_an_editable_file(ws: Workspace, tree: Path):
    out = call(ws, "write_file", path="prompts/challenger.md", content="New $paper prompt\n")
    assert out["ok"] is True
    assert (tree / "prompts" / "challenger.md").read_text() == "New $paper prompt\n"
    assert ws.refusals == []


def test_write_file_may_create_a_new_editable_file(ws: Workspace, tree: Path):
    assert call(ws, "write_file", path="prompts/extra.md", content="x")["ok"] is True
    assert (tree / "prompts" / "extra.md").is_file()


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/passwd", "prompts/../../outside.txt",
                                  "", ".git/config", "prompts\\..\\x.md"])
def test_escaping_paths_are_refused_and_recorded(ws: Workspace, tmp_path: Path, path: str):
    out = call(ws, "write_file", path=path, content="pwned")
    assert out["ok"] is False and out["error"].startswith("refused:")
    assert ws.refusals[-1].kind == "escape"
    assert (tmp_path / "outside.txt").read_text() == "secret"


def test_read_outside_is_refused(ws: Workspace):
    out = call(ws, "read_file", path="../outside.txt")
    assert out["ok"] is False and ws.refusals[-1].kind == "escape"


def test_symlink_is_refused(ws: Workspace, tree: Path, tmp_path: Path):
    os.symlink(tmp_path / "outside.txt", tree / "prompts" / "link.md")
    out = call(ws, "read_file", path="prompts/link.md")
    assert out["ok"] is False and "symlink" in out["error"]
    out = call(ws, "write_file", path="prompts/link.md", content="pwned")
    assert out["ok"] is False
    assert (tmp_path / "outside.txt").read_text() == "secret"


def test_protected_manifest_write_is_refused(ws: Workspace, tree: Path):
    before = (tree / "harness.toml").read_text()
    out = call(ws, "replace_in_file", path="harness.toml", old="agent.py", new="evil.py")
    assert out["ok"] is False and "protected" in out["error"]
    assert ws.refusals[-1].kind == "protected" and ws.refusals[-1].path == "harness.toml"
    assert (tree / "harness.toml").read_text() == before


def test_nested_python_file_outside_globs_is_protected(ws: Workspace):
    out = call(ws, "write_file", path="pkg/mod.py", content="x = 1\n")
    assert out["ok"] is False and ws.refusals[-1].kind == "protected"


def test_replace_in_file_requires_exactly_one_occurrence(ws: Workspace, tree: Path):
    (tree / "prompts" / "challenger.md").write_text("x x y $paper\n")
    assert "2 times" in call(ws, "replace_in_file", path="prompts/challenger.md",
                             old="x ", new="c")["error"]
    assert "0 times" in call(ws, "replace_in_file", path="prompts/challenger.md",
                             old="zzz", new="c")["error"]
    assert call(ws, "replace_in_file", path="prompts/challenger.md", old="y", new="Y")["ok"]
    assert (tree / "prompts" / "challenger.md").read_text() == "x x Y $paper\n"
    assert ws.refusals == []


def test_malformed_arguments_are_an_error_result(ws: Workspace):
    out = ws.call("read_file", "{not json")
    assert out["ok"] is False and "not valid JSON" in out["error"]
    out = ws.call("read_file", json.dumps({"file": "agent.py"}))
    assert out["ok"] is False and "bad arguments" in out["error"]


def test_unknown_tool_is_an_error_result(ws: Workspace):
    assert call(ws, "delete_file", path="agent.py")["ok"] is False


def test_finish_returns_summary(ws: Workspace):
    out = call(ws, "finish", summary="tightened the rubric rules")
    assert out == {"ok": True, "finished": True, "summary": "tightened the rubric rules"}


def test_tool_specs_cover_every_tool():
    assert [t.name for t in TOOLS] == ["list_files", "read_file", "write_file",
                                       "replace_in_file", "finish"]


def test_list_harness_files_skips_git(tree: Path):
    (tree / ".git").mkdir()
    (tree / ".git" / "HEAD").write_text("ref")
    paths = [p for p, _ in list_harness_files(tree, Manifest())]
    assert ".git/HEAD" not in paths and "agent.py" in paths


# -- the agent loop, driven by the simulated implementer, on a scratch of the real seed harness --

from inner_loop.config import load_config  # noqa: E402
from inner_loop.llm.client import LLMClient  # noqa: E402
from evolve.analyzer import Diagnosis  # noqa: E402
from evolve.implementer import run_implementer  # noqa: E402
from evolve.repo import HarnessRepo  # noqa: E402
from evolve.context import SEED_HARNESS  # noqa: E402


def diagnosis(change: str, target: str = "prompts/challenger.md") -> Diagnosis:
    return Diagnosis(summary="most rounds too easy", failure_counts={"too_easy": 5},
                     hypotheses=[{"category": "too_easy", "target": target, "change": change,
                                  "confidence": 0.8}])


@pytest.fixture
def seed_repo(tmp_path: Path) -> HarnessRepo:
    return HarnessRepo.init(tmp_path / "run", SEED_HARNESS, "test-run")


def test_agent_edits_only_editable_files_and_git_sees_the_edit(seed_repo: HarnessRepo):
    client = LLMClient(load_config())
    outcomes = []
    for i, change in enumerate([
            "Add a paper-specific self-test: could a strong model answer without the paper?",
            "Forbid context leaks: no answer fact may appear in the context.",
            "Use only positive integer weights from 1 to 7, no negative items.",
            "Ask for only the JSON object, no prose around it."]):
        tree = seed_repo.scratch(seed_repo.seed_sha, f"c{i}")
        ws = Workspace(tree, load_harness(tree).manifest)
        result = run_implementer(client, ws, diagnosis(change), [])
        changed = seed_repo.changed_paths(tree)
        assert 1 <= result.steps <= 12
        assert all(ws.manifest.is_editable(c.path) for c in changed)
        assert all(r.kind in ("escape", "protected") for r in result.refusals)
        assert result.tool_log and result.tool_log[0]["tool"] in ("list_files", "read_file")
        outcomes.append((bool(changed), bool(result.refusals), result.finished))
    assert any(changed for changed, _, _ in outcomes)
    assert all(finished for _, _, finished in outcomes)


def test_agent_stops_after_max_steps_and_keeps_edits_so_far(seed_repo: HarnessRepo):
    tree = seed_repo.scratch(seed_repo.seed_sha, "c9")
    ws = Workspace(tree, load_harness(tree).manifest)
    result = run_implementer(LLMClient(load_config()), ws,
                             diagnosis("Forbid context leaks in the context."), [], max_steps=1)
    assert result.steps == 1 and result.finished is False
    assert len(result.tool_log) == 1
