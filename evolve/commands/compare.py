"""`autodata compare DIR_A DIR_B [--json]`: the paper's Table 1 for two `generate` runs."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from inner_loop.compare import TABLE_ROWS, compare_runs, format_value


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "compare", help="Table 1 side by side for two generate output directories",
        description="Compare two `generate` output directories (e.g. agentic vs CoT "
                    "Self-Instruct): accepted examples, acceptance rate, weak/strong averages, "
                    "gap, rounds, lengths, failure reasons, calls and cost.",
    )
    parser.add_argument("dir_a", help="first generate output directory")
    parser.add_argument("dir_b", help="second generate output directory")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.set_defaults(func=run)


def _table(data: dict[str, Any]) -> Table:
    a, b = data["a"], data["b"]
    title = "Table 1" + (" — SIMULATED model world" if data["simulated"] else "")
    table = Table(title=title)
    table.add_column("")
    for key, run in (("A", a), ("B", b)):
        label = f"{key}: {run['dir']}" + (" (simulated)" if run["simulated"] else "")
        table.add_column(label, justify="right")
    for label, field, fmt in TABLE_ROWS:
        table.add_row(label, format_value(a[field], fmt), format_value(b[field], fmt))
    reasons = sorted(set(a["failure_reasons"]) | set(b["failure_reasons"]))
    for outcome in reasons:
        table.add_row(f"rounds {outcome}", str(a["failure_reasons"].get(outcome, 0)),
                      str(b["failure_reasons"].get(outcome, 0)))
    return table


def run(args: argparse.Namespace) -> int:
    data = compare_runs(args.dir_a, args.dir_b)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    console = Console(file=sys.stdout)
    console.print(_table(data))
    if data["simulated"]:
        console.print("SIMULATED: these numbers come from the simulated model world, "
                      "not from real models.")
    return 0
