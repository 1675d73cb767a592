"""What a run's LLM calls cost under an endpoint's prefix cache, and `usd_ratio`.

An endpoint with automatic prefix caching (vLLM, Moonshot) bills the cached part of a prompt at
the role's `price_cached_input_per_mtok`. A run against the in-process simulated world records
no cached tokens (no endpoint, no cache), so this module replays the run's recorded calls, in the
order they started, through the same emulated cache `autodata sim-serve` runs
(`inner_loop.sim.prefix_cache`: vLLM's automatic prefix caching, 16-token blocks, LRU) and prices
every call: uncached input at the input price, cached input at the cached price, output at the
output price. Calls answered without reaching an endpoint (response-cache and shared hits) and
failed calls are left out; the cache is scoped by each call's recorded model. Calls are replayed
iteration by iteration, in start order within each (iterations that ran concurrently are
replayed one after the other).

`run_cost(run_dir, prices)`: the totals and per-role figures (`CacheCost`).
`usd_ratio(ours, protocol, prices)`: our USD ÷ the paper protocol's, both under the same emulated
cache and prices (what `autodata bench` reports as `figures.usd_ratio`, on its call-economy
scenario's two runs). `python -m evolve.cost_cache RUN_DIR` prints a run's per-role table.

Prices default to `configs/paper.toml` (Kimi-K2.6 on Moonshot for the agent roles and the judge,
with its cache-hit price; the self-hosted solvers at 0). Not replayed: the tool specs of a call
(a CallRecord does not hold them): the orchestrator's tool list, which a chat template puts first,
is counted as never cached — a small underestimate of its cached tokens.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from inner_loop.config import Config, load_config
from inner_loop.llm.accounting import price_usd
from inner_loop.sim.prefix_cache import PrefixCache, PrefixCacheOptions, prompt_text
from evolve.store import StoreReader

PAPER_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "paper.toml"

_CALLS_SQL = ("SELECT c.role, c.model, c.input_tokens, c.output_tokens, c.cached_tokens, b.text "
              "FROM llm_calls c JOIN blobs b ON b.sha256 = c.request_blob "
              "WHERE NOT c.cached AND c.error IS NULL AND c.iteration {match} "
              "ORDER BY c.started_at, c.call_id")


@dataclass
class CacheCost:
    """Tokens and USD of a set of calls; `usd` prices the cached input tokens at the cached
    price, `usd_uncached` every input token at the input price (the same calls)."""

    calls: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    usd: float = 0.0
    usd_uncached: float = 0.0
    roles: dict[str, "CacheCost"] = field(default_factory=dict)

    @property
    def cached_share(self) -> float:
        """Cached input tokens as a share of all input tokens."""
        return self.cached_tokens / self.input_tokens if self.input_tokens else 0.0

    def add(self, role: str, input_tokens: int, cached: int, output: int, usd: float,
            usd_uncached: float) -> None:
        for target in (self, self.roles.setdefault(role, CacheCost())):
            target.calls += 1
            target.input_tokens += input_tokens
            target.cached_tokens += cached
            target.output_tokens += output
            target.usd += usd
            target.usd_uncached += usd_uncached

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in ("calls", "input_tokens", "cached_tokens",
                                             "output_tokens", "usd", "usd_uncached")}
        out["cached_share"] = self.cached_share
        if self.roles:
            out["roles"] = {r: c.as_dict() for r, c in sorted(self.roles.items())}
        return out


def paper_prices() -> Config:
    """The prices of `configs/paper.toml`."""
    return load_config(PAPER_CONFIG)


def replay(calls: Iterable[dict[str, Any]], prices: Config,
           options: PrefixCacheOptions | None = None) -> CacheCost:
    """Price `calls` (dicts with role, model, input_tokens, output_tokens and messages, in the
    order they reached the endpoint) under one fresh emulated prefix cache."""
    cache = PrefixCache(options)
    total = CacheCost()
    for c in calls:
        rc = prices.role(c["role"])
        tokens_in, tokens_out = int(c["input_tokens"]), int(c["output_tokens"])
        cached = cache.observe(c["model"], prompt_text(c["messages"]), tokens_in)
        total.add(c["role"], tokens_in, cached, tokens_out,
                  price_usd(tokens_in, cached, tokens_out, rc),
                  price_usd(tokens_in, 0, tokens_out, rc))
    return total


def recorded_calls(run_dir: str | Path,
                   min_iteration: int | None = None) -> Iterable[dict[str, Any]]:
    """The run's calls that reached an endpoint and were answered, each with its request
    messages: iteration by iteration (one query each: a run's prompts do not fit in memory), in
    the order they started within it; calls outside any iteration first."""
    with StoreReader.open(run_dir) as reader:
        found = [r["iteration"] for r in reader.query(
            "SELECT DISTINCT iteration FROM llm_calls ORDER BY iteration NULLS FIRST")]
        for it in found:
            if it is not None and min_iteration is not None and it < min_iteration:
                continue
            if it is None and min_iteration is not None:
                continue
            match = "IS NULL" if it is None else f"= {int(it)}"
            for row in reader.query(_CALLS_SQL.format(match=match)):
                row["messages"] = json.loads(row.pop("text"))
                yield row


def run_cost(run_dir: str | Path, prices: Config | None = None, *,
             min_iteration: int | None = None, options: PrefixCacheOptions | None = None,
             emulate: bool = True) -> CacheCost:
    """The run's calls priced at `prices` (default: configs/paper.toml). `emulate`: cached tokens
    from the emulated prefix cache (a run on the simulated world); False: as the endpoint
    reported them (`llm_calls.cached_tokens`, a run on a real endpoint or on sim-serve).
    `min_iteration`: only calls of iterations >= it (1: leave out the seed's scoring)."""
    prices = prices or paper_prices()
    calls = recorded_calls(run_dir, min_iteration)
    if emulate:
        return replay(calls, prices, options)
    total = CacheCost()
    for c in calls:
        rc = prices.role(c["role"])
        t_in, t_out = int(c["input_tokens"]), int(c["output_tokens"])
        cached = int(c["cached_tokens"])
        total.add(c["role"], t_in, cached, t_out, price_usd(t_in, cached, t_out, rc),
                  price_usd(t_in, 0, t_out, rc))
    return total


def usd_ratio(ours: str | Path, protocol: str | Path, prices: Config | None = None, *,
              min_iteration: int | None = 1, options: PrefixCacheOptions | None = None,
              emulate: bool = True) -> float | None:
    """USD of run `ours` ÷ USD of run `protocol` (the paper's protocol: the exact savings off, the
    same seeds), both replayed through the same emulated prefix cache and priced alike
    (default: configs/paper.toml, iterations >= 1). None when the protocol run cost nothing."""
    prices = prices or paper_prices()
    a = run_cost(ours, prices, min_iteration=min_iteration, options=options, emulate=emulate)
    b = run_cost(protocol, prices, min_iteration=min_iteration, options=options, emulate=emulate)
    return a.usd / b.usd if b.usd > 0 else None


def table(cost: CacheCost, iterations: int = 1) -> str:
    """Per role, per iteration: calls, input tokens, cached share, output tokens, USD with and
    without the cache (what docs/real-models.md §5 shows)."""
    head = "| role | calls | input tokens | cached | output tokens | USD, no cache | USD, cached |"
    lines = [head, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    rows = sorted(cost.roles.items(), key=lambda kv: -kv[1].usd_uncached) + [("**all**", cost)]
    for role, c in rows:
        lines.append(f"| {role} | {c.calls / iterations:,.1f} | "
                     f"{c.input_tokens / iterations:,.0f} | "
                     f"{c.cached_share:.1%} | {c.output_tokens / iterations:,.0f} | "
                     f"{c.usd_uncached / iterations:.4f} | {c.usd / iterations:.4f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m evolve.cost_cache RUN_DIR [--min-iteration N] [--per K] [--config F]
    [--reported] [--json]`."""
    p = argparse.ArgumentParser(prog="python -m evolve.cost_cache",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir")
    p.add_argument("--min-iteration", type=int, default=1,
                   help="default 1: the seed's scoring left out")
    p.add_argument("--per", type=int, default=1, help="divide by this many iterations")
    p.add_argument("--config", default=str(PAPER_CONFIG),
                   help="prices (default configs/paper.toml)")
    p.add_argument("--reported", action="store_true",
                   help="the endpoint's cached tokens, not the emulation")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    cost = run_cost(args.run_dir, load_config(args.config), min_iteration=args.min_iteration,
                    emulate=not args.reported)
    print(json.dumps(cost.as_dict(), indent=2) if args.json else table(cost, args.per))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
