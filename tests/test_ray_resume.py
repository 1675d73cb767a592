"""`autodata resume --executor ray`: a run whose driver was killed mid-run (SIGKILL) continues
on a Ray cluster (`ray.cluster_utils.Cluster`, a head and a worker node) and reaches the lineage
of an uninterrupted local run; nothing is recorded twice; the switch is recorded.

Off by default (`-m ray`; needs `pip install -e '.[ray]'`); about a minute.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
from evolve.cli import main  # noqa: E402
from evolve.repo import HarnessRepo  # noqa: E402
from evolve.store import StoreReader  # noqa: E402
from test_ray_executor import _start_cluster  # noqa: E402

pytestmark = pytest.mark.ray
ROOT = Path(__file__).resolve().parents[1]
SETS = [a for s in ("seed=2", "evolve.iterations=2", "evolve.minibatch=1",
                    "inner_loop.max_rounds=2", "evolve.final_repeats=0",
                    "run.validation_limit=2") for a in ("--set", s)]
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}


@pytest.fixture(scope="module")
def cluster():
    c = _start_cluster()
    ray.init(address=c.address, log_to_driver=False)
    yield c
    ray.shutdown()
    c.shutdown()


def facts(run_dir: Path) -> list:
    """Attempts, evaluations and accepted trees: what defines the lineage."""
    with StoreReader.open(run_dir) as r:
        its = [(x["iteration"], x["candidate_id"], x["parent_id"], x["status"])
               for x in r.query("SELECT * FROM iterations ORDER BY iteration")]
        evals = sorted((x["candidate_id"], x["paper_id"], x["purpose"], x["repeat"],
                        x["accepted"]) for x in r.query("SELECT * FROM evaluations"))
    repo = HarnessRepo.open(run_dir)
    trees = sorted((c.candidate_id, repo.tree_sha(c.commit_sha)) for c in repo.accepted_commits())
    return [its, evals, trees]


def kill_mid_run(run_dir: Path, after_first_call_s: float) -> int:
    """`autodata evolve` (local executor) in a subprocess, SIGKILLed a moment after its first
    model call was journaled; its exit status."""
    proc = subprocess.Popen([sys.executable, "-m", "evolve.cli", "evolve", "--run-dir",
                             str(run_dir), *SETS], cwd=ROOT, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = run_dir / "logs" / "calls"
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if any(p.stat().st_size for p in journal.glob("*.jsonl")):
            time.sleep(after_first_call_s)
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    return proc.wait()


def test_a_killed_run_resumed_on_ray_reaches_the_uninterrupted_local_lineage(
        cluster, tmp_path, capsys):
    reference = tmp_path / "reference"
    assert main(["evolve", "--run-dir", str(reference), *SETS, "--json"]) == 0
    killed = tmp_path / "killed"
    assert kill_mid_run(killed, 1.0) == -signal.SIGKILL, "the run ended before the kill"
    capsys.readouterr()
    assert main(["resume", str(killed), "--executor", "ray", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "finished"
    assert facts(killed) == facts(reference)  # the same lineage as never stopped, never moved

    with StoreReader.open(killed) as r:
        for table, key in (("evaluations", "candidate_id, paper_id, purpose, repeat"),
                           ("llm_calls", "call_id")):
            n, distinct = r.query(f"SELECT count(*) AS n, count(DISTINCT ({key})) AS d "
                                  f"FROM {table}")[0].values()
            assert n == distinct, f"{table}: recorded twice"
        assert r.query("SELECT count(*) AS n FROM episodes")[0]["n"] == \
            r.query("SELECT count(*) AS n FROM evaluations")[0]["n"]
        workers = [x["w"] for x in r.query(
            "SELECT json_extract_string(b.text, '$.worker') AS w FROM episodes e "
            "JOIN blobs b ON b.sha256 = e.record_blob")]
        events = r.query("SELECT status, detail FROM run_events ORDER BY seq")
    assert any(w and "ray node" in w for w in workers)  # the resume ran episodes on Ray
    assert {"status": "resumed", "detail": "executor ray"} in events  # the switch, recorded
    config = json.loads((killed / "config.json").read_text())
    assert config["config"]["executor"]["kind"] == "local"  # the run's own setting is kept


def test_resume_executor_must_be_a_known_kind(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["resume", str(tmp_path), "--executor", "slurm"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err
