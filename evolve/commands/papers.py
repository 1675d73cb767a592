"""`autodata papers PATH`: load a corpus in any supported format and print what is in it."""

from __future__ import annotations

import argparse
import sys

from inner_loop.papers import FORMATS
from inner_loop.papers.corpus import CharStats, CorpusStats, corpus_stats


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "papers",
        help="load a paper corpus and print counts, sizes, per-source stats and problems",
        description="Load PATH (normalised JSONL, S2ORC pdf_parses + metadata, Semantic Scholar "
        "Datasets s2orc JSONL, or a directory of .md/.txt files; .jsonl.gz works too) and print "
        "the number of papers, body-text characters (total/median/min/max), stats by id prefix "
        "and by subfield, and the bad records found. Without --skip-bad the first bad record "
        "is an error naming its file and line.",
    )
    p.add_argument("path", metavar="PATH", help="corpus file or directory")
    p.add_argument("--format", choices=FORMATS, default=None, help="input format (default: detect)")
    p.add_argument("--metadata", default=None, metavar="FILE",
                   help="S2ORC metadata JSONL (default: found next to the pdf_parses file)")
    p.add_argument("--skip-bad", action="store_true",
                   help="skip and count bad records instead of failing")
    p.add_argument("--json", action="store_true", help="print the stats as JSON")
    p.set_defaults(func=papers)


def papers(args: argparse.Namespace) -> int:
    print(f"papers: reading {args.path}", file=sys.stderr)
    stats = corpus_stats(args.path, args.format, skip_bad=args.skip_bad, metadata=args.metadata)
    print(f"papers: {stats.n_papers} papers ({stats.format}), {stats.n_skipped} skipped",
          file=sys.stderr)
    if args.json:
        print(stats.model_dump_json(indent=2))
    else:
        print(render(stats))
    return 0


def render(stats: CorpusStats) -> str:
    """The plain-text report."""
    c = stats.chars
    lines = [
        f"corpus     {stats.path}",
        f"format     {stats.format}",
        f"papers     {stats.n_papers}",
        f"chars      total {c.total}  median {c.median:.0f}  min {c.min}  max {c.max}",
        "",
        *_table("id prefix", stats.by_prefix),
        "",
        *_table("subfield", stats.by_subfield),
        "",
        f"problems   {stats.n_skipped} skipped" + (":" if stats.problems else ""),
    ]
    lines += [f"  {kind:<18} {n}" for kind, n in stats.problems.items()]
    lines += [f"  e.g. {example}" for example in stats.examples]
    return "\n".join(lines)


def _table(title: str, groups: dict[str, CharStats]) -> list[str]:
    rows = [f"{title:<20} {'papers':>6} {'chars':>10} {'median':>8} {'min':>8} {'max':>8}"]
    for name, g in groups.items():
        rows.append(f"{name:<20} {g.n_papers:>6} {g.total:>10} {g.median:>8.0f} {g.min:>8} {g.max:>8}")
    return rows
