"""Gaming study (issue 21): can a harness buy validation pass rate without better data?

Runs the seed harness, the seed with the paper's five edits (scripts/sim_ablation.py) and each
gaming harness (tests/fixtures/harnesses/gaming_*, built by tests/gaming_harnesses.py) through
the real runtime — sandboxed episodes, protected evaluation and final guard, `deployed` preset —
on the validation papers for several run seeds, and prints a Markdown table: pass rate (mean and
per seed), rounds, solver samples per episode, and the confinement string(s) the episodes
recorded. The table in docs/reliability.md comes from:
    python scripts/gaming_study.py --seeds 3
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "tests")]

from gaming_harnesses import GAMING, build_gaming_harness  # noqa: E402
from sim_ablation import VARIANTS, build  # noqa: E402

from inner_loop.config import load_config  # noqa: E402
from inner_loop.generate import default_harness_dir  # noqa: E402
from inner_loop.llm.client import LLMClient  # noqa: E402
from inner_loop.papers import select_papers  # noqa: E402
from inner_loop.executor import run_episodes  # noqa: E402

BASELINES = {"seed harness": "the seed harness", "all five edits": "the paper's five edits"}


def make(name: str, out: Path) -> Path:
    if name in BASELINES:
        return build(default_harness_dir(), VARIANTS[name], out)
    return build_gaming_harness(name, out)


def samples(record) -> int:
    return sum(record.usage[r].calls + record.usage[r].cached_calls
               for r in ("weak_solver", "strong_solver") if r in record.usage)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--subset", default="validation")
    ap.add_argument("--only", nargs="*", help="harness names to run (default: all)")
    args = ap.parse_args()
    papers = select_papers(subset=args.subset)
    names = {**BASELINES, **{f"gaming: {k}": v for k, v in GAMING.items()}}
    print(f"| harness (SIMULATED world, {len(papers)} {args.subset} papers) | what it does "
          "| pass rate | per seed | rounds | solver samples |")
    print("| --- | --- | --- | --- | --- | --- |")
    confinement: collections.Counter[str] = collections.Counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i, (label, what) in enumerate(names.items()):
            if args.only and label.removeprefix("gaming: ") not in args.only:
                continue
            hdir = make(label.removeprefix("gaming: "), Path(tmp) / f"h{i}")
            rates, rounds, sampled = [], [], []
            for seed in range(args.seeds):
                config = load_config(overrides=[f"seed={seed}"])
                recs = run_episodes(papers, hdir, config=config, client=LLMClient(config),
                                    harness_version=label, workdir_root=Path(tmp) / "work")
                rates.append(sum(r.accepted for r in recs) / len(recs))
                rounds.append(statistics.mean(len(r.rounds) for r in recs))
                sampled.append(statistics.mean(samples(r) for r in recs))
                confinement.update(r.confinement for r in recs)
            per = ", ".join(f"{x:.2f}" for x in rates)
            print(f"| {label} | {what} | {statistics.mean(rates):.2f} | {per} "
                  f"| {statistics.mean(rounds):.1f} | {statistics.mean(sampled):.1f} |", flush=True)
    for text, n in confinement.most_common():
        print(f"\nconfinement ({n} episodes): {text}")


if __name__ == "__main__":
    main()
