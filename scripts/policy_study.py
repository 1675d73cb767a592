"""The statistics of acceptance, measured: `strict` vs `confident` on the sim at equal budget.

For each run seed and policy: one evolution run (same iterations, papers, repeats: equal budget),
then every accepted candidate and the seed re-evaluated with fresh repeats (`autodata evaluate`'s
engine, purpose `evaluate`: the run's tallies never see them). Per run:
  accepted      accepted edits
  false         accepted edits whose child does not beat its parent when both are re-evaluated
                (paired difference over the validation papers <= 0): "false acceptances"
  best_reeval   the re-evaluated pass rate of the run's best candidate by tally (what a user who
                takes the run's best gets; not selected on the re-evaluation's own noise)
  seed_reeval   the seed's re-evaluated pass rate (the same papers and repeats)
  episodes      validation episodes the run paid for (racing makes strict cheaper)
Writes the rows as JSON and a Markdown table (docs/policy_study.md). Resumable: finished runs
and recorded episodes are kept. SIMULATED: every number comes from the simulated model world.

    nice python scripts/policy_study.py --seeds 0 1 2 3 4 --work /tmp/policy-study
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inner_loop.config import load_config  # noqa: E402
from inner_loop.papers import select_papers  # noqa: E402
from evolve.evaluate_run import evaluate_run  # noqa: E402
from evolve.context import RunSettings, read_run_config  # noqa: E402
from evolve.run import resume_run, start_run  # noqa: E402
from evolve.store import StoreReader  # noqa: E402
from evolve.progress import best_accepted  # noqa: E402


def run_one(work: Path, seed: int, policy: str, args: argparse.Namespace) -> dict:
    run_dir = work / f"{policy}-s{seed}"
    sets = [f"seed={seed}", f"evolve.policy={policy}", f"evolve.iterations={args.iterations}",
            f"evolve.minibatch={args.minibatch}", f"inner_loop.max_rounds={args.max_rounds}",
            "evolve.final_repeats=0"]
    settings = RunSettings(validation_limit=args.validation_limit)
    if not (run_dir / "config.json").exists():
        start_run(load_config(None, sets), settings, run_dir, show_progress=False)
    else:
        with StoreReader.open(run_dir) as r:
            done = (r.run_info() or {}).get("status") == "finished"
        if not done:
            resume_run(run_dir, show_progress=False)
    with StoreReader.open(run_dir) as r:
        accepted = [(s.candidate_id, s.parent_id) for s in r.candidate_statuses()
                    if s.status == "accepted" and s.candidate_id != "seed"]
        best = best_accepted(r) or "seed"
        episodes = r.query("SELECT count(*) AS n FROM evaluations WHERE purpose = 'validation'")
    s = read_run_config(run_dir).settings
    papers = select_papers(s.corpus_path, s.split_path, "validation", limit=s.validation_limit)
    spec = ",".join(["seed", *[c for c, _ in accepted]])
    report = evaluate_run(run_dir, spec, papers, args.repeats)
    rates = {c.candidate_id: c for c in report.candidates}
    false = []
    for child, parent in accepted:
        diff = _paired(rates[child], rates[parent])
        if diff <= 0:
            false.append(child)
    return {"seed": seed, "policy": policy, "run_dir": str(run_dir), "accepted": len(accepted),
            "false": len(false), "false_ids": false, "best": best,
            "best_reeval": rates[best].estimate.mean, "best_low": rates[best].estimate.low,
            "best_high": rates[best].estimate.high, "best_tally": rates[best].tally,
            "seed_reeval": rates["seed"].estimate.mean, "episodes": episodes[0]["n"],
            "status": report.status}


def _paired(child, parent) -> float:
    """Mean over papers of child − parent on the re-evaluation (the same papers and repeats)."""
    return child.estimate.mean - parent.estimate.mean


def gains(row: dict) -> list[float]:
    """Each accepted edit's re-evaluated gain over its parent (paired by paper), from its run."""
    from evolve.evaluate import EVALUATE_FIRST_REPEAT, outcomes
    from evolve.estimates import paired_difference

    with StoreReader.open(row["run_dir"]) as r:
        edits = [(s.candidate_id, s.parent_id) for s in r.candidate_statuses()
                 if s.status == "accepted" and s.candidate_id != "seed"]
        papers = {x["paper_id"] for x in r.query(
            "SELECT paper_id FROM evaluations WHERE purpose = 'evaluate'")}
        reps = range(EVALUATE_FIRST_REPEAT, EVALUATE_FIRST_REPEAT + 1000)
        out = []
        for child, parent in edits:
            d = paired_difference(outcomes([r], child, "evaluate", papers, reps),
                                  outcomes([r], parent, "evaluate", papers, reps))
            out.append(d.mean)
    return out


def table(rows: list[dict], args: argparse.Namespace) -> str:
    out = ["| policy | runs | accepted edits per run | false acceptances (share of accepted) | "
           "re-evaluated gain of an accepted edit (mean) | best by tally, re-evaluated | "
           "best's tally | seed, re-evaluated | validation episodes per run |",
           "|---|---|---|---|---|---|---|---|---|"]
    for policy in ("strict", "confident"):
        mine = [r for r in rows if r["policy"] == policy]
        if not mine:
            continue
        acc = sum(r["accepted"] for r in mine)
        false = sum(r["false"] for r in mine)
        mean = lambda k: statistics.fmean(r[k] for r in mine)  # noqa: E731
        sd = lambda k: statistics.stdev(r[k] for r in mine) if len(mine) > 1 else 0.0  # noqa: E731
        share = f"{false}/{acc} = {false / acc:.0%}" if acc else "0/0"
        gain = [g for r in mine for g in gains(r)]
        gain_text = f"{statistics.fmean(gain):+.1%}" if gain else "-"
        out.append(f"| {policy} | {len(mine)} | {mean('accepted'):.1f} ± {sd('accepted'):.1f} | "
                   f"{share} | {gain_text} | {mean('best_reeval'):.1%} ± {sd('best_reeval'):.1%} | "
                   f"{mean('best_tally'):.1%} | {mean('seed_reeval'):.1%} | "
                   f"{mean('episodes'):.0f} |")
    out.append("")
    out.append(f"SIMULATED. Seeds {sorted({r['seed'] for r in rows})}; each run: "
               f"{args.iterations} iterations, minibatch {args.minibatch}, "
               f"{args.validation_limit} validation papers, max_rounds {args.max_rounds}, 1 repeat "
               f"at decision time; re-evaluation: {args.repeats} fresh repeats per paper. "
               "± is the standard deviation over runs.")
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--policies", nargs="+", default=["strict", "confident"])
    p.add_argument("--iterations", type=int, default=6)
    p.add_argument("--minibatch", type=int, default=2)
    p.add_argument("--validation-limit", type=int, default=8)
    p.add_argument("--max-rounds", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--work", type=Path, default=Path("/tmp/policy-study"))
    p.add_argument("--out", type=Path, default=None, help="rows JSON (default: WORK/rows.json)")
    p.add_argument("--merge", type=Path, nargs="+", metavar="ROWS",
                   help="only print the table of these rows files (runs done in parallel)")
    args = p.parse_args()
    if args.merge:
        print(table([r for f in args.merge for r in json.loads(f.read_text())], args))
        return 0
    args.work.mkdir(parents=True, exist_ok=True)
    out = args.out or args.work / "rows.json"
    rows = json.loads(out.read_text()) if out.exists() else []
    done = {(r["seed"], r["policy"]) for r in rows}
    for seed in args.seeds:
        for policy in args.policies:
            if (seed, policy) in done:
                continue
            rows.append(run_one(args.work, seed, policy, args))
            out.write_text(json.dumps(rows, indent=2))
            print(f"seed {seed} {policy}: {json.dumps(rows[-1])}", file=sys.stderr, flush=True)
    print(table(rows, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
