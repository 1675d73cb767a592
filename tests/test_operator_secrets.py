"""Secrets in URLs (login details, credential-like query values) appear in no file and no output.

A small evolution run and a `generate` run talk to the loopback simulator over real HTTP through
the real openai client, with login details in every role's base_url; then every report command
runs. Every byte of every file they wrote (config.json, DuckDB and its read snapshot, logs,
caches, summary.json, the HTML report, exports, git objects) and every output line is searched
for the secret. A token in the URL's query (which the endpoint cannot serve: the run fails) is
searched the same way."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from inner_loop.redact import redact_text, redact_url
from inner_loop.roles import ROLES
from inner_loop.sim.server import SimServer
from evolve.cli import main

USER, PASSWORD, TOKEN = "alice-chaos", "pw-Secret-7f3a9c1e", "tok-Secret-5b2d8046"
SMALL = ["evolve.iterations=1", "evolve.minibatch=1", "inner_loop.max_rounds=1", "evolve.final_repeats=0",
         "run.validation_limit=1", "retry.max_attempts=2", "retry.base_delay_s=0.01"]


def role_sets(url: str) -> list[str]:
    out = []
    for role in ROLES:
        out += [f"roles.{role}.backend=openai", f"roles.{role}.base_url={url}",
                f"roles.{role}.model=sim-{role}", f"roles.{role}.timeout_s=10"]
    return out


def args(sets: list[str]) -> list[str]:
    return [a for s in sets for a in ("--set", s)]


def leaks(root: Path, secrets: list[str]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{path}: {s}" for s in secrets if s.encode() in data]
    for dot_git in root.rglob(".git"):
        if dot_git.is_dir():
            objects = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"],
                                     cwd=dot_git.parent, capture_output=True).stdout
            found += [f"{dot_git} objects: {s}" for s in secrets if s.encode() in objects]
    return found


def test_redact_url_removes_login_details_and_credential_query_values():
    url = f"https://{USER}:{PASSWORD}@api.example.com:8443/v1?api_key={TOKEN}&region=eu&sig=abc1"
    clean = redact_url(url)
    assert clean == "https://REDACTED@api.example.com:8443/v1?api_key=REDACTED&region=eu&sig=REDACTED"
    assert redact_url("http://localhost:8000/v1") == "http://localhost:8000/v1"
    text = redact_text(f"error talking to {url}: refused")
    assert PASSWORD not in text and TOKEN not in text and "api.example.com" in text


@pytest.fixture(scope="module")
def server():
    with SimServer() as srv:
        yield srv


@pytest.mark.parametrize("iterations", [0, pytest.param(2, marks=pytest.mark.slow)])
def test_login_details_in_base_urls_reach_no_file_and_no_output(tmp_path, capsys, server,
                                                                iterations):
    url = server.base_url.replace("://", f"://{USER}:{PASSWORD}@")
    run_dir = tmp_path / "run"
    sets = role_sets(url) + SMALL + [f"evolve.iterations={iterations}"]
    assert main(["evolve", "--run-dir", str(run_dir), *args(sets)]) == 0
    for command in (["runs", "--results", str(tmp_path)], ["show", str(run_dir)],
                    ["show", str(run_dir), "--json"], ["report", str(run_dir), "-o", str(tmp_path / "html")],
                    ["log", str(run_dir), "--json"], ["log", str(run_dir), "--calls", "--json"],
                    ["export", str(run_dir), "--format", "jsonl", "-o", str(tmp_path / "export")]):
        assert main(command) == 0, command
    out = capsys.readouterr()
    assert "REDACTED@" in (run_dir / "config.json").read_text()
    assert leaks(tmp_path, [PASSWORD, USER]) == []
    assert PASSWORD not in out.out + out.err and USER not in out.out + out.err


def test_a_token_in_the_query_reaches_no_file_and_no_output(tmp_path, capsys, server):
    url = f"{server.base_url}?api_key={TOKEN}"
    run_dir = tmp_path / "run"
    rc = main(["evolve", "--run-dir", str(run_dir), *args(role_sets(url) + SMALL)])
    assert rc == 1  # the endpoint cannot serve a base_url with a query: a one-line failure
    main(["show", str(run_dir), "--json"])
    out = capsys.readouterr()
    assert leaks(tmp_path, [TOKEN]) == []
    assert TOKEN not in out.out + out.err


def test_generate_writes_no_secret_in_summary_json(tmp_path, capsys, server):
    url = server.base_url.replace("://", f"://{USER}:{PASSWORD}@")
    out_dir = tmp_path / "gen"
    sets = role_sets(url) + ["inner_loop.max_rounds=1"]
    assert main(["generate", "--out", str(out_dir), "--limit", "1", *args(sets)]) == 0
    capsys.readouterr()
    assert (out_dir / "summary.json").is_file()
    assert leaks(tmp_path, [PASSWORD, USER]) == []


def test_resume_of_a_run_whose_login_details_were_redacted_asks_for_them(tmp_path, capsys,
                                                                         server):
    url = server.base_url.replace("://", f"://{USER}:{PASSWORD}@")
    run_dir = tmp_path / "run"
    sets = role_sets(url) + SMALL + ["budget.max_calls=0"]
    assert main(["evolve", "--run-dir", str(run_dir), *args(sets)]) == 0
    capsys.readouterr()
    assert main(["resume", str(run_dir)]) == 1
    line = capsys.readouterr().err.strip()
    assert "base_url: its login details were redacted" in line and PASSWORD not in line
