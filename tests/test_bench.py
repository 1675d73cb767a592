"""Pieces of `autodata bench` that are cheap to check (the benchmark itself takes minutes)."""

from __future__ import annotations

import json
import math
import random

import pytest

from inner_loop.papers import select_papers
from evolve.bench import BenchResult, BenchSettings, SimProcess, marginal, run_bench, split_file
from evolve.bench_replay import ORDERINGS, Chain, chains_of, replay
from evolve.bench_figures import FIGURES, figures, sdk_baseline, store_bytes
from evolve.cli import build_parser
from evolve.commands.bench import table


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


def test_store_bytes_per_episode_is_the_marginal_growth():
    small = {"calls": 20, "cpu_ms_per_call": 1.0, "sandbox_cpu_ms_per_call": 0.0,
             "sim_cpu_ms_per_call": 0.0, "episodes": 5, "store_bytes": 1_000_000 + 5 * 3000}
    big = dict(small, calls=120, episodes=25, store_bytes=1_000_000 + 25 * 3000)
    assert marginal(small, big)["store_bytes_per_episode"] == pytest.approx(3000)


def test_store_bytes_count_the_database_not_the_snapshot_git_or_work(tmp_path):
    (tmp_path / "autodata.duckdb").write_bytes(b"x" * 1000)
    (tmp_path / "autodata.duckdb.wal").write_bytes(b"x" * 10)
    (tmp_path / "autodata.read.duckdb").write_bytes(b"x" * 5000)  # the readers' copy
    for folder in ("harness", "work"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "f").write_bytes(b"x" * 7000)
    assert store_bytes(tmp_path) == 1010


def test_the_bare_openai_client_is_measured_against_a_real_sim_serve():
    server = SimProcess(0.0)
    try:
        out = sdk_baseline(server.base_url, 4000, calls=24, threads=4)
    finally:
        server.stop()
    assert out["calls"] == 24 and out["threads"] == 4
    assert out["prompt_chars"] >= 4000  # the request has the size asked for
    assert 0 < out["cpu_ms_per_call"] < 1000 and out["wall_s"] > 0


@pytest.mark.slow
def test_quick_bench_reports_every_figure_and_the_savings_are_exact(tmp_path):
    bs = BenchSettings(saturation_papers=4, overhead_papers=(2, 4), overhead_repeats=1,
                       sdk_calls=32,
                       scaling_papers=(3, 100), scaling_inflight=(1, 8),
                       scaling_inflight_papers=3, economy_iterations=2, economy_papers=4)
    result = run_bench(bs, tmp_path, progress=lambda _msg: None)
    sat, ovh = result.rows
    assert sat["iterations"] == 1 and 0 < sat["calls_per_s"] <= sat["ideal_calls_per_s"] * 1.05
    # a difference of two tiny runs: its sign is noise here, only its presence is checked
    assert math.isfinite(ovh["cpu_ms_per_call"]) and ovh["marginal_calls"] > 0
    hundred = [s for s in result.scaling if s["papers"] == 100][0]
    assert hundred["repeats"] == 2 and hundred["calls"] > 0
    eco = result.economy
    assert eco["identical_decisions"] and eco["identical_evaluations"]
    assert eco["savings"]["calls"] < eco["protocol"]["calls"]
    assert eco["resume"]["calls_repaid_for_finished_work"] == 0
    assert eco["resume"]["identical_decisions"]
    fig = result.figures
    assert set(FIGURES) <= set(fig)
    assert 0 < fig["saturation"] <= 1.05 and 0 < fig["seed_saturation"] <= 1.05
    assert fig["overhead_ratio_to_sdk"] == pytest.approx(
        fig["overhead_ms_per_call"] / fig["sdk_ms_per_call"]) and fig["sdk_ms_per_call"] > 0
    assert fig["identical_decisions"] is True and fig["resume_calls_repaid"] == 0
    # DuckDB grows its file by whole blocks (256 kB): two tiny runs may differ by none
    assert fig["store_bytes_per_episode"] >= 0 and 0 < fig["usd_ratio"] < 1
    assert fig["calls_ratio"] == eco["calls_ratio"]
    text = table({"measured_at": "now", "wall_s": result.wall_s, "rows": result.rows,
                  "scaling": result.scaling, "economy": result.economy, "figures": fig})
    assert "SIMULATED" in text and "100 episodes (50 papers x 2 repeats)" in text
    assert "overhead / bare SDK" in text


def test_only_picks_scenarios_and_refuses_unknown_ones():
    args = build_parser().parse_args(["bench", "--only", "saturation,resume"])
    assert args.only == ("saturation", "resume")
    with pytest.raises(SystemExit):  # a usage error names the scenarios
        build_parser().parse_args(["bench", "--only", "saturaton"])
    with pytest.raises(ValueError, match="unknown bench scenario 'nope'"):
        run_bench(BenchSettings(only=("nope",)), progress=lambda _msg: None)


def test_figures_of_a_partial_run_are_none_where_a_scenario_was_left_out():
    sat = {"name": "saturation", "calls_per_s": 30.0, "busy_calls_per_s": 36.0,
           "ideal_calls_per_s": 40.0, "seed_busy_calls_per_s": 32.0, "cap": 8,
           "latency_ms": 200.0, "papers": 25, "scoring_calls": 500, "inflight": 25,
           "seed_scoring_s": 10.0}
    result = BenchResult(settings={"only": ("saturation",)}, rows=[sat])
    fig = figures(result)
    assert fig["saturation"] == pytest.approx(0.9) and fig["seed_saturation"] == 0.8
    assert fig["overhead_ms_per_call"] is None and fig["calls_ratio"] is None
    assert fig["identical_decisions"] is None  # not measured: neither True nor False
    text = table({"measured_at": "now", "wall_s": 1.0, "rows": [sat], "scaling": [],
                  "economy": {}, "figures": fig})
    assert "saturation  " in text and "0.900" in text and "overhead" not in text


def test_a_pair_shares_its_paid_prefix_and_a_lone_episode_is_one_chain():
    # parent 10 calls (8 paid), child 10 calls (4 paid): 12 distinct requests, 8 of them shared
    chains = chains_of({("it1/p/r1", "seed"): (10, 8), ("it1/p/r1", "c0001"): (10, 4),
                        ("it0/q/r0", "seed"): (7, 7)})
    assert sorted((c.length, c.then) for c in chains) == [(7, ()), (8, (2, 2))]
    assert replay(chains, 8, "fifo") == pytest.approx((7 + 12) / (8 * 10))  # 8 + 2 rounds


@pytest.mark.parametrize("seed", range(20))
def test_the_oracle_replay_is_optimal_for_lone_chains_and_no_ordering_beats_it(seed):
    """Attack: random chains; most calls still to come first is optimal for unit-time chains
    (Hu), so its rounds are max(ceil(work / C), the longest chain), and fifo or fewest calls
    first never do better."""
    rng = random.Random(seed)
    lengths, cap = [rng.randint(1, 30) for _ in range(rng.randint(1, 40))], rng.randint(1, 9)
    chains = [Chain(n) for n in lengths]
    best = sum(lengths) / (cap * max(-(-sum(lengths) // cap), max(lengths)))
    assert replay(chains, cap, "oracle") == pytest.approx(best)
    assert max(replay(chains, cap, o) for o in ORDERINGS) == pytest.approx(best)
    with pytest.raises(ValueError, match="unknown ordering"):
        replay(chains, cap, "random")
