"""Ablation of the simulated world: what each harness edit does to the validation pass rate.

Builds harness variants from the seed with the SAME edit recipes the simulated implementer uses
(inner_loop/sim/edits.py), runs each through the real runtime (sandboxed episodes, protected
evaluation) on the validation papers for several run seeds, and prints a Markdown table
(mean pass rate, per-seed values, mean rounds). The table in inner_loop/sim/README.md comes from:
    python scripts/sim_ablation.py --seeds 3
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from inner_loop.config import load_config
from inner_loop.generate import default_harness_dir
from inner_loop.llm.client import LLMClient
from inner_loop.papers import select_papers
from inner_loop.executor import run_episodes
from inner_loop.sim import edits

C, V, R, O = "prompts/challenger.md", "prompts/verifier.md", "prompts/refinement.md", "prompts/orchestrator.md"
RUBRIC = [(C, edits.recipe(edits.RUBRIC_RULE, C)[2]), (V, edits.recipe(edits.RUBRIC_RULE, V)[2])]
EDITS = {
    "self-test": [(C, edits.before_paper(edits.SELF_TEST))],
    "no context leak": [(C, edits.before_paper(edits.LEAK_RULE))],
    "positive-only weights <= 7": RUBRIC,
    "strict JSON": [(C, edits.before_paper(edits.JSON_RULE))],
    "escalating feedback": [(R, lambda c: c.rstrip("\n") + " " + edits.ESCALATE + "\n")],
}
ALL = [e for name in EDITS for e in EDITS[name]]
VARIANTS = {
    "seed harness": [],
    "whitespace-only edit": [(C, lambda c: c.replace("You are the challenger.", "You are the challenger.  "))],
    **{f"+ {k}": v for k, v in EDITS.items()},
    "all five edits": ALL,
    **{f"all - {k}": [e for n, es in EDITS.items() if n != k for e in es] for k in EDITS},
    "all + harmful: ask for easy questions": ALL + [(C, edits.before_paper(edits.EASY))],
    "all + harmful: stop after 2 rounds": ALL + [(O, edits.replace_lines(r"at most .* rounds", "You have at most 2 rounds."))],
    "all + useless rewording": ALL + [(C, lambda c: c.replace("Read the paper below", "Study the paper below carefully"))],
}


def build(base: Path, steps: list, out: Path) -> Path:
    shutil.copytree(base, out)
    for rel, apply in steps:
        path = out / rel
        path.write_text(apply(path.read_text(encoding="utf-8")), encoding="utf-8")
    return out


def print_table(variants: dict, make) -> None:
    """One Markdown row per variant: `make(name, steps, out)` builds its harness at `out`; each
    runs on the subset's papers for --seeds run seeds (mean pass rate, per seed, mean rounds)."""
    ap = argparse.ArgumentParser(description=sys.modules["__main__"].__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--subset", default="validation")
    ap.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    args = ap.parse_args()
    papers = select_papers(subset=args.subset)
    print(f"| harness (SIMULATED world, {len(papers)} {args.subset} papers) | pass rate | per seed | rounds |")
    print("| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, steps) in enumerate(variants.items()):
            if args.only and name not in args.only:
                continue
            hdir = make(name, steps, Path(tmp) / f"h{i}")
            rates, rounds = [], []
            for seed in range(args.seeds):
                config = load_config(overrides=[f"seed={seed}"])
                recs = run_episodes(papers, hdir, config=config, client=LLMClient(config),
                                    harness_version=name, workdir_root=Path(tmp) / "work")
                rates.append(sum(r.accepted for r in recs) / len(recs))
                rounds.append(statistics.mean(len(r.rounds) for r in recs))
            per = ", ".join(f"{x:.2f}" for x in rates)
            print(f"| {name} | {statistics.mean(rates):.2f} | {per} | {statistics.mean(rounds):.1f} |", flush=True)


def main() -> None:
    print_table(VARIANTS, lambda _name, steps, out: build(default_harness_dir(), steps, out))
    sys.exit(0)


if __name__ == "__main__":
    main()
