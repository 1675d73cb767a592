"""Two runs in one results folder, and two processes on one run (docs/reliability.md §6).

Readers while a writer publishes, SIGKILL then read-back and a second writer are proven with real
processes in test_store_concurrency.py; the run lock (a second `resume` refused, a stale lock
taken over) in test_resume.py. `scripts/chaos` does all of it with real `autodata` processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from inner_loop.config import load_config
from inner_loop.errors import UserError
from evolve.context import RunSettings, make_run_config
from evolve.run import default_run_dir, prepare_run_dir


def test_two_runs_of_one_second_claim_two_folders(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first, second = default_run_dir("20260101-000000-s0"), default_run_dir("20260101-000000-s0")
    assert first != second and first.is_dir() and second.is_dir()
    assert second.name == "20260101-000000-s0-2"


def test_a_run_folder_is_claimed_once(tmp_path: Path):
    rc = make_run_config(load_config(None, []), RunSettings(), "run")
    prepare_run_dir(tmp_path / "run", rc)
    with pytest.raises(UserError, match="exists and is not empty"):
        prepare_run_dir(tmp_path / "run", rc)


def test_a_claimed_but_still_empty_folder_is_not_claimed_again(tmp_path: Path):
    """The window between mkdir and config.json: `logs/` is the atomic claim."""
    rc = make_run_config(load_config(None, []), RunSettings(), "run")
    (tmp_path / "run" / "logs").mkdir(parents=True)
    (tmp_path / "run" / "logs").rmdir()
    prepare_run_dir(tmp_path / "run", rc)  # empty folder: fine
    (tmp_path / "run" / "config.json").unlink()
    with pytest.raises(UserError, match="exists and is not empty"):
        prepare_run_dir(tmp_path / "run", rc)
