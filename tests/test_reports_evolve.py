"""Every report command on a real `autodata evolve` run on the sim, while it runs and after.

Marked slow (about a minute): `pytest -m slow tests/test_reports_evolve.py`."""

import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from evolve.cli import main

ROOT = Path(__file__).resolve().parents[1]
EVOLVE = ["evolve", "--iterations", "2", "--minibatch", "1", "--concurrency", "2",
          "--set", "run.validation_limit=3"]


def cli_json(capsys, *argv):
    rc = main([*map(str, argv), "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    return json.loads(out.out)


def reports_work(capsys, run_dir, tmp_path, tag):
    cli_json(capsys, "show", run_dir)
    cli_json(capsys, "log", run_dir)
    cli_json(capsys, "log", run_dir, "--calls", "-n", "3")
    cli_json(capsys, "sql", run_dir, "SELECT * FROM pass_rate_trajectory")
    assert main(["plot", str(run_dir), "-o", str(tmp_path / f"{tag}.png")]) == 0
    assert main(["report", str(run_dir), "-o", str(tmp_path / f"{tag}-report")]) == 0
    capsys.readouterr()


@pytest.mark.slow
def test_reports_follow_a_real_evolve_run(tmp_path, capsys):
    run_dir = tmp_path / "results" / "real"
    proc = subprocess.Popen([sys.executable, "-m", "evolve.cli", *EVOLVE, "--run-dir", str(run_dir)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "evolve.err", "w"))
    try:
        deadline = time.monotonic() + 120
        while not (run_dir / "autodata.read.duckdb").exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(3)  # a few snapshots in
        assert proc.poll() is None, "the run ended before the live reads"
        [live] = cli_json(capsys, "runs", "--results", tmp_path / "results")
        assert live["status"] == "running"
        reports_work(capsys, run_dir, tmp_path, "live")
    finally:
        assert proc.wait(timeout=300) == 0
    [done] = cli_json(capsys, "runs", "--results", tmp_path / "results")
    assert (done["status"], done["iterations"], done["simulated"]) == ("finished", 2, True)
    reports_work(capsys, run_dir, tmp_path, "done")
    result = cli_json(capsys, "export", run_dir, "--harness", "seed", "-o", tmp_path / "export")
    accepted = duckdb.connect(str(run_dir / "autodata.duckdb"), read_only=True).execute(
        "SELECT count(*) FROM evaluations WHERE candidate_id = 'seed' AND purpose = 'validation' "
        "AND accepted").fetchone()[0]
    n = duckdb.connect().execute(
        f"SELECT count(*) FROM '{tmp_path / 'export' / 'data' / 'train-00000-of-00001.parquet'}'").fetchone()[0]
    assert result["rows"] == n == accepted
