"""`autodata report RUN -o DIR`: a self-contained HTML page (DIR/index.html) of one run."""

from __future__ import annotations

import argparse
from pathlib import Path

from evolve.commands.runs import add_results_option
from evolve.reports.runs import resolve_run


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="one self-contained HTML page: figures, lineage, edits, config",
        description="Writes DIR/index.html (figures inline, the accepted lineage, every attempt, "
        "each accepted edit's diagnosis and diff, cost by role, the configuration). Prints the "
        "page's path.")
    p.add_argument("run", metavar="RUN")
    p.add_argument("-o", "--out", required=True, metavar="DIR")
    add_results_option(p)
    p.set_defaults(func=report_command)


def report_command(args: argparse.Namespace) -> int:
    from evolve.reports.report import build_report  # matplotlib loads only when a page is built

    print(build_report(resolve_run(args.run, args.results), Path(args.out)))
    return 0
