"""`autodata sql RUN "SELECT ..."`: one read-only statement over the run's database."""

from __future__ import annotations

import argparse

from evolve.commands.runs import add_results_option
from evolve.reports.runs import format_grid, resolve_run, run_sql, to_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sql", help="one read-only SQL statement over a run's database",
        description="Tables and views are described in evolve/store/README.md (e.g. "
        "pass_rate_trajectory, failure_reasons, cost_by_role, lineage, candidate_status). Only "
        "one SELECT / WITH / FROM / DESCRIBE / SHOW / SUMMARIZE statement; the guard that "
        "matters is the connection: opened read-only, with file and network access switched off.")
    p.add_argument("run", metavar="RUN")
    p.add_argument("query", metavar="SQL")
    add_results_option(p)
    p.add_argument("--json", action="store_true", help="print rows as a JSON list of objects")
    p.set_defaults(func=sql_command)


def sql_command(args: argparse.Namespace) -> int:
    columns, rows = run_sql(resolve_run(args.run, args.results), args.query)
    if args.json:
        print(to_json([dict(zip(columns, r)) for r in rows]))
    else:
        print(format_grid(columns, rows))
    return 0
