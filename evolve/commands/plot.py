"""`autodata plot RUN [RUN ...] -o FILE.png|.svg|.pdf [--kind trajectory|failures|cost|lineage]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evolve.commands.runs import add_results_option
from evolve.reports import KINDS
from evolve.reports.runs import resolve_run


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plot", help="figure of one or several runs: trajectory, failures or cost",
        description="trajectory: best accepted validation pass rate so far (step) and every "
        "candidate by status with standard-error bars over its evaluations (the pooled tally), "
        "runs overlaid, and the final re-evaluation's estimates with 95% intervals; failures: "
        "failed rounds per iteration by outcome, as shares of the iteration's rounds (--counts: "
        "counts); cost: cumulative spend by role over time; lineage: the candidate tree with "
        "the path to the best. Sized for a paper column (3.5 in, 8 pt; lineage 7 in above 40 "
        "attempts). The format follows the file suffix.")
    p.add_argument("runs", metavar="RUN", nargs="+")
    p.add_argument("-o", "--out", required=True, metavar="FILE", help="FILE.png, FILE.svg or FILE.pdf")
    p.add_argument("--kind", choices=KINDS, default="trajectory")
    p.add_argument("--counts", action="store_true", help="failures: raw counts, not shares")
    add_results_option(p)
    p.set_defaults(func=plot_command)


def plot_command(args: argparse.Namespace) -> int:
    from evolve.reports.plot import plot_runs  # matplotlib loads only when a figure is drawn

    dirs = [resolve_run(r, args.results) for r in args.runs]
    out = plot_runs(dirs, Path(args.out), args.kind, args.counts)
    print(f"wrote {out}", file=sys.stderr)
    return 0
