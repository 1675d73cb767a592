"""USD under the emulated prefix cache (evolve/cost_cache.py: run_cost, usd_ratio) and the
cached tokens in `autodata show`, `report` and the cost plot, on real DuckDB stores."""

import json

import pytest

from evolve.cost_cache import paper_prices, replay, run_cost, usd_ratio
from evolve.store import Store
from inner_loop.config import Config, RoleConfig
from inner_loop.llm.client import LLMClient
from inner_loop.sim.prefix_cache import PrefixCache, PrefixCacheOptions, prompt_text
from inner_loop.sim.server import SimServer
from recorded_run import cli, copy_of_run

PAPER = " ".join(f"Claim {i}: the ablation in section {i % 7} removes one attention head." for i in range(300))
QUESTIONS = ["Is the example grounded?", "Does the context leak the answer?", "Is it recall?"]


def _prompt(question: str) -> list[dict]:
    return [{"role": "system", "content": "You are the quality verifier."},
            {"role": "user", "content": f"<paper>\n{PAPER}\n</paper>\n\n{question}"}]


def _record(run_dir, records, iteration=1):
    with Store.open(run_dir, create=not (run_dir / "autodata.duckdb").exists()) as store:
        store.record_calls([r.model_dump(mode="json") for r in records], iteration=iteration)


def _calls_over_sim_serve(questions, role="verifier"):
    """The records of real calls through sim-serve (its cache reports cached tokens)."""
    records = []
    with SimServer() as server:
        config = Config()
        config.roles[role] = RoleConfig(backend="openai", base_url=server.base_url, model=f"sim-{role}",
                                        price_input_per_mtok=0.95, price_cached_input_per_mtok=0.16,
                                        price_output_per_mtok=4.0)
        client = LLMClient(config, recorder=records.append)
        for q in questions:
            client.complete(role, _prompt(q))
    return records


def test_the_replay_gives_the_cached_tokens_sim_serve_reported(tmp_path):
    """One emulation: replaying a run's recorded calls finds the cached tokens the endpoint's
    cache reported for the same calls, and prices them alike."""
    records = _calls_over_sim_serve(QUESTIONS + QUESTIONS[:1])
    reported = [r.response["usage"]["cached_tokens"] for r in records]
    assert reported[0] == 0 and all(c > 0 for c in reported[1:])
    _record(tmp_path, records)
    prices = paper_prices()
    emulated, as_reported = run_cost(tmp_path, prices), run_cost(tmp_path, prices, emulate=False)
    assert emulated.cached_tokens == as_reported.cached_tokens == sum(reported)
    assert emulated.usd == pytest.approx(as_reported.usd) == pytest.approx(sum(r.cost_usd for r in records))
    assert emulated.usd < emulated.usd_uncached
    assert emulated.roles["verifier"].calls == 4 and 0.5 < emulated.cached_share < 1


def test_usd_ratio_prices_both_runs_under_the_same_cache(tmp_path):
    ours, protocol = tmp_path / "ours", tmp_path / "protocol"
    ours.mkdir(), protocol.mkdir()
    every = _calls_over_sim_serve(QUESTIONS)
    _record(protocol, every)
    _record(ours, every[:2])  # the same first two calls: a saving of the third
    _record(protocol, _calls_over_sim_serve(["seed scoring"]), iteration=0)  # left out: iteration 0
    prices = paper_prices()
    a, b = run_cost(ours, prices, min_iteration=1), run_cost(protocol, prices, min_iteration=1)
    assert (a.calls, b.calls) == (2, 3)
    assert usd_ratio(ours, protocol, prices) == pytest.approx(a.usd / b.usd)
    # the third call reads the paper from the cache: it costs far less than the first
    assert 2 / 3 < a.usd / b.usd < 0.95
    assert usd_ratio(ours, protocol, Config()) is None  # all prices 0: no ratio


def test_replay_cache_is_scoped_by_model_and_off_when_capacity_is_zero():
    calls = [{"role": r, "model": f"sim-{r}", "input_tokens": len(PAPER) // 4 + 20, "output_tokens": 5,
              "messages": _prompt("Q")} for r in ("verifier", "verifier", "judge")]
    on = replay(calls, paper_prices())
    assert on.roles["judge"].cached_tokens == 0 < on.roles["verifier"].cached_tokens
    off = replay(calls, paper_prices(), PrefixCacheOptions(capacity_tokens=0))
    assert off.cached_tokens == 0 and off.usd == pytest.approx(off.usd_uncached) == pytest.approx(on.usd_uncached)


def test_prefix_blocks_match_only_after_an_identical_prefix():
    cache = PrefixCache()
    text = "a" * 640  # ten 16-token blocks
    assert cache.observe("m", text, 160) == 0
    assert cache.observe("m", text, 160) == 144  # the last token is computed: 9 full blocks
    assert cache.observe("m", "b" + text[1:], 160) == 0  # one character differs in block 0
    assert cache.observe("m", text[:320] + "c" * 320, 160) == 80  # the first five blocks
    assert cache.observe("other", text, 160) == 0
    assert prompt_text([{"role": "user", "content": "x"}], [{"name": "t"}]).startswith('[{"name"')


def test_show_report_and_cost_plot_carry_cached_tokens(tmp_path_factory, tmp_path, capsys):
    run_dir = copy_of_run(tmp_path_factory, tmp_path / "run")["run_dir"]
    records = _calls_over_sim_serve(QUESTIONS)
    with Store.open(run_dir) as store:
        store.record_calls([r.model_dump(mode="json") for r in records], iteration=1)
    cached = sum(r.response["usage"]["cached_tokens"] for r in records)
    rc, out, err = cli(capsys, "show", run_dir, "--json")
    assert rc == 0, err
    verifier = next(r for r in json.loads(out)["cost_by_role"] if r["role"] == "verifier")
    assert verifier["cached_tokens"] == cached > 0
    rc, text, _ = cli(capsys, "show", run_dir)
    assert "cached_tokens" in text and f"{cached}" in text and "per Mtok in/cached in/out" in text
    rc, _, err = cli(capsys, "report", run_dir, "-o", tmp_path / "report")
    page = (tmp_path / "report" / "index.html").read_text()
    assert rc == 0 and "cached_tokens" in page and "prefix cache" in page
    from evolve.reports.plot import load_run, panels_figure
    figure = panels_figure([load_run(run_dir)], "cost")
    title = figure.axes[0].get_title()
    assert "of input tokens cached" in title
