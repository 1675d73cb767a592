"""`autodata resume RUN_DIR --executor ray` on a machine without Ray: one line, exit 1, before
any work (the run's database is never opened). The Ray side is tests/test_ray_resume.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from evolve.context import make_run_config
from evolve.run import prepare_run_dir
from inner_loop.config import load_config

from test_loop import RUN_SETS, SETTINGS

REPO = Path(__file__).resolve().parents[1]
SCRIPT = """
import sys
import evolve.cli
sys.exit(evolve.cli.main(["resume", sys.argv[1], "--executor", "ray"]))
"""


def test_resume_on_ray_without_ray_is_one_line_before_any_work(tmp_path: Path) -> None:
    run = tmp_path / "run"
    prepare_run_dir(run, make_run_config(load_config(None, RUN_SETS), SETTINGS, run.name))
    shadow = tmp_path / "shadow" / "ray"  # `import ray` fails, as without the [ray] extra
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'ray'\")\n")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(run)], cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(tmp_path / "shadow")},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "needs Ray" in lines[0] and ".[ray]" in lines[0], proc.stderr
    assert not (run / "autodata.duckdb").exists() and not (run / "run.lock").exists()
