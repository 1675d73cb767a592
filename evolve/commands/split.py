"""`autodata split PATH -o FILE`: a seeded, stratified train/validation split of a corpus."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from inner_loop.errors import UserError
from inner_loop.papers import FORMATS, Split, iter_papers, make_split


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "split",
        help="make a seeded, stratified train/validation split of a corpus",
        description="Split the papers of PATH into train and validation ids, stratified by "
        "subfield (id prefix where a paper has none) with largest-remainder quotas, shuffled "
        "with the seed. Writes the split JSON to FILE and prints the sizes per stratum.",
    )
    p.add_argument("path", metavar="PATH", help="corpus file or directory")
    p.add_argument("--train", type=int, default=50, help="train papers (default 50)")
    p.add_argument("--validation", type=int, default=25, help="validation papers (default 25)")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--min-stratum", type=int, default=5,
                   help="subfields with fewer papers are merged into 'other' (default 5)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="split JSON to write")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.add_argument("--format", choices=FORMATS, default=None, help="input format (default: detect)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=split)


def split(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.exists() and not args.force:
        raise UserError(f"{output} exists; pass --force to overwrite it")
    print(f"split: reading {args.path}", file=sys.stderr)
    result = make_split(iter_papers(args.path, args.format), args.train, args.validation, args.seed,
                        min_stratum=args.min_stratum)
    try:
        output.write_text(result.to_json(), encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {output}: {exc.strerror}") from None
    print(f"split: wrote {output}", file=sys.stderr)
    summary = summarise(result, output)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"train {summary['train']}  validation {summary['validation']}  "
              f"unassigned_pool {summary['unassigned_pool']}  -> {output}")
        for name, counts in summary["strata"].items():
            print(f"  {name:<20} train {counts['train']:>3}  validation {counts['validation']:>3}")
    return 0


def summarise(result: Split, output: Path) -> dict:
    """Sizes of the split and of each stratum in train and validation."""
    train = Counter(result.strata[i] for i in result.train)
    validation = Counter(result.strata[i] for i in result.validation)
    names = sorted(set(train) | set(validation))
    return {
        "output": str(output),
        "seed": result.seed,
        "train": len(result.train),
        "validation": len(result.validation),
        "unassigned_pool": len(result.unassigned_pool),
        "strata": {n: {"train": train[n], "validation": validation[n]} for n in names},
    }
