"""`autodata` entry point: subcommands, one function each.

Exit codes: 0 ok, 1 user error (one line on stderr), 2 usage error (argparse).
Progress and logs go to stderr; data goes to stdout (`--json` where a command prints data).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

import duckdb

from inner_loop.errors import UserError
from inner_loop.llm.types import FatalLLMError
from inner_loop.redact import redact_text
from evolve.stop import RunInterrupted
from evolve.store.db import failure_cause

# Subcommand modules under evolve.commands, in the order `autodata --help` lists them.
COMMANDS = [
    "generate",
    "compare",
    "evolve_cmd",
    "evaluate",
    "papers",
    "split",
    "sim_serve",
    "bench",
    "runs",
    "show",
    "log",
    "diff",
    "plot",
    "report",
    "sql",
    "export",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autodata",
        description="Agentic Self-Instruct and meta-optimisation of its harness.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"evolve.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"evolve.commands.{name}":
                continue  # a subcommand not built yet is simply absent
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc = args.func(args)
    except UserError as exc:
        print(redact_text(f"autodata: error: {exc}"), file=sys.stderr)
        return 1
    except FatalLLMError as exc:  # an endpoint gave up or refused: the run stays resumable
        text = " ".join(str(exc).split())
        fix = "use a model that answers in the asked JSON format" if "no parseable reply" in \
            text else "fix the endpoint or key"
        print(redact_text(f"autodata: error: {text[:400]} ({fix}, then `autodata resume` the run)"),
              file=sys.stderr)
        return 1
    except RunInterrupted as exc:  # SIGTERM / SIGINT: stopped gracefully, resumable
        print(f"autodata: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("autodata: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `autodata log RUN | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a full disk, a read-only folder, a corrupt database: one line
        cause = failure_cause(exc) if isinstance(exc, (OSError, duckdb.Error)) else None
        if cause is None:
            raise
        text = " ".join(str(exc).split())
        print(redact_text(f"autodata: error: {text[-300:]} ({cause})"), file=sys.stderr)
        return 1
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
