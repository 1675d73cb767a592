"""Pieces of `autodata bench` that are cheap to check (the benchmark itself takes minutes)."""

from __future__ import annotations

import json

import pytest

from inner_loop.papers import select_papers
from evolve.bench import marginal, split_file
from evolve.cli import build_parser


def test_bench_is_a_subcommand():
    args = build_parser().parse_args(["bench", "--json", "--cap", "4"])
    assert args.command == "bench" and args.cap == 4 and args.json


@pytest.mark.parametrize("n", [10, 50])
def test_scaling_split_has_n_validation_papers_disjoint_from_train(tmp_path, n):
    path = split_file(tmp_path, n)
    data = json.loads(path.read_text())
    assert len(data["validation"]) == n
    assert not set(data["validation"]) & set(data["train"])
    assert len(select_papers(None, path, "validation")) == n


def test_marginal_cpu_cancels_fixed_costs():
    # 100 ms fixed + 5 ms per call, measured on 20 and 120 calls
    small = {"calls": 20, "cpu_ms_per_call": (100 + 5 * 20) / 20,
             "sandbox_cpu_ms_per_call": 0.0, "sim_cpu_ms_per_call": 1.0}
    big = {"calls": 120, "cpu_ms_per_call": (100 + 5 * 120) / 120,
           "sandbox_cpu_ms_per_call": 0.0, "sim_cpu_ms_per_call": 1.0}
    out = marginal(small, big)
    assert out["cpu_ms_per_call"] == pytest.approx(5.0)
    assert out["marginal_calls"] == 100
