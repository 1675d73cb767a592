"""Hostile implementer output through a whole evolution run, killed and resumed (issue 22).

The implementer and the challenger talk HTTP, through the real `openai` client, to a scripted
loopback endpoint (tests/scripted_endpoint.py); every other role is the in-process sim. The seed
harness's globs are wide open (`"*"`). The script, a pure function of the request:
- iteration 1: the implementer sends hostile tool calls (a 300-char name, a lone surrogate,
  100,000 nested brackets, oversized arguments, .gitattributes / .gitignore / harness.toml), then
  writes a challenger prompt whose requests the endpoint rejects (400, context overflow);
- iteration 2: the same edit again (a duplicate tree), then a conversation the endpoint rejects;
- iteration 3: a `.py` file with a 5,000-deep expression.
`autodata evolve` runs in a subprocess, is SIGKILLed while iteration 2's implementer works, and
`resume` finishes the run: each candidate `invalid` with its one-line reason (slow: ~10 s of
CPU); a fast in-process version runs iterations 1 and 2. A 4xx on the trusted seed's requests
stops the run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from inner_loop.config import load_config
from inner_loop.llm.types import FatalLLMError
from evolve.workspace import MAX_ARGUMENT_CHARS
from evolve.context import RunSettings
from evolve.run import resume_run, start_run
from evolve.store import StoreReader

from scripted_endpoint import Reject, ScriptedEndpoint, Tools

ROOT = Path(__file__).resolve().parents[1]
MARKER = "OVERFLOW-MARKER"
SETS = ["seed=2", "evolve.iterations=3", "evolve.concurrency=1", "evolve.minibatch=1",
        "inner_loop.max_rounds=1", "evolve.final_repeats=0", "run.validation_limit=2",
        "retry.max_attempts=2", "retry.base_delay_s=0.0"]
HOSTILE = [("write_file", json.dumps({"path": "n" * 300 + ".py", "content": "x = 1\n"})),
           ("write_file", '{"path": "a.py", "content": "x = \'\\ud800\'"}'),
           ("replace_in_file", "[" * 100_000 + "]" * 100_000),
           ("write_file", json.dumps({"path": "b.py", "content": "#" * MAX_ARGUMENT_CHARS})),
           ("write_file", json.dumps({"path": ".gitattributes", "content": "* export-ignore\n"})),
           ("write_file", json.dumps({"path": ".gitignore", "content": "*.md\n"})),
           ("write_file", json.dumps({"path": "harness.toml", "content": "[harness]\n"}))]


def _seed(tmp_path: Path) -> Path:
    root = tmp_path / "seed"
    shutil.copytree(ROOT / "harness", root, ignore=shutil.ignore_patterns("__pycache__"))
    toml = root / "harness.toml"
    toml.write_text(toml.read_text().replace('editable = ["prompts/*.md", "*.py"]',
                                             'editable = ["*", "prompts/*"]'))
    return root


class Script:
    """The scripted model: what the implementer and challenger answer, by request."""

    def __init__(self, seed: Path):
        self.challenger_md = (seed / "prompts" / "challenger.md").read_text()
        self.second_iteration = threading.Event()

    def __call__(self, role: str, body: dict):
        texts = [m.get("content") or "" for m in body["messages"]]
        if role == "challenger":
            if any(MARKER in t for t in texts):
                return Reject(400, f"the request exceeds the available context size ({MARKER})")
            return None
        if role != "implementer":
            return None
        done = sum(1 for m in body["messages"] if m["role"] == "assistant")
        history = texts[1].split("## History", 1)[1].count("- iteration ")
        if history == 1:
            self.second_iteration.set()
        edit = ("write_file", json.dumps({"path": "prompts/challenger.md",
                                          "content": self.challenger_md + f"\n{MARKER}\n"}))
        if history == 0:
            if done == 0:
                return Tools(HOSTILE)
            return Tools([edit, ("finish", json.dumps({"summary": "a longer challenger prompt"}))])
        if history == 1:  # the same edit, then a conversation the endpoint rejects
            return Tools([edit]) if done == 0 else Reject(400, "implementer context exceeded")
        deep = "x = " + "+".join(["1"] * 5000) + "\n"
        return Tools([("write_file", json.dumps({"path": "deep.py", "content": deep})),
                      ("finish", json.dumps({"summary": "a deep helper"}))])


def _sets(url: str, seed: Path) -> list[str]:
    roles = [f"roles.{r}.{k}" for r in ("implementer", "challenger")
             for k in ("backend=openai", f"base_url={url}", f"model=sim-{r}")]
    return SETS + roles + [f"run.seed_harness={seed}"]


def _outcomes(run_dir: Path) -> list[tuple[int, str, str]]:
    with StoreReader.open(run_dir) as reader:
        rows = reader.query("SELECT i.iteration, i.status, d.reason FROM iterations i JOIN "
                            "decisions d USING (candidate_id) ORDER BY i.iteration")
    return [(r["iteration"], r["status"], r["reason"]) for r in rows]


def _check(outcomes: list[tuple[int, str, str]], first_id: str) -> None:
    assert [(n, s) for n, s, _ in outcomes] == [(1, "invalid"), (2, "invalid"), (3, "invalid")]
    smoke, dup, deep = (r for _, _, r in outcomes)
    assert smoke.startswith("smoke episode: harness error: the endpoint rejected a request the "
                            "harness shaped: challenger: rejected by the endpoint (HTTP 400): the "
                            "request exceeds")
    assert dup == f"same tree as {first_id}"
    assert deep.startswith("harness does not load: deep.py: does not compile: nested too deeply")
    assert all("\n" not in r and len(r) <= 400 for _, _, r in outcomes)


def _first_id(run_dir: Path) -> str:
    with StoreReader.open(run_dir) as reader:
        return reader.query("SELECT candidate_id FROM iterations WHERE iteration = 1")[0][
            "candidate_id"]


@pytest.mark.slow
def test_hostile_implementer_run_killed_and_resumed_finishes_with_each_reason(tmp_path: Path):
    seed = _seed(tmp_path)
    script = Script(seed)
    run_dir = tmp_path / "run"
    with ScriptedEndpoint(script) as ep:
        args = [a for s in _sets(ep.base_url, seed) for a in ("--set", s)]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
        proc = subprocess.Popen([sys.executable, "-m", "evolve.cli", "evolve", "--run-dir",
                                 str(run_dir), *args], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            while not script.second_iteration.wait(timeout=0.2):
                assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert len(_outcomes(run_dir)) == 1  # killed inside iteration 2
        summary = resume_run(run_dir, show_progress=False)
        assert summary.status == "finished" and summary.iterations_done == 3
        outcomes = _outcomes(run_dir)
        _check(outcomes, _first_id(run_dir))
        with StoreReader.open(run_dir) as reader:
            first = reader.query("SELECT summary FROM iterations WHERE iteration = 1")[0]
        assert "[refused protected path .gitattributes]" in first["summary"]


def test_hostile_implementer_run_in_process_ends_each_candidate_invalid(tmp_path: Path):
    """The fast version (default suite): iterations 1 and 2 in process, one validation paper."""
    seed = _seed(tmp_path)
    with ScriptedEndpoint(Script(seed)) as ep:
        sets = [s for s in _sets(ep.base_url, seed) if not s.startswith("run.")]
        summary = start_run(load_config(None, sets + ["evolve.iterations=2"]),
                            RunSettings(validation_limit=1, seed_harness=str(seed)),
                            tmp_path / "run", show_progress=False)
    assert summary.status == "finished" and summary.iterations_done == 2
    (_, _, smoke), (_, _, dup) = _outcomes(tmp_path / "run")
    assert smoke.startswith("smoke episode: harness error: the endpoint rejected a request")
    assert dup == f"same tree as {_first_id(tmp_path / 'run')}"
    with StoreReader.open(tmp_path / "run") as reader:
        second = reader.query("SELECT summary FROM iterations WHERE iteration = 2")[0]["summary"]
    assert "[implementer stopped: implementer: rejected by the endpoint (HTTP 400): " \
           "implementer context exceeded]" in second


def test_a_seed_whose_requests_the_endpoint_rejects_stops_as_infrastructure(tmp_path: Path):
    """The trusted seed is not a candidate: a 4xx on its requests is the endpoint's (a context
    too small for the seed's prompt), never a harness failure scored against it."""
    seed = _seed(tmp_path)
    with ScriptedEndpoint(lambda role, body: Reject(400, "context size exceeded")
                          if role == "challenger" else None) as ep:
        with pytest.raises(FatalLLMError) as info:
            start_run(load_config(None, [s for s in _sets(ep.base_url, seed)
                                         if not s.startswith("run.")]),
                      RunSettings(validation_limit=2, seed_harness=str(seed)),
                      tmp_path / "run", show_progress=False)
    assert str(info.value).startswith("infrastructure: the endpoint rejects the seed harness's")
    assert "(HTTP 400): context size exceeded" in str(info.value)
    with StoreReader.open(tmp_path / "run") as reader:
        assert reader.query("SELECT count(*) AS n FROM evaluations")[0]["n"] == 0
