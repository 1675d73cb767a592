"""A candidate's faults are the candidate's (issue 22): model-written input never crashes, wedges
or widens a run.

Endpoint errors through the real `openai` client against a scripted loopback endpoint: a 4xx
about the request's content is `RequestRejected` (the author's fault), auth and route errors are
not. The implementer's tools and the harness loader against hostile input: every case is one
`{"ok": false}` result or one `HarnessInvalid` line, never an exception out of them."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from inner_loop.config import Config, RoleConfig
from inner_loop.harness import (
    MAX_FILE_BYTES, MAX_FILES, MAX_TOTAL_BYTES, HarnessInvalid, Manifest, load_harness,
)
from inner_loop.llm.client import LLMClient
from inner_loop.llm.types import FatalLLMError, RequestRejected, ToolSpec
from evolve.analyzer import Diagnosis
from evolve.cli import main
from evolve.implementer import run_implementer
from evolve.workspace import MAX_ARGUMENT_CHARS, Workspace
from evolve.validate import check_tree

from scripted_endpoint import Reject, ScriptedEndpoint, Tools

SEED = Path(__file__).resolve().parents[1] / "harness"
HI = [{"role": "user", "content": "hello"}]
DEEP_EXPR = "x = " + "+".join(["1"] * 5000) + "\n"  # RecursionError in compile()
DEEPER_EXPR = "x = " + "-" * 100_000 + "1\n"  # MemoryError in the parser
WIDE = '[harness]\nentry = "agent.py"\neditable = ["*", "prompts/*", "*/*"]\n'


def _client(url: str, role: str = "implementer") -> LLMClient:
    config = Config.model_validate({"retry": {"max_attempts": 2, "base_delay_s": 0.0}})
    config.roles[role] = RoleConfig(backend="openai", base_url=url, model=f"sim-{role}",
                                    timeout_s=10.0)
    return LLMClient(config)


def _seed_copy(tmp_path: Path, manifest: str | None = None) -> Path:
    root = tmp_path / "harness"
    shutil.copytree(SEED, root, ignore=shutil.ignore_patterns("__pycache__"))
    if manifest is not None:
        toml = (root / "harness.toml").read_text()
        head, rest = toml.split("[prompts.orchestrator]", 1)
        (root / "harness.toml").write_text(manifest + "\n[prompts.orchestrator]" + rest)
    return root


# --- endpoint errors --------------------------------------------------------------------------

@pytest.mark.parametrize("status", [400, 413, 422])
def test_a_4xx_about_the_request_is_rejected_with_the_endpoint_message(status):
    msg = "the request (9000 tokens) exceeds the available context size (4096 tokens)"
    with ScriptedEndpoint(lambda role, body: Reject(status, msg)) as ep:
        with pytest.raises(RequestRejected) as info:
            _client(ep.base_url).complete("implementer", HI)
        assert len(ep.seen) == 1  # not retried
    assert f"rejected by the endpoint (HTTP {status}): {msg}" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("status", [401, 403, 404])
def test_auth_and_route_errors_are_the_endpoints_not_the_request(status):
    with ScriptedEndpoint(lambda role, body: Reject(status, "no")) as ep:
        with pytest.raises(FatalLLMError) as info:
            _client(ep.base_url).complete("implementer", HI)
    assert not isinstance(info.value, RequestRejected)


def test_a_lone_surrogate_in_a_request_is_rejected_not_raised():
    with ScriptedEndpoint(lambda role, body: None) as ep:
        with pytest.raises(RequestRejected, match="not valid UTF-8"):
            _client(ep.base_url).complete("implementer", [{"role": "user",
                                                           "content": "a\ud800b"}])
        assert ep.seen == []  # nothing was sent


def test_a_request_nested_too_deeply_to_encode_is_rejected_not_raised():
    deep: dict = {"type": "object", "properties": {}}
    node = deep
    for _ in range(3000):
        node["properties"]["x"] = node = {"type": "object", "properties": {}}
    tool = ToolSpec(name="t", description="d", parameters=deep)
    with ScriptedEndpoint(lambda role, body: None) as ep:
        with pytest.raises(RequestRejected, match="nested too deeply"):
            _client(ep.base_url).complete("implementer", HI, tools=[tool])
        assert ep.seen == []


# --- the implementer's tools ------------------------------------------------------------------

def _ws(tmp_path: Path, manifest: str | None = WIDE) -> Workspace:
    root = _seed_copy(tmp_path, manifest)
    return Workspace(root, load_harness(root).manifest)


def _call(ws: Workspace, name: str, arguments: str) -> dict:
    out = ws.call(name, arguments)
    json.dumps(out)  # always a sendable result
    return out


def test_hostile_tool_arguments_are_refused_one_line_each(tmp_path: Path):
    ws = _ws(tmp_path)
    cases = {
        "long name": ("write_file", json.dumps({"path": "n" * 300 + ".py", "content": "x = 1"})),
        "surrogate content": ("write_file", '{"path": "a.py", "content": "x = \'\\ud800\'"}'),
        "surrogate path": ("write_file", '{"path": "\\udcff.py", "content": "x = 1"}'),
        "nested": ("write_file", "[" * 100_000 + "]" * 100_000),
        "oversized": ("write_file", json.dumps({"path": "a.py",
                                                "content": "x" * MAX_ARGUMENT_CHARS})),
        "big file": ("write_file", json.dumps({"path": "a.py",
                                               "content": "#" * (MAX_FILE_BYTES + 1)})),
        "nul": ("write_file", json.dumps({"path": "a.py", "content": "a\0b"})),
        "control char": ("write_file", json.dumps({"path": "a\n.py", "content": "x"})),
        "long escape": ("write_file", json.dumps({"path": "../" + "x" * 500_000, "content": ""})),
        "long tool name": ("x" * 500_000, "{}"),
    }
    for what, (name, args) in cases.items():
        out = _call(ws, name, args)
        assert out["ok"] is False and "\n" not in out["error"], what
        assert len(out["error"]) < 400, what
    assert len(ws.refusals) == 1 and len(ws.refusals[0].path) == 200
    assert sorted(p.name for p in ws.root.iterdir()) == sorted(p.name for p in SEED.iterdir()
                                                               if p.name != "__pycache__")


@pytest.mark.parametrize("path", ["harness.toml", ".gitignore", ".gitattributes", ".gitmodules",
                                  "prompts/.gitattributes", ".git/config", "prompts/.git/x"])
def test_protected_whatever_the_globs_say(tmp_path: Path, path: str):
    ws = _ws(tmp_path)
    assert ws.manifest.is_editable("anything.md")  # the globs are wide open
    out = _call(ws, "write_file", json.dumps({"path": path, "content": "* export-ignore\n"}))
    assert out["ok"] is False and out["error"].startswith("refused:")
    assert not ws.manifest.is_editable(path)


def test_file_count_and_total_size_are_capped(tmp_path: Path):
    ws = _ws(tmp_path)
    have = len([p for p in ws.root.rglob("*") if p.is_file()])
    results = [_call(ws, "write_file", json.dumps({"path": f"f{i}.md", "content": "x"}))
               for i in range(MAX_FILES - have + 1)]
    assert all(r["ok"] for r in results[:-1]) and "too many files" in results[-1]["error"]
    ws2 = _ws(tmp_path / "b")
    big = "#" * MAX_FILE_BYTES
    outs = [_call(ws2, "write_file", json.dumps({"path": f"b{i}.py", "content": big}))
            for i in range(MAX_TOTAL_BYTES // MAX_FILE_BYTES + 1)]
    assert "harness too large" in outs[-1]["error"]


def test_implementer_loop_sees_every_refusal_and_goes_on(tmp_path: Path):
    ws = _ws(tmp_path)
    hostile = [("write_file", json.dumps({"path": "n" * 300, "content": "x"})),
               ("write_file", '{"path": "a.py", "content": "\\ud800"}'),  # JSON-escaped
               ("read_file", "{" * 100_000),
               ("write_file", json.dumps({"path": ".gitattributes", "content": "* -diff"}))]

    def script(role, body):
        steps = sum(1 for m in body["messages"] if m["role"] == "assistant")
        if steps == 0:
            return Tools(hostile, content="trying \ud800 things")
        return Tools([("write_file", json.dumps({"path": "notes.md", "content": "ok\n"})),
                      ("write_file", '{"path": "raw.md", "content": "a\ud800b"}'),  # raw
                      ("finish", json.dumps({"summary": "notes \ud800"}))])

    with ScriptedEndpoint(script) as ep:
        result = run_implementer(_client(ep.base_url), ws, Diagnosis(summary="s"), [])
    assert result.finished and result.steps == 2 and result.stopped is None
    assert [e["ok"] for e in result.tool_log] == [False] * 4 + [True, True, True]
    assert [r.path for r in result.refusals] == [".gitattributes"]
    assert (ws.root / "notes.md").read_text() == "ok\n"
    assert (ws.root / "raw.md").read_text() == "a?b"  # made valid at the seam
    result.summary.encode("utf-8")  # storable


def test_a_rejected_grown_conversation_ends_the_loop_not_the_run(tmp_path: Path):
    ws = _ws(tmp_path)

    def script(role, body):
        if len(body["messages"]) > 2:
            return Reject(400, "context size exceeded")
        return Tools([("write_file", json.dumps({"path": "notes.md", "content": "x\n"}))])

    with ScriptedEndpoint(script) as ep:
        result = run_implementer(_client(ep.base_url), ws, Diagnosis(summary="s"), [])
        assert result.steps == 1 and "context size exceeded" in result.stopped
        assert (ws.root / "notes.md").is_file()  # the edits so far stand
        with ScriptedEndpoint(lambda role, body: Reject(400, "tools not supported")) as bad:
            with pytest.raises(RequestRejected):  # the first request is ours: the endpoint's
                run_implementer(_client(bad.base_url), ws, Diagnosis(summary="s"), [])


# --- the harness loader and the tree check ---------------------------------------------------

def _invalid(root: Path) -> str:
    with pytest.raises(HarnessInvalid) as info:
        load_harness(root)
    text = str(info.value)
    assert "\n" not in text and len(text) < 400
    return text


@pytest.mark.parametrize("source", [DEEP_EXPR, DEEPER_EXPR])
def test_an_expression_too_deep_for_the_compiler_is_invalid(tmp_path: Path, source: str):
    root = _seed_copy(tmp_path)
    (root / "deep.py").write_text(source)
    assert "deep.py: does not compile: nested too deeply" in _invalid(root)


def test_a_manifest_nested_too_deeply_is_invalid(tmp_path: Path):
    root = _seed_copy(tmp_path)
    (root / "harness.toml").write_text("a = " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert _invalid(root) == "harness.toml: invalid TOML: nested too deeply"


def test_hard_links_and_special_files_are_invalid(tmp_path: Path):
    root = _seed_copy(tmp_path / "a")
    os.link(root / "agent.py", root / "twin.py")
    assert "hard link not allowed" in _invalid(root)
    root = _seed_copy(tmp_path / "b")
    os.mkfifo(root / "pipe.md")
    assert "not a regular file: pipe.md" in _invalid(root)
    assert check_tree(root) == "not a regular file: pipe.md"


def test_a_sparse_gigabyte_is_refused_from_lstat(tmp_path: Path):
    root = _seed_copy(tmp_path)
    with open(root / "huge.md", "wb") as f:
        f.truncate(1 << 30)
    assert "harness too large" in _invalid(root)
    assert "harness too large" in check_tree(root)


def test_too_many_files_are_refused_before_any_is_read(tmp_path: Path):
    root = _seed_copy(tmp_path)
    for i in range(MAX_FILES):
        (root / "prompts" / f"p{i}.md").write_text("x")
    assert "too many files" in _invalid(root)


def test_a_file_name_that_is_not_utf8_is_invalid(tmp_path: Path):
    root = _seed_copy(tmp_path)
    with open(os.fsencode(root) + b"/bad\xff.md", "wb") as f:
        f.write(b"x")
    assert "file name is not UTF-8" in _invalid(root)
    assert "file name is not UTF-8" in check_tree(root)


def test_always_protected_paths_are_never_editable():
    m = Manifest.model_validate({"harness": {"editable": ["*", "*/*", "*/*/*"]}})
    assert m.is_editable("prompts/x.md")
    for path in ("harness.toml", ".gitignore", "a/.gitattributes", ".gitmodules", ".git/HEAD",
                 "a/.git/config"):
        assert not m.is_editable(path), path


def test_generate_with_a_too_deep_harness_is_one_line_exit_1(tmp_path: Path, capsys):
    root = _seed_copy(tmp_path)
    (root / "deep.py").write_text(DEEP_EXPR)
    rc = main(["generate", "--harness", str(root), "--limit", "1", "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "nested too deeply" in err
    assert not (tmp_path / "o").exists()


def test_a_rejected_protected_call_built_from_the_harness_example_is_a_harness_error(tmp_path):
    """A weak-solver request holds the harness's example: a 4xx on it (a context too long for
    the solver) is the candidate's, not an infrastructure stop that every resume would repeat."""
    from inner_loop.dispatch import REJECTED
    from inner_loop.papers import select_papers
    from inner_loop.runner import run_episode

    config = Config.model_validate({"inner_loop": {"max_rounds": 3},
                                    "retry": {"max_attempts": 1}})
    with ScriptedEndpoint(lambda role, body: Reject(400, "context length exceeded")) as ep:
        config.roles["weak_solver"] = RoleConfig(backend="openai", base_url=ep.base_url,
                                                 model="sim-weak_solver", timeout_s=10.0)
        paper = select_papers(subset="train", limit=1)[0]
        record = run_episode(paper, SEED, config=config, client=LLMClient(config),
                             workdir_root=tmp_path)
    assert record.status == "harness_error", (record.status, record.error)
    assert record.error.startswith(f"{REJECTED}: ") and "weak_solver" in record.error
    assert "(HTTP 400): context length exceeded" in record.error
