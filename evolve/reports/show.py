"""`autodata show RUN`: configuration and thresholds, the accepted lineage, counts, cost by role."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evolve.reports.runs import (best_candidate, candidate_stats, format_table, open_reader,
                                 overview, pct, run_config, status_counts)
from evolve.final import final_result
from evolve.store import StoreReader
from inner_loop.redact import redact_url


COST_COLUMNS = ["role", "calls", "cached_calls", "failed_calls", "input_tokens", "cached_tokens",
                "output_tokens", "usd"]


def accepted_lineage(reader: StoreReader) -> list[dict[str, Any]]:
    """Every accepted candidate in iteration order: parent, depth, commit, pass rate, n, se,
    the edit's summary, and whether it is on the path from the seed to the best candidate."""
    stats = candidate_stats(reader)
    rows = reader.query(
        "SELECT l.candidate_id, s.iteration, l.parent_id, l.depth, l.commit_sha, s.summary, "
        "s.child_mean AS pass_rate_at_acceptance FROM lineage l JOIN candidate_status s "
        "USING (candidate_id) WHERE l.status = 'accepted' ORDER BY s.iteration")
    best_path = set(path_to_best(reader))
    for row in rows:
        stat = stats.get(row["candidate_id"], {})
        row.update(pass_rate=stat.get("pass_rate"), n_evaluations=stat.get("n_evaluations", 0),
                   se=stat.get("se"), on_best_path=row["candidate_id"] in best_path)
    return rows


def path_to_best(reader: StoreReader) -> list[str]:
    """Candidate ids from the seed to the best accepted candidate."""
    parents = {r["candidate_id"]: r["parent_id"] for r in reader.query(
        "SELECT candidate_id, parent_id FROM candidates")}
    path, cur = [], best_candidate(reader)
    while cur is not None:
        path.append(cur)
        cur = parents.get(cur)
    return list(reversed(path))


def show_data(run_dir: Path) -> dict[str, Any]:
    summary = overview(run_dir)
    with open_reader(run_dir) as reader:
        config = run_config(reader, run_dir)
        for role in ((config.get("config") or {}).get("roles") or {}).values():
            if isinstance(role, dict) and role.get("base_url"):  # runs recorded before redaction
                role["base_url"] = redact_url(role["base_url"])
        return {
            "run": summary.model_dump(),
            "preset": config.get("preset"),
            "thresholds": config.get("thresholds"),
            "settings": config.get("settings"),
            "config": config.get("config"),
            "lineage": accepted_lineage(reader),
            "best_path": path_to_best(reader),
            "counts": status_counts(reader),
            "cost_by_role": reader.query("SELECT * FROM cost_by_role ORDER BY usd DESC, tokens DESC"),
            "final": final.model_dump() if (final := final_result(reader)) else None,
        }


def _config_lines(data: dict[str, Any]) -> list[str]:
    config = data.get("config") or {}
    evolve = config.get("evolve") or {}
    inner = config.get("inner_loop") or {}
    roles = config.get("roles") or {}
    lines = [f"preset {data.get('preset')}: " + ", ".join(
        f"{k}={v}" for k, v in (data.get("thresholds") or {}).items())]
    lines.append("evolve: " + ", ".join(f"{k}={v}" for k, v in evolve.items()))
    lines.append("inner loop: " + ", ".join(f"{k}={v}" for k, v in inner.items()))
    lines.append("budget: " + ", ".join(f"{k}={v}" for k, v in (config.get("budget") or {}).items()))
    lines.append("settings: " + ", ".join(f"{k}={v}" for k, v in (data.get("settings") or {}).items()))
    for role, rc in roles.items():
        lines.append(f"role {role}: {rc.get('backend')} {rc.get('model')} "
                     f"T={rc.get('temperature')} {price_text(rc)}")
    return lines


def price_text(rc: dict[str, Any]) -> str:
    """A role's prices: input / cached input (the input price when unset) / output per Mtok."""
    cached = rc.get("price_cached_input_per_mtok")
    cached = rc.get("price_input_per_mtok") if cached is None else cached
    return (f"${rc.get('price_input_per_mtok')}/${cached}/${rc.get('price_output_per_mtok')} "
            "per Mtok in/cached in/out")


def _est(e: dict[str, Any] | None, f: str = "{:.1%}") -> str:
    return "-" if not e else f"{f.format(e['mean'])} [{f.format(e['low'])}, {f.format(e['high'])}]"


def final_lines(final: dict[str, Any] | None) -> list[str]:
    """The final re-evaluation: the best by it with its 95 % interval, and every candidate."""
    if not final or not final.get("best"):
        return ["final re-evaluation: not run (the rates above are tallies)"]
    out = [f"final re-evaluation ({final['repeats']}x on {final['n_papers']} validation papers, "
           f"fresh repeats; 95% interval: {final['method']}):"]
    for c in final["candidates"]:
        best = " <- best" if c["candidate_id"] == final["best"]["candidate_id"] else ""
        out.append(f"  {c['candidate_id']:<14} {_est(c['estimate'])}  vs seed "
                   f"{_est(c['vs_seed'], '{:+.1%}')}  (tally {pct(c['tally'])}){best}")
    return out


def show_text(data: dict[str, Any]) -> str:
    run = data["run"]
    label = "SIMULATED run" if run["simulated"] else "run"
    out = [f"{label} {run['run_id']}: {run['status']}" + (f" ({run['detail']})" if run["detail"] else ""),
           f"folder {run['run_dir']}  created {run['created_at']}  read from {run['source']}",
           f"iterations {run['iterations']} of {run['iteration_budget']}; validation pass rate "
           f"(pooled tally) seed {pct(run['seed_pass_rate'])} -> best {pct(run['best_pass_rate'])} "
           f"({run['best_candidate']})", *final_lines(data.get("final")),
           "", "configuration", *("  " + line for line in _config_lines(data)), "",
           "accepted lineage (* = on the path to the best by tally; pass_rate = pooled tally, "
           "at_decision = the child's rate the decision read)"]
    rows = [{"": "*" if r["on_best_path"] else "", "iteration": r["iteration"],
             "candidate": r["candidate_id"], "parent": r["parent_id"], "depth": r["depth"],
             "pass_rate": pct(r["pass_rate"]), "at_decision": pct(r["pass_rate_at_acceptance"]),
             "se": pct(r["se"]), "n_eval": r["n_evaluations"],
             "commit": (r["commit_sha"] or "")[:10], "edit": (r["summary"] or "")[:60]}
            for r in data["lineage"]]
    out.append(format_table(rows, ["", "iteration", "candidate", "parent", "depth", "pass_rate",
                                   "at_decision", "se", "n_eval", "commit", "edit"]))
    out += ["", "attempts by status: " + ", ".join(f"{k} {v}" for k, v in data["counts"].items()), "",
            "cost by role (cached_calls: answered without an endpoint, at $0; cached_tokens: input "
            "tokens the endpoint served from its prefix cache, at the role's cached price)"]
    cost = [{**r, "usd": f"{r['usd']:.4f}"} for r in data["cost_by_role"]]
    out.append(format_table(cost, COST_COLUMNS))
    if run["simulated"]:
        out.append("SIMULATED: every model answer came from the simulated model world.")
    return "\n".join(out)
