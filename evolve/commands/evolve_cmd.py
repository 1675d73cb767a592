"""`autodata evolve` (start an evolution run) and `autodata resume RUN_DIR` (continue one)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pydantic import ValidationError

from inner_loop.config import ConfigError
from inner_loop.executor import require_executor
from inner_loop.llm.client import require_api_keys
from inner_loop.strict import first_error
from evolve.config import load_config
from evolve.context import RunSettings, read_run_config
from evolve.run import resume_run, start_run


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evolve", help="evolve the harness: an outer-loop run in results/<run_id>/",
        description="Meta-optimise the harness (paper §4): select a parent, run it on a train "
        "minibatch, analyze, implement an edit, validate, score child and parent on the "
        "validation papers, accept or reject. Progress on stderr; the summary on stdout.",
    )
    p.add_argument("--config", help="TOML config file (default: every role simulated)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. inner_loop.max_rounds=4; run.<field> sets "
                        "run settings, e.g. run.validation_limit=5")
    p.add_argument("--run-dir", help="run folder (default: results/<run_id>)")
    p.add_argument("--iterations", type=int, help="iteration budget of the run")
    p.add_argument("--concurrency", type=int, help="iterations in flight")
    p.add_argument("--minibatch", type=int, help="train papers the parent runs per iteration")
    p.add_argument("--repeats", type=int, help="evaluations per validation paper and candidate")
    p.add_argument("--preset", choices=["deployed", "paper_prose"],
                   help="the thresholds an example must pass (inner_loop.preset)")
    p.add_argument("--policy", choices=["strict", "confident"],
                   help="the policy that accepts a child harness over its parent "
                        "(evolve.policy; default strict)")
    p.add_argument("--acceptance", dest="policy", choices=["strict", "confident"],
                   help="deprecated: the old name of --policy")
    p.add_argument("--budget-usd", type=float, help="hard USD budget of the run")
    p.add_argument("--final-repeats", type=int, metavar="R",
                   help="end of run: re-evaluate the top candidates by tally and the seed R "
                        "times on validation with fresh repeats (default 4; 0: skip)")
    p.add_argument("--seed", type=int, help="run seed")
    p.add_argument("--executor", choices=("local", "ray"), help="where episodes run: this "
                   "process, or a Ray cluster (executor.address; default: a throw-away local "
                   "one); see docs/scale-out.md")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=evolve_command)

    r = sub.add_parser("resume", help="continue an interrupted evolution run",
                       description="Re-enter every unfinished attempt of RUN_DIR where it stopped "
                       "(git and DuckDB reconciled first) and run to the iteration budget.")
    r.add_argument("run_dir", help="the run folder (results/<run_id>)")
    r.add_argument("--executor", choices=("local", "ray"), help="where its episodes run this "
                   "time (default: config.json's executor, which stays as it is; the one used "
                   "is recorded in the run's `resumed` event; docs/scale-out.md)")
    r.add_argument("--json", action="store_true", help="print the summary as JSON")
    r.set_defaults(func=resume_command)


FLAG_KEYS = {"iterations": "evolve.iterations", "concurrency": "evolve.concurrency",
             "minibatch": "evolve.minibatch", "repeats": "evolve.repeats",
             "preset": "inner_loop.preset", "policy": "evolve.policy",
             "budget_usd": "budget.max_usd", "seed": "seed",
             "final_repeats": "evolve.final_repeats", "executor": "executor.kind"}


def split_overrides(args: argparse.Namespace) -> tuple[list[str], dict[str, object]]:
    """Config overrides (flags become `--set`s) and the `run.*` settings."""
    config_sets, run_sets = [], {}
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if key.strip().startswith("run.") and sep:
            try:
                run_sets[key.strip()[4:]] = json.loads(value)
            except json.JSONDecodeError:
                run_sets[key.strip()[4:]] = value
        else:
            config_sets.append(item)
    for flag, key in FLAG_KEYS.items():
        value = getattr(args, flag)
        if value is not None:
            config_sets.append(f"{key}={json.dumps(value)}")
    return config_sets, run_sets


def evolve_command(args: argparse.Namespace) -> int:
    config_sets, run_sets = split_overrides(args)
    config = load_config(args.config, config_sets)
    try:
        settings = RunSettings.model_validate(run_sets)
    except ValidationError as exc:
        raise ConfigError(f"--set run.{first_error(exc, model=RunSettings, count=True)}") \
            from None
    require_api_keys(config)
    require_executor(config.executor)
    summary = start_run(config, settings, Path(args.run_dir) if args.run_dir else None)
    print(summary.model_dump_json(indent=2) if args.json else summary.text())
    return 0


def resume_command(args: argparse.Namespace) -> int:
    config = read_run_config(Path(args.run_dir)).config
    require_api_keys(config)  # one line before any work
    require_executor(config.executor.model_copy(update={"kind": args.executor or
                                                        config.executor.kind}))
    summary = resume_run(Path(args.run_dir), executor=args.executor)
    print(summary.model_dump_json(indent=2) if args.json else summary.text())
    return 0
