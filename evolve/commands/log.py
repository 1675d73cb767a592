"""`autodata log RUN`: attempts (edit, diagnosis, decision) or, with --calls, LLM calls."""

from __future__ import annotations

import argparse

from evolve.commands.runs import add_results_option
from evolve.reports import log as reports_log
from evolve.reports.runs import open_reader, resolve_run, to_json
from inner_loop.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "log", help="attempts with edit, diagnosis and decision; --calls: LLM prompts/responses",
        description="The attempts of a run in iteration order, or with --calls the LLM calls "
        "with their prompts and responses. -n K keeps the K most recent (printed oldest first).")
    p.add_argument("run", metavar="RUN")
    add_results_option(p)
    p.add_argument("--iteration", type=int, metavar="N", help="only iteration N (0: the seed)")
    p.add_argument("--status", choices=reports_log.ATTEMPT_STATUSES, help="only attempts with this status")
    p.add_argument("--calls", action="store_true", help="show LLM calls instead of attempts")
    p.add_argument("--role", metavar="R", help="with --calls: only this role (e.g. analyzer, judge)")
    p.add_argument("-n", type=int, metavar="K", dest="n",
                   help="the K most recent entries (default: all attempts, 20 calls; 0: all)")
    p.add_argument("--full", action="store_true", help="do not shorten long prompts and diagnoses")
    p.add_argument("--json", action="store_true", help="print the entries as JSON (never shortened)")
    p.set_defaults(func=log_command)


def log_command(args: argparse.Namespace) -> int:
    if args.n is not None and args.n < 0:
        raise UserError(f"-n must be >= 0, got {args.n}")
    if not args.calls and args.role:
        raise UserError("--role needs --calls")
    with open_reader(resolve_run(args.run, args.results)) as reader:
        if args.calls:
            rows = reports_log.calls(reader, args.role, args.iteration, 20 if args.n is None else args.n)
            text = reports_log.calls_text(rows, args.full)
        else:
            rows = reports_log.attempts(reader, args.iteration, args.status, args.n)
            text = reports_log.attempts_text(rows, args.full)
    print(to_json(rows) if args.json else text)
    return 0
