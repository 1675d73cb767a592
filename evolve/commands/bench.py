"""`autodata bench [--json]`: the performance figures of issues 9 and 19, measured side by side."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from evolve.bench import BenchSettings, run_bench, stamp
from evolve.bench_figures import row
from evolve.bench_settings import SCENARIOS
from inner_loop.config import ExecutorConfig
from inner_loop.errors import UserError
from inner_loop.executor import require_executor


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench", help="benchmark: saturation, call economy, overhead, scaling, resume",
        description="Real runs against `sim-serve` on loopback (SIMULATED model world) with "
        "injected latency and an endpoint concurrency cap; prints one table.")
    p.add_argument("--latency-ms", type=float, default=50.0, help="injected latency (scaling)")
    p.add_argument("--saturation-latency-ms", type=float, default=200.0,
                   help="injected latency of the saturation scenario")
    p.add_argument("--cap", type=int, default=8, help="endpoint concurrency cap C (saturation)")
    p.add_argument("--quick", action="store_true", help="smaller scaling grid (for tests)")
    p.add_argument("--only", metavar="SCENARIO[,SCENARIO]", type=_scenarios, default=SCENARIOS,
                   help=f"run only these scenarios: {', '.join(SCENARIOS)} (default: all); "
                   "e.g. `--only saturation` measures the saturation figures in about a minute")
    p.add_argument("--plot", metavar="PNG", help="also write the scaling plot to PNG")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--ray", action="store_true", help="also the ray executor: scheduling "
                   "overhead per episode, 1 vs 2 nodes (a `ray` section; evolve/bench_ray.py)")
    p.set_defaults(func=bench_command)


def bench_command(args: argparse.Namespace) -> int:
    bs = BenchSettings(latency_ms=args.latency_ms, cap=args.cap,
                       saturation_latency_ms=args.saturation_latency_ms, only=args.only)
    if args.quick:
        bs.quick()
    if args.plot and "scaling" not in bs.only:
        raise UserError("--plot draws the scaling scenario: add scaling to --only")
    if args.ray:
        require_executor(ExecutorConfig(kind="ray"))  # one line before any work
    result = run_bench(bs)
    data = {"simulated": True, "measured_at": stamp(), **asdict(result)}
    if args.ray:
        from evolve.bench_ray import RayBenchSettings, ray_bench, table as ray_table

        data["ray"] = ray_bench(RayBenchSettings.quick() if args.quick else RayBenchSettings(),
                                say=lambda msg: print(msg, file=sys.stderr))
    if args.plot:
        plot(data, args.plot)
    if args.json:
        json.dump(data, sys.stdout, indent=2, default=str)
        print()
    else:
        print(table(data))
        if args.ray:
            print(ray_table(data["ray"]))
    return 0


def _scenarios(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    bad = [n for n in names if n not in SCENARIOS]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown scenario {bad[0] if bad else text!r}: one of {', '.join(SCENARIOS)}")
    return names


def _f(x: object, fmt: str = "{:.3f}") -> str:
    return "-" if x is None else fmt.format(x)


def _saturation(sat: dict, fig: dict) -> list[tuple[str, str, str, str]]:
    return [
        ("saturation", _f(fig.get("saturation")), ">= 0.95",
         f"{sat.get('busy_calls_per_s', sat['calls_per_s']):.1f} calls/s vs C/L = "
         f"{sat['ideal_calls_per_s']:.0f} (C={sat['cap']}, L={sat['latency_ms']:.0f} ms; "
         f"iteration 1's child and parent on {sat['papers']} papers, {sat['scoring_calls']} "
         f"calls, {sat['inflight']} episodes in flight)"),
        ("saturation, seed scoring", _f(fig.get("seed_saturation")), "no idle tail",
         f"the run's seed scoring ({sat['papers']} episodes at once) and what started in its "
         f"tail, {_f(sat.get('seed_scoring_s'), '{:.1f}')} s")] + [
        (f"  replayed, {label}", _f(r["oracle"]), "-",
         f"the same {r['chains']} chains of calls on C slots: oracle (longest still to come "
         f"first, lengths known in advance) {r['oracle']:.3f}, fifo {r['fifo']:.3f}, fewest "
         f"calls first {r['fewest_first']:.3f}") for label, r in (
             ("candidate scoring", sat.get("replay")), ("seed scoring", sat.get("seed_replay")))
        if r]


def _economy(eco: dict, fig: dict) -> list[tuple[str, str, str, str]]:
    return [
        ("call economy (calls)", _f(eco["calls_ratio"]), "<= 0.65",
         f"{eco['savings']['calls']} / {eco['protocol']['calls']} calls in "
         f"{len(eco['protocol']['decisions'])} iterations x {eco['papers']} papers; "
         f"identical decisions: {eco['identical_decisions']}, evaluations: "
         f"{eco['identical_evaluations']} ({eco['skipped_episodes']} child episodes raced "
         f"away, {eco['savings']['shared_calls']} calls shared)"),
        ("call economy (tokens)", _f(eco["tokens_ratio"]), "<= 0.65",
         f"{eco['savings']['tokens']} / {eco['protocol']['tokens']} tokens"),
        ("call economy (USD)", _f(fig.get("usd_ratio")), "-",
         f"${_f(eco['savings'].get('usd'), '{:.2f}')} / "
         f"${_f(eco['protocol'].get('usd'), '{:.2f}')} at configs/paper.toml's prices")]


def _overhead(ovh: dict, fig: dict) -> list[tuple[str, str, str, str]]:
    pairs = ovh.get("pairs_cpu_ms_per_call", [ovh["cpu_ms_per_call"]])
    sdk = ovh.get("sdk") or {}
    return [
        ("overhead / bare SDK", _f(fig.get("overhead_ratio_to_sdk"), "{:.2f}x"), "<= 1.5x",
         f"our process {ovh['cpu_ms_per_call']:.2f} ms CPU/call vs the bare openai client "
         f"{_f(ovh.get('sdk_cpu_ms_per_call'), '{:.2f}')} ms ({sdk.get('calls', 0)} identical "
         f"create() calls, {sdk.get('threads', 0)} threads, {sdk.get('prompt_chars', 0)} "
         f"prompt chars), same sim-serve"),
        ("overhead, ms CPU/call", _f(ovh["cpu_ms_per_call"]), "-",
         f"this process, latency 0, median of {len(pairs)} marginals "
         f"({', '.join(f'{x:.1f}' for x in pairs)}) over "
         f"{ovh['marginal_calls']} calls (whole run "
         f"{ovh['whole_run_cpu_ms_per_call']:.1f}); sim server (excluded) "
         f"{ovh['sim_cpu_ms_per_call']:.2f} ms"),
        ("sandbox children / SDK", _f(fig.get("sandbox_ratio_to_sdk"), "{:.2f}x"), "-",
         f"the sandboxed harness children {ovh['sandbox_cpu_ms_per_call']:.2f} ms CPU/call"),
        ("store bytes / episode", _f(fig.get("store_bytes_per_episode"), "{:,.0f}"), "-",
         "what the run's DuckDB file grows per episode (marginal, same runs as the overhead)")]


def _scaling(s: dict) -> tuple[str, str, str, str]:
    what = (f"{s['papers']} papers" if s.get("repeats", 1) == 1 else
            f"{s['papers']} episodes ({s['papers'] // s['repeats']} papers x "
            f"{s['repeats']} repeats)")
    return (f"scaling {s['name']}", f"{s['scoring_s']:.2f} s", "linear / falls",
            f"{what}, {s['inflight']} in flight, cap {s['cap']}, "
            f"{s['calls']} calls, {s['calls_per_s']:.1f} calls/s")


def _resume(res: dict) -> tuple[str, str, str, str]:
    return ("resume: calls repaid", str(res["calls_repaid_for_finished_work"]), "0",
            f"stopped at {res['calls_before_stop']} calls "
            f"({res['episodes_finished_before_stop']} episodes recorded), "
            f"{res['calls_after_resume']} calls after resume, uninterrupted "
            f"{res['calls_uninterrupted']}; identical decisions: {res['identical_decisions']}")


def table(d: dict) -> str:
    """One table: figure, value, target, and what it was measured on (the scenarios run)."""
    fig, eco = d.get("figures") or {}, d.get("economy") or {}
    sat, ovh = row(d["rows"], "saturation"), row(d["rows"], "overhead")
    rows = (_saturation(sat, fig) if sat else []) + \
        (_economy(eco, fig) if "calls_ratio" in eco else []) + \
        (_overhead(ovh, fig) if ovh else []) + [_scaling(s) for s in d.get("scaling", [])] + \
        ([_resume(eco["resume"])] if "resume" in eco else [])
    w = [max((len(r[i]) for r in rows), default=0) for i in range(3)]
    lines = [f"autodata bench — SIMULATED model world, {d['measured_at']}, "
             f"{d['wall_s']:.0f} s"]
    lines += [f"{a:<{w[0]}}  {b:>{w[1]}}  {c:<{w[2]}}  {e}" for a, b, c, e in rows]
    return "\n".join(lines)


def plot(d: dict, path: str) -> None:
    """Scoring wall time vs papers and vs episodes in flight (matplotlib, Agg)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6))
    by_papers = [s for s in d["scaling"] if s["name"].startswith("papers_")]
    by_inflight = [s for s in d["scaling"] if s["name"].startswith("inflight_")]
    for ax, rows, key, label in ((fig.add_subplot(1, 2, 1), by_papers, "papers",
                                  "validation episodes (16 in flight)"),
                                 (fig.add_subplot(1, 2, 2), by_inflight, "inflight",
                                  "episodes in flight")):
        ax.plot([s[key] for s in rows], [s["scoring_s"] for s in rows], "o-")
        ax.set_xlabel(label)
        ax.set_ylabel("scoring wall time (s)")
        if key == "inflight":
            ax.set_xscale("log", base=2)
        ax.grid(alpha=0.3)
    s0 = d["scaling"][0]
    fig.suptitle(f"autodata bench, SIMULATED: seed scoring against sim-serve, "
                 f"latency {s0['latency_ms']:.0f} ms, endpoint cap {s0['cap']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
