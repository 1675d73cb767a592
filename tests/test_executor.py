"""The executor seam without Ray (default suite): the bounded stream, the local executor's
results, and the one-line errors for a Ray executor that cannot be had."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from inner_loop.config import ConfigError, load_config
from inner_loop.executor import LocalExecutor, open_executor, stream

REPO = Path(__file__).resolve().parents[1]


def test_stream_keeps_at_most_window_in_flight_and_reads_items_lazily():
    lock, live, peak, pulled = threading.Lock(), [0], [0], []

    def items():
        for i in range(12):
            pulled.append(i)
            yield i

    def work(i: int) -> int:
        with lock:
            live[0] += 1
            peak[0] = max(peak[0], live[0])
        time.sleep(0.05 + 0.01 * (i % 3))
        with lock:
            live[0] -= 1
        return i * i

    seen = []
    for item, result in stream(items(), work, 3):
        assert len(pulled) <= len(seen) + 1 + 3  # never read far ahead of what finished
        seen.append((item, result))
    assert sorted(seen) == [(i, i * i) for i in range(12)]
    assert peak[0] == 3


def test_stream_stops_starting_work_when_the_consumer_raises():
    started = []

    def work(i: int) -> int:
        started.append(i)
        time.sleep(0.02)
        return i

    with pytest.raises(KeyboardInterrupt):
        for _item, _result in stream(range(100), work, 2):
            raise KeyboardInterrupt
    time.sleep(0.1)
    assert len(started) <= 4


def test_local_is_the_default_executor():
    config = load_config()
    assert config.executor.kind == "local" and config.executor.address == "local"
    assert isinstance(open_executor(config.executor), LocalExecutor)


@pytest.mark.parametrize("bad", ["executor.address=http://head:10001", "executor.kind=slurm",
                                 "executor.episode_cpus=0", "executor.max_retries=-1"])
def test_a_bad_executor_setting_is_one_line(bad):
    with pytest.raises(ConfigError) as info:
        load_config(None, [bad])
    assert "executor." in str(info.value) and "\n" not in str(info.value)


SCRIPT = """
import sys
from pathlib import Path
import evolve.cli, evolve.run, evolve.jobs, inner_loop.generate, inner_loop.executor
marker = Path(sys.argv[1]) / "imported"
assert not marker.exists(), "a local code path imported ray"
out = Path(sys.argv[1])
codes = [evolve.cli.main(["generate", "--limit", "1", "-o", str(out / "gen"), "--executor", "ray"]),
         evolve.cli.main(["evolve", "--iterations", "1", "--run-dir", str(out / "run"),
                          "--executor", "ray"])]
print(codes, marker.exists(), (out / "gen").exists(), (out / "run").exists())
"""


def test_executor_ray_without_ray_is_one_line_exit_1_and_local_never_imports_ray(tmp_path):
    shadow = tmp_path / "shadow" / "ray"  # `import ray` fails, as on a machine without the extra
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        f"open({str(tmp_path / 'imported')!r}, 'w').close()\n"
        "raise ImportError(\"No module named 'ray'\")\n")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(tmp_path / "shadow")},
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["[1,", "1]", "True", "False", "False"]  # before any work
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 2, proc.stderr  # one line per command
    assert all("needs Ray" in line and ".[ray]" in line for line in lines), proc.stderr


def test_a_run_may_resume_on_another_executor():
    from evolve.runcheck import differing_key

    before = {"config": load_config().public_dump()}
    del before["config"]["executor"]  # recorded before executors existed
    after = {"config": load_config(None, ["executor.kind=ray", "executor.address=auto"])
             .public_dump()}
    assert differing_key(before, after) is None
    after["config"]["inner_loop"]["max_rounds"] = 2  # what defines the run still may not
    assert differing_key(before, after) == "config.inner_loop.max_rounds"


def test_generate_tallies_records_as_a_summary_of_the_whole_ones(tmp_path):
    from inner_loop.generate import read_episodes, run_generate, summarise_run
    from inner_loop.llm.client import LLMClient
    from inner_loop.papers import select_papers

    config = load_config(None, ["inner_loop.max_rounds=1", "inner_loop.concurrency=2"])
    papers = select_papers(None, None, "validation", limit=2)
    summary = run_generate(papers, tmp_path, config=config, client=LLMClient(config))
    whole = read_episodes(tmp_path / "episodes.jsonl")
    assert len(whole) == 2 and all(r.transcript for r in whole)  # the file holds everything
    again = summarise_run(whole, config=config, usage=summary["usage"], method="agentic",
                          harness_dir=Path(summary["harness_dir"]),
                          harness_version=summary["harness_version"], duration_s=0.0, resumed=0)
    for key in ("papers", "accepted", "mean_rounds", "weak_avg", "strong_avg", "gap",
                "failure_counts", "statuses", "confinement", "episode_usage"):
        assert summary[key] == again[key], key
