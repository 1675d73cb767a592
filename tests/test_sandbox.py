"""Hostile harnesses in the sandbox: each is recorded as what it is; the runner stays fine.

Every fixture under tests/fixtures/harnesses/ is copied to tmp_path first (a harness that got
out would otherwise write into the repository) and run through the real runner, the real
sandbox and the simulated model world.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path

import pytest

from inner_loop.config import load_config
from inner_loop.episode import EpisodeRecord
from inner_loop.llm.client import LLMClient
from inner_loop.papers import Paper, Section
from inner_loop.runner import run_episode
from inner_loop.sandbox import landlock

FIXTURES = Path(__file__).parent / "fixtures" / "harnesses"
LANDLOCK_ABI, LANDLOCK_WHY = landlock.abi_version()
requires_landlock = pytest.mark.skipif(LANDLOCK_ABI == 0, reason=f"no Landlock: {LANDLOCK_WHY}")
FAKE_KEY = "sk-FAKE-secret-for-the-sandbox-test-0042"


def _paper(abstract: str = "We study hostile harnesses.") -> Paper:
    return Paper(id="test:hostile", title="Hostile Harnesses", abstract=abstract,
                 sections=[Section(heading="Method", text="We propose a sandbox. It confines "
                                   "harness code with Landlock and rlimits, and it works.")])


def _run(name: str, tmp_path: Path, *, abstract: str = "We study hostile harnesses.",
         timeout_s: float = 20, memory_mb: int = 512, sets: tuple[str, ...] = ()) -> EpisodeRecord:
    harness = tmp_path / "harness"
    shutil.copytree(FIXTURES / name, harness)
    config = load_config(None, [f"inner_loop.episode_timeout_s={timeout_s}",
                                f"inner_loop.memory_mb={memory_mb}", *sets])
    return run_episode(_paper(abstract), harness, config=config, client=LLMClient(config),
                       workdir_root=tmp_path / "work")


def _logs(record: EpisodeRecord) -> dict[str, str]:
    """The harness's ctx.log lines, keyed by their text before the first ': '."""
    out = {}
    for entry in record.transcript:
        if entry["op"] == "log":
            key, _, rest = entry["text"].partition(": ")
            out[key] = rest
    return out


def _processes_under(root: Path) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/cwd").startswith(str(root)):
                found.append(int(pid))
        except OSError:
            continue  # gone, or not ours to inspect
    return found


@pytest.fixture
def runner_state(tmp_path: Path):
    """The parent's state before a hostile episode; asserts it is unchanged afterwards."""
    def environ() -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}

    fds, cwd, env = len(os.listdir("/proc/self/fd")), os.getcwd(), environ()
    yield
    assert os.getcwd() == cwd
    assert environ() == env
    assert len(os.listdir("/proc/self/fd")) <= fds  # every pipe closed
    assert _processes_under(tmp_path / "work") == []  # nothing left running
    assert list((tmp_path / "work").iterdir()) == []  # the working dir is gone


def test_confinement_is_recorded(tmp_path: Path, runner_state: None) -> None:
    record = _run("crash", tmp_path)
    assert record.confinement
    if LANDLOCK_ABI:
        assert record.confinement.startswith(f"landlock-abi{LANDLOCK_ABI}")
    else:
        assert "landlock unavailable" in record.confinement


def test_liar_is_never_accepted(tmp_path: Path, runner_state: None) -> None:
    record = _run("liar", tmp_path)
    assert record.status == "exhausted"
    assert not record.accepted and record.accepted_example is None
    logs = _logs(record)
    assert json.loads(logs["submit without evaluations"])["accepted"] is False
    assert json.loads(logs["strong before weak"]) == {
        "ok": False, "error": "weak check not passed for this example"}
    assert "not allowed" in json.loads(logs["protected role"])["error"]
    assert "not allowed" in json.loads(logs["judge role"])["error"]
    assert json.loads(logs["forged ready"]) == {"error": "already ready"}
    assert "unknown request" in json.loads(logs["forged op"])["error"]
    assert "ACCEPTED" in record.harness_stdout  # what it claims is just captured text
    assert record.confinement != "none"
    assert [r.outcome for r in record.rounds] != ["accepted"]
    assert "judge" not in record.usage and "weak_solver" not in record.usage


def test_crash_is_a_recorded_harness_error(tmp_path: Path, runner_state: None) -> None:
    record = _run("crash", tmp_path)
    assert record.status == "harness_error"
    assert "RuntimeError: boom from the harness" in record.error
    crash = [e for e in record.transcript if e["op"] == "crash"]
    assert "raise RuntimeError" in crash[0]["traceback"]


def test_endless_loop_times_out(tmp_path: Path, runner_state: None) -> None:
    t0 = time.monotonic()
    record = _run("loop", tmp_path, timeout_s=3)
    assert record.status == "timeout"
    assert "3s" in record.error
    assert time.monotonic() - t0 < 10
    assert _logs(record) == {"entering the loop": ""}


@pytest.fixture
def fake_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """API keys in the parent's environment (set before runner_state takes its snapshot)."""
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("MOONSHOT_API_KEY", FAKE_KEY)


def test_environment_holds_no_keys(tmp_path: Path, fake_keys: None, runner_state: None) -> None:
    assert os.environ["OPENAI_API_KEY"] == FAKE_KEY
    record = _run("env_reader", tmp_path)
    assert record.status == "exhausted"
    dumped = record.model_dump_json()
    assert FAKE_KEY not in dumped
    environ = json.loads(_logs(record)["environ"])
    assert set(environ) == {"PATH", "LANG", "HOME", "TMPDIR", "PYTHONHASHSEED",
                            "PYTHONDONTWRITEBYTECODE", "PYTHONUTF8", "MALLOC_ARENA_MAX"}


@requires_landlock
def test_parent_environment_is_unreadable(tmp_path: Path, fake_keys: None,
                                          runner_state: None) -> None:
    record = _run("env_reader", tmp_path)
    logs = _logs(record)
    assert logs["parent environ"].startswith("DENIED PermissionError")
    assert logs["init environ"].startswith("DENIED PermissionError")


@requires_landlock
def test_writes_outside_the_working_dir_fail(tmp_path: Path, runner_state: None) -> None:
    target = tmp_path / "escaped.txt"
    own_code = (FIXTURES / "writer" / "agent.py").read_text()
    record = _run("writer", tmp_path, abstract=str(target))
    logs = _logs(record)
    assert logs["outside"] == "DENIED PermissionError"
    assert logs["own code"] == "DENIED PermissionError"
    assert logs["workdir"] == "WROTE"  # its own working dir is writable
    assert not target.exists()
    assert (tmp_path / "harness" / "agent.py").read_text() == own_code


@requires_landlock
def test_runtime_and_system_secrets_are_unreadable(tmp_path: Path, runner_state: None) -> None:
    repo = Path(__file__).resolve().parents[1]
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    paths = [repo / "inner_loop" / "sim" / "__init__.py", repo / "pyproject.toml",
             Path("/etc/shadow"), secret]
    paths = [p for p in paths if p.exists()]
    record = _run("reader", tmp_path, abstract=" ".join(map(str, paths)))
    logs = _logs(record)
    assert {str(p): logs[str(p)] for p in paths} == {str(p): "DENIED PermissionError"
                                                     for p in paths}


def test_tcp_connections_are_refused(tmp_path: Path, runner_state: None) -> None:
    if LANDLOCK_ABI < 4 and "seccomp" not in _run("crash", tmp_path / "probe").confinement:
        pytest.skip("neither Landlock ABI >= 4 nor seccomp here")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(0.3)
        record = _run("network", tmp_path, abstract=str(server.getsockname()[1]))
        assert _logs(record)["tcp"].startswith("DENIED PermissionError")
        with pytest.raises(TimeoutError):
            server.accept()


def test_memory_bomb_is_stopped(tmp_path: Path, runner_state: None) -> None:
    record = _run("memory_bomb", tmp_path, memory_mb=256)
    assert record.status == "harness_error"
    assert "MemoryError" in record.error or "killed" in record.error


def test_fork_bomb_is_contained(tmp_path: Path, runner_state: None) -> None:
    record = _run("fork_bomb", tmp_path)
    report = json.loads(next(e["text"] for e in record.transcript if e["op"] == "log"))
    if "seccomp" in record.confinement:
        assert report["forked"] == 0
        assert report["subprocess"] == "DENIED PermissionError"
    else:  # RLIMIT_NPROC only (not enforced for root)
        assert os.getuid() != 0, "as root without seccomp nothing stops a fork bomb"
        assert report["forked"] <= 32


def test_garbage_on_the_pipe_is_a_protocol_violation(tmp_path: Path, runner_state: None) -> None:
    record = _run("garbage", tmp_path)
    assert record.status == "harness_error"
    assert record.error.startswith("protocol violation: garbage on the RPC pipe")


def test_child_exiting_early_is_recorded(tmp_path: Path, runner_state: None) -> None:
    record = _run("early_exit", tmp_path)
    assert record.status == "harness_error"
    assert "ended without finishing (exit code 0)" in record.error


def test_output_flood_keeps_bounded_tails(tmp_path: Path, runner_state: None) -> None:
    record = _run("flood", tmp_path)
    assert record.status == "exhausted"
    assert len(record.harness_stdout.encode()) <= 20 * 1024
    assert record.harness_stdout.endswith("THE END\n")
    assert 0 < len(record.harness_stderr.encode()) <= 20 * 1024


def test_invalid_harness_is_recorded_not_run(tmp_path: Path, runner_state: None) -> None:
    harness = tmp_path / "harness"
    shutil.copytree(FIXTURES / "crash", harness)
    (harness / "agent.py").write_text("def run_episode(ctx:\n")
    config = load_config()
    (tmp_path / "work").mkdir()
    record = run_episode(_paper(), harness, config=config, client=LLMClient(config),
                         workdir_root=tmp_path / "work")
    assert record.status == "harness_error"
    assert record.error.startswith("harness invalid: agent.py:1: does not compile")
    assert record.transcript == [] and record.rounds == []


def test_child_starts_light_and_still_imports_installed_packages(tmp_path: Path,
                                                                 runner_state: None) -> None:
    """A fresh interpreter per episode: the child imports nothing heavy before the harness
    (no site, typing, subprocess, ...), yet site-packages stay importable for harness code."""
    record = _run("imports", tmp_path)
    logs = _logs(record)
    assert logs["preloaded"] == ""
    assert logs["third-party"] == "h11"
    assert record.error is None or "no round" in record.error
