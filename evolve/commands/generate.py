"""`autodata generate`: papers → rubric-graded examples with one harness (agentic or CoT).

Writes DIR/examples.jsonl, DIR/episodes.jsonl and DIR/summary.json (see inner_loop/generate.py);
resumes when DIR/episodes.jsonl exists. Progress on stderr; `--json` prints summary.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from inner_loop.config import load_config
from inner_loop.errors import UserError
from inner_loop.executor import require_executor
from inner_loop.generate import METHODS, default_harness_dir, run_generate
from inner_loop.harness import HarnessInvalid, load_harness
from inner_loop.llm.client import LLMClient, require_api_keys
from inner_loop.papers import FORMATS, Paper, iter_papers, select_papers


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate", help="generate rubric-graded examples from papers (agentic or CoT)",
        description="Run the inner loop over papers with a harness and write DIR/examples.jsonl "
        "(accepted examples), DIR/episodes.jsonl (every episode) and DIR/summary.json. "
        "Default papers: the validation subset of the bundled corpus and split. Resumes: "
        "papers already in DIR/episodes.jsonl are skipped.",
    )
    p.add_argument("--papers", metavar="FILE", help="paper corpus (default: the bundled one)")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="corpus format (default: detect)")
    p.add_argument("--split", metavar="FILE", help="split file (default: the bundled split; "
                   "with --papers and no --split, every paper of FILE is used)")
    p.add_argument("--subset", choices=("train", "validation"), default="validation")
    p.add_argument("--ids", nargs="+", metavar="ID", help="only these paper ids")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N papers")
    p.add_argument("--skip-bad", action="store_true", help="with --papers: skip bad records "
                   "(counted by `autodata papers --skip-bad`) instead of stopping at the first")
    p.add_argument("--method", choices=METHODS, default="agentic")
    p.add_argument("--harness", metavar="DIR", help="harness directory (default: the seed harness)")
    p.add_argument("--preset", choices=("deployed", "paper_prose"),
                   help="the thresholds an example must pass (default: from config, else "
                        "deployed)")
    p.add_argument("--max-rounds", type=int, metavar="N", help="round budget per episode")
    p.add_argument("--executor", choices=("local", "ray"), help="where episodes run: this "
                   "process, or a Ray cluster (executor.address; default: a throw-away local "
                   "one); see docs/scale-out.md")
    p.add_argument("--config", metavar="FILE", help="config TOML")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, e.g. inner_loop.concurrency=4 (repeatable)")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--json", action="store_true", help="print summary.json to stdout")
    p.set_defaults(func=generate)


def choose_papers(args: argparse.Namespace) -> tuple[Iterable[Paper], int | None]:
    """The papers to run and how many (None: a corpus streamed, counted as it is read).
    `--papers FILE` alone streams FILE (any size; memory flat); with `--ids` only those are
    picked (held, checked against FILE before any work); a split selects its subset."""
    if args.limit is not None and args.limit < 0:
        raise UserError(f"--limit must be >= 0, got {args.limit}")
    if args.papers and not args.split:
        if args.ids:
            chosen = set(args.ids)
            papers = [p for p in iter_papers(args.papers, args.format, skip_bad=args.skip_bad)
                      if p.id in chosen]
            unknown = sorted(chosen - {p.id for p in papers})
            if unknown:
                raise UserError(f"ids not in {args.papers}: {', '.join(unknown[:5])}")
            papers = papers[: args.limit] if args.limit is not None else papers
            return papers, len(papers)
        stream: Iterator[Paper] = iter_papers(args.papers, args.format, skip_bad=args.skip_bad)
        first = next(stream, None)  # the file is readable and holds a paper: before any work
        if first is None or args.limit == 0:
            return [], 0
        rest = itertools.chain([first], stream)
        return (itertools.islice(rest, args.limit) if args.limit is not None else rest), None
    papers = select_papers(args.papers, args.split, args.subset, args.ids, args.limit,
                           format=args.format)
    return papers, len(papers)


def _overrides(args: argparse.Namespace) -> list[str]:
    sets = list(args.sets)
    if args.executor:
        sets.append(f"executor.kind={args.executor}")
    if args.preset:
        sets.append(f"inner_loop.preset={args.preset}")
    if args.max_rounds is not None:
        if args.max_rounds < 1:
            raise UserError(f"--max-rounds must be >= 1, got {args.max_rounds}")
        sets.append(f"inner_loop.max_rounds={args.max_rounds}")
    return sets


def generate(args: argparse.Namespace) -> int:
    config = load_config(args.config, _overrides(args))
    require_api_keys(config)
    require_executor(config.executor)
    harness_dir = Path(args.harness) if args.harness else default_harness_dir()
    try:
        load_harness(harness_dir)
    except HarnessInvalid as exc:
        raise UserError(f"harness {harness_dir} is invalid: {exc}") from None
    papers, total = choose_papers(args)
    if total == 0:
        raise UserError("no papers selected")
    out = Path(args.out)
    client = LLMClient(config, cache_path=out / "llm_cache.sqlite")
    console = Console(stderr=True)
    if config.simulated:
        console.print("[bold yellow]SIMULATED backend[/]: models answer from the simulated world")
    try:
        with _progress(console) as bar:
            task = bar.add_task("papers", total=total, accepted=0)
            accepted = [0]

            def on_progress(done: int, _total: int | None, record: Any) -> None:
                accepted[0] += int(bool(record is not None and record.accepted))
                bar.update(task, completed=done, accepted=accepted[0])

            summary = run_generate(papers, out, config=config, client=client,
                                   method=args.method, harness_dir=harness_dir,
                                   progress=on_progress, total=total)
    finally:
        client.close()
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        print(human_summary(summary, out))
    return 0


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("[bold]generate[/]"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("papers, accepted {task.fields[accepted]}"), TimeElapsedColumn(),
                    console=console, transient=False)


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def human_summary(s: dict[str, Any], out: Path) -> str:
    label = "SIMULATED backend — " if s["simulated"] else ""
    lines = [
        f"{label}{s['method']} on {s['papers']} papers: {s['accepted']} accepted "
        f"({_fmt(s['acceptance_rate'], '.1%')}), mean rounds {_fmt(s['mean_rounds'], '.2f')}",
        f"weak avg {_fmt(s['weak_avg'], '.3f')}, strong avg {_fmt(s['strong_avg'], '.3f')}, "
        f"gap {_fmt(s['gap'], '.3f')} (accepted examples; preset {s['preset']})",
        "round outcomes: " + (", ".join(f"{k} {v}" for k, v in s["failure_counts"].items())
                              or "none"),
        f"calls {s['usage']['total']['calls']}, cost ${s['usage']['total']['cost_usd']:.4f}, "
        f"{s['duration_s']:.1f}s" + (f", {s['resumed_episodes']} episodes resumed"
                                     if s["resumed_episodes"] else ""),
        f"wrote {out / 'examples.jsonl'}, {out / 'episodes.jsonl'}, {out / 'summary.json'}",
    ]
    return "\n".join(lines)
