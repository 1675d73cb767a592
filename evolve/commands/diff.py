"""`autodata diff RUN [ITER|SHA|CANDIDATE] [--against parent|seed|ITER]`: a harness edit as a
unified diff (git for accepted commits; the recorded diff for rejected and invalid attempts)."""

from __future__ import annotations

import argparse
import sys

from evolve.commands.runs import add_results_option
from evolve.reports.diff import diff_data, diff_header
from evolve.reports.runs import resolve_run, to_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "diff", help="unified diff of a harness edit (accepted: git; rejected/invalid: recorded)",
        description="TARGET is an iteration number, a candidate id or an accepted commit sha "
        "(prefix); default: the best accepted candidate. Accepted candidates are compared with "
        "--against (their parent, the seed, or the accepted candidate of iteration ITER) by git; "
        "a rejected or invalid attempt shows the diff against its parent recorded in DuckDB.")
    p.add_argument("run", metavar="RUN")
    p.add_argument("target", metavar="TARGET", nargs="?", help="ITER, candidate id or SHA")
    p.add_argument("--against", default="parent", metavar="parent|seed|ITER",
                   help="what to compare with (default: parent)")
    add_results_option(p)
    p.add_argument("--json", action="store_true", help="print the diff and what it compares as JSON")
    p.set_defaults(func=diff_command)


def diff_command(args: argparse.Namespace) -> int:
    data = diff_data(resolve_run(args.run, args.results), args.target, args.against)
    if args.json:
        print(to_json(data))
    else:
        print(diff_header(data), file=sys.stderr)
        sys.stdout.write(data["diff"])
    return 0
