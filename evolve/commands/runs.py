"""`autodata runs`: the run folders under results/, newest first, with status and scores."""

from __future__ import annotations

import argparse
from pathlib import Path

from evolve.reports.runs import DEFAULT_RESULTS, format_table, list_runs, pct, to_json


def add_results_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", metavar="DIR", default=str(DEFAULT_RESULTS),
                   help="where run ids are looked up (default: results/)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "runs", help="list runs: status, iterations, accepted, best pass rate (tally and final), spend",
        description="Every run folder under --results, newest first. Status: running (a live "
        "process holds run.lock), finished, failed, interrupted (no live lock and no recorded "
        "end). Read-only; works while runs are live.")
    add_results_option(p)
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=runs_command)


def _final(r: object) -> str:
    """`c0012 79.0% [70.0, 86.0]`: the best by the final re-evaluation, or `-` when none."""
    if getattr(r, "final_pass_rate", None) is None:
        return "-"
    low, high = r.final_interval  # type: ignore[attr-defined]
    return (f"{r.final_candidate.split('-')[0]} {pct(r.final_pass_rate)} "  # type: ignore[attr-defined]
            f"[{100 * low:.1f}, {100 * high:.1f}]")


def runs_command(args: argparse.Namespace) -> int:
    runs = list_runs(args.results)
    if args.json:
        print(to_json([r.model_dump() for r in runs]))
        return 0
    rows = [{"run": Path(r.run_dir).name, "status": r.status + (" SIM" if r.simulated else ""),
             "created": (r.created_at or "")[:19],
             "iterations": f"{r.iterations}/{r.iteration_budget or '-'}",
             "accepted": r.accepted, "rejected": r.rejected, "invalid": r.invalid,
             "seed": pct(r.seed_pass_rate), "best (tally)": pct(r.best_pass_rate),
             "best (final, 95%)": _final(r),
             "spend_usd": f"{r.spend_usd:.4f}", "detail": r.detail[:40]} for r in runs]
    print(format_table(rows, ["run", "status", "created", "iterations", "accepted", "rejected",
                              "invalid", "seed", "best (tally)", "best (final, 95%)",
                              "spend_usd", "detail"]) if rows
          else f"no runs under {args.results}")
    return 0
