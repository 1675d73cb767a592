"""`autodata evaluate RUN`: re-score candidates with fresh repeats; pass rates with intervals."""

from __future__ import annotations

import argparse
import sys

from inner_loop.errors import UserError
from inner_loop.executor import require_executor
from inner_loop.llm.client import require_api_keys
from inner_loop.papers import Paper, load_papers, select_papers
from evolve.commands.runs import add_results_option
from evolve.context import read_run_config
from evolve.evaluate_run import EvaluateReport, evaluate_run
from evolve.reports.runs import resolve_run


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate", help="re-score candidates with fresh repeats: pass rates with 95%% intervals",
        description="Score accepted candidates of RUN again, REPEATS times per paper, with sample "
        "indices the run never used, and print each one's pass rate with its 95% interval "
        "(papers are the unit: percentile bootstrap over papers) and its paired difference to "
        "the seed. Recorded under purpose `evaluate`, never in the tallies decisions and "
        "selection read. Resumable: episodes already recorded are not paid again. Works while "
        "the run is live. Default papers: the run's validation papers.")
    p.add_argument("run", metavar="RUN")
    add_results_option(p)
    p.add_argument("--candidates", default="seed,best", metavar="LIST",
                   help="comma-separated: seed, best (by tally), top:K (by tally), candidate ids "
                        "(default: seed,best)")
    p.add_argument("--repeats", type=int, default=4, metavar="R", help="repeats per paper (4)")
    p.add_argument("--first-repeat", type=int, default=0, metavar="K",
                   help="start at evaluate's repeat K: a second evaluation with disjoint repeats")
    p.add_argument("--split", metavar="FILE", help="split file: papers of --subset")
    p.add_argument("--subset", metavar="S", help="split subset, e.g. test (with --split)")
    p.add_argument("--papers", metavar="FILE", help="a paper file of your own (any format)")
    p.add_argument("--ids", nargs="+", metavar="ID", help="only these paper ids")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N papers")
    p.add_argument("--budget-usd", type=float, help="cap this evaluation's USD (within the run's)")
    p.add_argument("--max-calls", type=int, help="cap this evaluation's LLM calls")
    p.add_argument("--executor", choices=("local", "ray"), help="where episodes run (default: "
                   "the run's executor setting); see docs/scale-out.md")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=evaluate_command)


def choose_papers(args: argparse.Namespace, settings: object) -> list[Paper]:
    """--split/--subset, --papers [--ids], or the run's validation papers; then --limit."""
    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be >= 1, got {args.limit}")
    if args.papers and args.split:
        raise UserError("give --papers FILE or --split FILE --subset S, not both")
    if bool(args.split) != bool(args.subset):
        raise UserError("--split FILE and --subset S go together")
    if args.papers:
        papers, _report = load_papers(args.papers)
        if args.ids:
            unknown = [i for i in args.ids if i not in {p.id for p in papers}]
            if unknown:
                raise UserError(f"ids not in {args.papers}: {', '.join(unknown[:5])}")
            papers = [p for p in papers if p.id in set(args.ids)]
        return papers[: args.limit] if args.limit is not None else papers
    corpus = getattr(settings, "corpus_path")
    if args.split:
        return select_papers(corpus, args.split, args.subset, args.ids, args.limit)
    limit = args.limit if args.limit is not None else getattr(settings, "validation_limit")
    return select_papers(corpus, getattr(settings, "split_path"), "validation", args.ids, limit)


def evaluate_command(args: argparse.Namespace) -> int:
    run_dir = resolve_run(args.run, args.results)
    rc = read_run_config(run_dir)
    require_api_keys(rc.config)
    require_executor(rc.config.executor.model_copy(update={"kind": args.executor or
                                                            rc.config.executor.kind}))
    papers = choose_papers(args, rc.settings)
    report = evaluate_run(run_dir, args.candidates, papers, args.repeats, args.first_repeat,
                          args.budget_usd, args.max_calls, executor=args.executor)
    print(report.model_dump_json(indent=2) if args.json else report_text(report))
    if report.status != "finished":
        print(f"autodata: error: evaluate {report.status}; raise the budget and run it again "
              "(recorded episodes are kept)", file=sys.stderr)
        return 1
    return 0


def report_text(r: EvaluateReport) -> str:
    label = "SIMULATED " if r.simulated else ""
    lines = [f"{label}evaluate {r.run_id}: {len(r.papers)} papers x {len(r.repeats)} "
             f"fresh repeats ({r.status}); 95% interval: {r.method}",
             f"{'candidate':<16} {'tally':>7}  {'re-evaluated pass rate [95%]':<44} vs seed [95%]"]
    for c in r.candidates:
        tally = "n/a" if c.tally is None else f"{c.tally:.1%}"
        est = c.estimate.text() if c.estimate else "not scored"
        diff = c.vs_seed.text(signed=True).split(" (")[0] if c.vs_seed else "-"
        lines.append(f"{c.candidate_id:<16} {tally:>7}  {est:<44} {diff}")
    lines.append("tally: pooled over the run's validation evaluations (what decisions read); "
                 f"recorded in {r.recorded_in}")
    if r.simulated:
        lines.append("SIMULATED: every model answer came from the simulated model world.")
    return "\n".join(lines)
