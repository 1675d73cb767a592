"""`scripts/chaos` end to end (about 4 minutes on 2 cores): every check of its table holds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_chaos_script_holds_every_check():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "chaos"), "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    rows = json.loads(proc.stdout)["rows"]
    assert [r for r in rows if not r["ok"]] == [] and proc.returncode == 0
    assert {r["section"][0] for r in rows} == set("123456")
    assert sum(r["section"] == "3 hostile" for r in rows) >= 21
