"""Stopping solver sampling early (inner_loop.stop_sampling_early) is an exact saving.

`settled_failure` must never settle a check that some scores for the samples left could still
pass (checked exhaustively on a grid), and whole episodes must come out identical with the
saving on and off, with fewer calls when it is on."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest

from inner_loop.thresholds import PRESETS, custom_thresholds, full_check, settled_failure, \
    weak_check
from inner_loop.config import load_config
from inner_loop.llm.client import LLMClient
from inner_loop.papers import select_papers
from inner_loop.executor import run_episodes

GRID = [i / 10 for i in range(11)] + [0.05, 0.75, 0.6499999999, 0.95]
THRESHOLDS = {"deployed": PRESETS["deployed"], "paper_prose": PRESETS["paper_prose"],
              "custom": custom_thresholds({"weak_avg_max": 0.8, "min_gap": 0.3,
                                           "strong_avg_below": 0.9})}
DILIGENT = Path(__file__).parent / "fixtures" / "harnesses" / "diligent"


@pytest.mark.parametrize("name", sorted(THRESHOLDS))
def test_a_settled_weak_failure_fails_for_every_completion(name):
    th, settled = THRESHOLDS[name], 0
    for k in (1, 2):
        for prefix in itertools.product(GRID, repeat=k):
            verdict = settled_failure(th, prefix, 3)
            completions = [weak_check(th, prefix + rest)
                           for rest in itertools.product(GRID, repeat=3 - k)]
            if verdict is not None:
                settled += 1
                assert not verdict.passed and verdict.failed_rule
                assert not any(c.passed for c in completions), (prefix, verdict)
    assert settled > 0  # the rule does settle failures on this grid


@pytest.mark.parametrize("name", sorted(THRESHOLDS))
def test_a_settled_strong_failure_fails_for_every_completion(name):
    th, settled = THRESHOLDS[name], 0
    weaks = [w for w in itertools.product(GRID[:9:2], repeat=3) if weak_check(th, w).passed]
    assert weaks
    for weak in weaks:
        for prefix in itertools.product(GRID, repeat=2):
            verdict = settled_failure(th, prefix, 3, weak)
            if verdict is not None:
                settled += 1
                assert not any(full_check(th, weak, prefix + (last,)).passed for last in GRID)
    assert settled > 0


def test_nothing_is_settled_once_every_sample_is_in_or_before_any():
    th = PRESETS["deployed"]
    assert settled_failure(th, [1.0, 1.0, 1.0], 3) is None  # the full check decides then
    assert settled_failure(th, [], 3) is None


def test_one_too_easy_weak_sample_settles_the_weak_check():
    verdict = settled_failure(PRESETS["deployed"], [0.9], 3)
    assert verdict is not None and verdict.failed_rule == "weak_max"
    assert "after 1 of 3 samples" in verdict.detail
    assert settled_failure(PRESETS["deployed"], [0.5], 3) is None


def _episodes(tmp_path: Path, early: bool):
    config = load_config(None, [f"inner_loop.stop_sampling_early={str(early).lower()}"])
    harness = tmp_path / f"h{early}"
    shutil.copytree(DILIGENT, harness)
    papers = select_papers(subset="validation", limit=6)
    return run_episodes(papers, harness, config=config, client=LLMClient(config),
                        harness_version="v", workdir_root=tmp_path / f"w{early}")


def _calls(records) -> int:
    return sum(u.calls for r in records for u in r.usage.values())


def test_episodes_are_identical_with_and_without_early_stopping(tmp_path):
    paid = _episodes(tmp_path, early=False)
    early = _episodes(tmp_path, early=True)
    assert [r.model_dump(include={"status", "accepted", "accepted_example", "rounds"})
            for r in early] == [r.model_dump(include={"status", "accepted", "accepted_example",
                                                       "rounds"}) for r in paid]
    evals = [e for r in early for x in r.rounds for e in (x.weak, x.strong) if e is not None]
    assert any(len(e.samples) < 3 for e in evals)  # some evaluations stopped early ...
    assert all(len(e.samples) == 3 for e in evals if e.passed)  # ... never a passed one
    assert any(r.accepted for r in early)
    assert _calls(early) < _calls(paid)
