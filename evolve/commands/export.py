"""`autodata export RUN|GENERATE_DIR --format jsonl|parquet|hf -o DIR`: accepted examples for
training, with provenance, a GRPO `prompt` column, the rubric beside it and a data card."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evolve.commands.runs import add_results_option
from evolve.reports.export import FORMATS, export
from evolve.reports.runs import resolve_run, to_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="accepted examples as a dataset (jsonl, parquet, hf) with a data card",
        description="SOURCE is a run (folder or id: the accepted validation episodes of one "
        "accepted harness commit, default the best) or an `autodata generate` output folder. "
        "Writes DIR/data/train.jsonl or DIR/data/train-00000-of-00001.parquet, DIR/README.md "
        "(the data card: its YAML front matter types every column, so `datasets.load_dataset(DIR)` "
        "reads every format alike) and DIR/LICENSE.md (the licence of each source paper).")
    p.add_argument("source", metavar="RUN|GENERATE_DIR")
    p.add_argument("--format", choices=FORMATS, default="parquet",
                   help="jsonl, parquet (the default) or hf (the parquet layout, as the Hub names it)")
    p.add_argument("-o", "--out", required=True, metavar="DIR")
    p.add_argument("--harness", metavar="SHA", help="a run: the accepted harness commit (sha prefix or "
                   "candidate id; default the best accepted candidate); a generate folder: a prefix "
                   "of the harness digest")
    p.add_argument("--final-filter", action="store_true",
                   help="keep only rows whose stored judgments recompute to accepted under the "
                   "recorded thresholds and that pass the structural and solver-instruction guards")
    add_results_option(p)
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.set_defaults(func=export_command)


def export_command(args: argparse.Namespace) -> int:
    path = Path(args.source)
    if not ((path / "examples.jsonl").is_file() and (path / "summary.json").is_file()):
        path = resolve_run(args.source, args.results)
    result = export(path, Path(args.out), args.format, args.harness, args.final_filter)
    if result["simulated"]:
        print("SIMULATED: these examples came from the simulated model world", file=sys.stderr)
    if args.json:
        print(to_json(result))
    else:
        print(f"wrote {result['rows']} examples to {result['data_file']} and the card {result['card']}"
              + (f"; final filter dropped {sum(result['dropped'].values())}" if result["dropped"] else ""))
    return 0
