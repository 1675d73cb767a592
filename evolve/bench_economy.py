"""`autodata bench`'s in-process scenarios: call economy and resume (only calls count there).

Both run the simulated world in this process (no endpoint, no latency), since what they measure
is how many calls a run pays, never how fast:

- `economy`: evolution iterations with the exact savings on (early stopping, racing, shared
  calls) and off (the paper's protocol) on the same seeds; calls, tokens and USD of each, and
  whether every decision and every evaluation came out the same.
- `resume_figures`: a run stopped by its call budget half way and resumed; calls paid again for
  episodes recorded before the stop (target 0).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evolve.bench_figures import calls_of, decisions, usd_of
from evolve.bench_settings import BenchSettings, bench_config
from evolve.cost_cache import usd_ratio
from evolve.run import RunSettings, read_run_config, resume_run, start_run, write_json
from evolve.store import StoreReader


def economy(bs: BenchSettings, folder: Path) -> dict[str, Any]:
    """Evolution iterations with the savings on and off (in-process sim: only calls count)."""
    out: dict[str, Any] = {}
    k = bs.economy_iterations
    for label, on in (("protocol", "false"), ("savings", "true")):
        config = bench_config(bs, [f"evolve.iterations={k}", f"evolve.concurrency={k}",
                              f"evolve.racing={on}", f"evolve.share_calls={on}",
                              f"inner_loop.stop_sampling_early={on}",
                              *bs.economy_sets], None, 1)
        run_dir = folder / f"economy_{label}"
        start_run(config, RunSettings(validation_limit=bs.economy_papers), run_dir,
                  show_progress=False)
        c = calls_of(run_dir, "iteration >= 1")
        with StoreReader.open(run_dir) as r:
            evals = {(x["candidate_id"], x["paper_id"], x["purpose"], x["repeat"]):
                     bool(x["accepted"]) for x in r.query("SELECT * FROM evaluations")}
            shared = r.query("SELECT count(*) AS n FROM llm_calls WHERE cached AND "
                             "iteration >= 1")[0]["n"]
        out[label] = {"calls": int(c["calls"]), "tokens": int(c["tokens"]),
                      "usd": usd_of(run_dir, "iteration >= 1"),
                      "decisions": decisions(run_dir), "evaluations": len(evals),
                      "shared_calls": int(shared), "_evals": evals}
    p, s = out["protocol"], out["savings"]
    pe, se = p.pop("_evals"), s.pop("_evals")
    # every example evaluated with the savings on got the verdict it gets without them
    out["identical_evaluations"] = all(pe.get(k) == v for k, v in se.items())
    out["skipped_episodes"] = len(pe) - len(se)
    out["calls_ratio"] = s["calls"] / max(1, p["calls"])
    out["tokens_ratio"] = s["tokens"] / max(1, p["tokens"])
    out["identical_decisions"] = p["decisions"] == s["decisions"]
    # USD under the same emulated prefix cache at configs/paper.toml's prices (evolve/cost_cache.py)
    out["usd_ratio"] = usd_ratio(folder / "economy_savings", folder / "economy_protocol")
    out["papers"], out["iterations"] = bs.economy_papers, k
    return out


def resume_figures(bs: BenchSettings, folder: Path) -> dict[str, Any]:
    """Stop a run by its call budget, resume it, count calls paid again for finished episodes."""
    full = folder / "resume_full"
    sets = [f"evolve.iterations={bs.resume_iterations}", "evolve.concurrency=1"]
    settings = RunSettings(validation_limit=5)
    start_run(bench_config(bs, sets, None, 1), settings, full, show_progress=False)
    total = int(calls_of(full)["calls"])
    cut = folder / "resume_cut"
    start_run(bench_config(bs, sets + [f"budget.max_calls={total // 2}"], None, 1), settings, cut,
              show_progress=False)
    with StoreReader.open(cut) as r:
        before_ids = {x["call_id"] for x in r.query("SELECT call_id FROM llm_calls")}
        done = [f"it{x['iteration']}/{x['candidate_id']}/{x['purpose']}/{x['paper_id']}/"
                f"r{x['repeat']}" for x in r.query("SELECT * FROM evaluations")]
    rc = read_run_config(cut)
    budget = rc.config.budget.model_copy(update={"max_calls": None})
    rc = rc.model_copy(update={"config": rc.config.model_copy(update={"budget": budget})})
    write_json(cut / "config.json", rc.model_dump(mode="json"))
    resume_run(cut, show_progress=False)
    with StoreReader.open(cut) as r:
        after = r.query("SELECT call_id, tag FROM llm_calls WHERE NOT cached")
    new = [x for x in after if x["call_id"] not in before_ids]
    repaid = sum(1 for x in new if any(x["tag"].startswith(d) for d in done))
    return {"calls_uninterrupted": total, "calls_before_stop": len(before_ids),
            "calls_after_resume": len(new), "episodes_finished_before_stop": len(done),
            "calls_repaid_for_finished_work": repaid,
            "identical_decisions": decisions(full) == decisions(cut)}
