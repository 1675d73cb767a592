"""`autodata show RUN`: configuration, thresholds, accepted lineage, counts, cost by role."""

from __future__ import annotations

import argparse

from evolve.commands.runs import add_results_option
from evolve.reports.runs import resolve_run, to_json
from evolve.reports.show import show_data, show_text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "show", help="one run: config, thresholds, accepted lineage, counts, cost by role",
        description="RUN is a run folder or a run id under --results. Read-only; works while the "
        "run is live (it then reads the published snapshot, at most a few seconds old).")
    p.add_argument("run", metavar="RUN")
    add_results_option(p)
    p.add_argument("--json", action="store_true", help="print everything as JSON")
    p.set_defaults(func=show_command)


def show_command(args: argparse.Namespace) -> int:
    data = show_data(resolve_run(args.run, args.results))
    print(to_json(data) if args.json else show_text(data))
    return 0
