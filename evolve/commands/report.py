"""`autodata report RUN -o DIR`: a self-contained HTML page (DIR/index.html) of one run;
`autodata report RUN --watch [--port N]`: the same page served live on loopback (reports/watch.py)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from evolve.commands.runs import add_results_option
from evolve.reports.runs import resolve_run
from inner_loop.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="one self-contained HTML page: figures, lineage, edits, config",
        description="Writes DIR/index.html (figures inline, the accepted lineage, every attempt, "
        "each accepted edit's diagnosis and diff, cost by role, the configuration). Prints the "
        "page's path.")
    p.add_argument("run", metavar="RUN")
    p.add_argument("-o", "--out", metavar="DIR", help="where index.html is written (not with --watch)")
    p.add_argument("--watch", action="store_true",
                   help="serve the page live on 127.0.0.1 instead, rebuilt as the run writes "
                   "(read-only, from the read snapshot); Ctrl-C stops")
    p.add_argument("--port", type=int, default=8770, help="port of --watch (default 8770; 0 = any free)")
    p.add_argument("--interval-s", type=float, default=2.0,
                   help="how often --watch looks for changes (default 2 s)")
    add_results_option(p)
    p.set_defaults(func=report_command)


def report_command(args: argparse.Namespace) -> int:
    run_dir = resolve_run(args.run, args.results)
    if args.watch:
        if args.out is not None:
            raise UserError("--watch serves the page and writes no file: drop -o")
        return watch_command(run_dir, args.port, args.interval_s)
    if args.out is None:
        raise UserError("report needs -o DIR (or --watch to serve it live)")
    from evolve.reports.report import build_report  # matplotlib loads only when a page is built

    print(build_report(run_dir, Path(args.out)))
    return 0


def watch_command(run_dir: Path, port: int, interval_s: float) -> int:
    from evolve.reports.watch import WatchServer

    if not 0 <= port <= 65535 or interval_s <= 0:
        raise UserError(f"--port must be 0..65535 and --interval-s above 0, got {port} and {interval_s:g}")
    try:
        server = WatchServer(run_dir, port, interval_s=interval_s)
    except OSError as exc:
        raise UserError(f"cannot listen on 127.0.0.1:{port}: {exc}") from None
    server.start()
    print(f"report: watching run {run_dir.name} at {server.url} (read-only, from the read "
          "snapshot; Ctrl-C stops)", file=sys.stderr, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("report: stopped", file=sys.stderr)
    finally:
        server.stop()
    return 0
