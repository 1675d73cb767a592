"""`autodata bench`'s figures that travel: ratios to what the same machine does bare, in the same run.

An absolute CPU figure moves with the machine (issue 19: 6.1 ms on one 2-core box, 11.9 ms on
another of the same kind), so beside it the bench measures, against the same `sim-serve`
subprocess and at the same concurrency, the **bare `openai` client**: `sdk_baseline` sends
one identical request again and again with `client.chat.completions.create` (the SDK as any user
calls it: its parameter transform, its pydantic response models, httpx) from `threads` threads
in a fresh Python process, and reports that process's CPU per call over the loop (start-up,
imports and each thread's first calls not counted). The request has the run's own mean prompt
size (a solver question over a validation paper's text, cut to the run's mean prompt
characters), so the JSON the SDK encodes is as large as ours.

`figures(result)` is the top-level `figures` object of `autodata bench --json`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from inner_loop.config import load_config
from inner_loop.llm.accounting import price_usd
from inner_loop.papers import default_split_path, select_papers
from evolve.store import StoreReader

# what a run's store is on disk: the database (blobs are a table in it) and its write-ahead log;
# the read snapshot is a copy for live readers, and harness/ (git) and work/ are not the store
STORE_FILES = ("autodata.duckdb", "autodata.duckdb.wal")
STORE_DIRS = ("blobs", "texts")  # long texts kept beside the database, where a layout has them


def store_bytes(run_dir: Path) -> int:
    """Bytes of a run's store: the DuckDB file, its WAL and any blob folder beside it."""
    total = sum((run_dir / n).stat().st_size for n in STORE_FILES if (run_dir / n).is_file())
    for name in STORE_DIRS:
        folder = run_dir / name
        if folder.is_dir():
            total += sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return total


def calls_of(run_dir: Path, where: str = "TRUE") -> dict[str, Any]:
    with StoreReader.open(run_dir) as r:
        row = r.query(
            "SELECT count(*) AS calls, coalesce(sum(input_tokens + output_tokens), 0) AS tokens, "
            "coalesce(sum(input_tokens), 0) AS input_tokens, "
            "min(epoch(started_at)) AS t0, max(epoch(started_at) + duration_ms / 1000) AS t1 "
            f"FROM llm_calls WHERE NOT cached AND {where}")[0]
    return {k: (float(v) if v is not None else 0.0) for k, v in row.items()}


def busy_calls(run_dir: Path, t0: float, t1: float) -> int:
    """Paid calls of any tag that ended in [t0, t1]: what the endpoint served in that window."""
    with StoreReader.open(run_dir) as r:
        return int(r.query(
            "SELECT count(*) AS n FROM llm_calls WHERE NOT cached AND epoch(started_at) + "
            "duration_ms / 1000 BETWEEN ? AND ?", [t0 - 1e-3, t1 + 1e-3])[0]["n"])


def episodes_of(run_dir: Path) -> int:
    with StoreReader.open(run_dir) as r:
        return int(r.query("SELECT count(*) AS n FROM episodes")[0]["n"])


def marginal(small: dict[str, Any], big: dict[str, Any]) -> dict[str, Any]:
    """CPU per call between two run sizes: fixed costs (git, DuckDB, corpus) cancel out."""
    calls = big["calls"] - small["calls"]
    out = dict(big, name="overhead", marginal_calls=calls)
    for key in ("cpu_ms_per_call", "sandbox_cpu_ms_per_call", "sim_cpu_ms_per_call"):
        out[key] = (big[key] * big["calls"] - small[key] * small["calls"]) / max(1, calls)
        out["whole_run_" + key] = big[key]
    episodes = big.get("episodes", 0) - small.get("episodes", 0)
    out["store_bytes_per_episode"] = (big.get("store_bytes", 0) - small.get(
        "store_bytes", 0)) / episodes if episodes > 0 else None
    return out


def decisions(run_dir: Path) -> list[tuple[int, str, str]]:
    with StoreReader.open(run_dir) as r:
        return [(x["iteration"], x["candidate_id"], x["status"]) for x in
                r.query("SELECT iteration, candidate_id, status FROM iterations ORDER BY 1")]


def sdk_body(prompt_chars: int) -> dict[str, Any]:
    """One solver request over a validation paper's text, `prompt_chars` characters of prompt."""
    paper = select_papers(None, Path(default_split_path()), "validation")[0]
    full = paper.full_text
    text = (full * (1 + prompt_chars // max(1, len(full))))[:max(64, prompt_chars)]
    return {"model": "sim-weak_solver", "temperature": 1.0, "max_tokens": 2048, "seed": 7,
            "messages": [{"role": "user", "content": "Answer the question about this paper."
                                                     "\n\n" + text + "\n\nQuestion: what is "
                                                     "the paper's main result?"}]}


def sdk_baseline(base_url: str, prompt_chars: int, calls: int = 400,
                 threads: int = 8) -> dict[str, Any]:
    """`bench_sdk.sdk_loop` in a fresh Python process (nothing of ours loaded but that loop)."""
    body = sdk_body(prompt_chars)
    out = subprocess.run(
        [sys.executable, "-m", "evolve.bench_sdk", base_url, str(calls), str(threads)],
        input=json.dumps(body), capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONHASHSEED": "0"})
    if out.returncode != 0:
        raise RuntimeError(f"the bare openai loop failed: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout)


PRICES = Path(__file__).resolve().parents[1] / "configs" / "paper.toml"


def usd_of(run_dir: Path, where: str = "TRUE") -> float:
    """USD of a run's paid calls at configs/paper.toml's per-role prices (cached input tokens at
    the cached price): the simulated world is free, so its tokens are priced as the paper's."""
    roles = load_config(PRICES).roles
    with StoreReader.open(run_dir) as r:
        rows = r.query(
            "SELECT role, sum(input_tokens) AS i, sum(cached_tokens) AS c, "
            f"sum(output_tokens) AS o FROM llm_calls WHERE NOT cached AND {where} GROUP BY role")
    return sum(price_usd(int(x["i"]), int(x["c"]), int(x["o"]), roles[x["role"]])
               for x in rows)


def usd_ratio(economy: dict[str, Any]) -> float | None:
    """USD with the savings on ÷ the paper protocol's: the economy scenario's `usd_ratio` (both
    runs replayed through the same emulated prefix cache, evolve/cost_cache.py), else both runs'
    tokens priced without a cache by `usd_of`."""
    if economy.get("usd_ratio") is not None:
        return economy["usd_ratio"]
    p, s = economy.get("protocol", {}), economy.get("savings", {})
    if not p.get("usd"):
        return None
    return s.get("usd", 0.0) / p["usd"]


FIGURES = ("saturation", "calls_ratio", "tokens_ratio", "usd_ratio", "overhead_ms_per_call",
           "overhead_ratio_to_sdk", "sandbox_ms_per_call", "store_bytes_per_episode",
           "resume_calls_repaid", "identical_decisions")  # issue 19's list; figures() adds a few


def row(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The scenario row called `name` (`saturation`, `overhead`), {} when it was not run."""
    return next((r for r in rows if r.get("name") == name), {})


def figures(result: Any) -> dict[str, Any]:
    """The `figures` object: the issue-19 targets of one bench run, each a number or a bool
    (None for a scenario `bench --only` left out)."""
    sat, ovh = row(result.rows, "saturation"), row(result.rows, "overhead")
    eco, res = result.economy, result.economy.get("resume", {})
    sdk = ovh.get("sdk_cpu_ms_per_call")
    ideal = sat.get("ideal_calls_per_s")
    ran = set(result.settings.get("only", ("economy", "resume")))
    return {
        "saturation": sat.get("busy_calls_per_s", sat.get("calls_per_s", 0.0)) / ideal
        if ideal else None,
        "seed_saturation": sat["seed_busy_calls_per_s"] / ideal
        if ideal and "seed_busy_calls_per_s" in sat else None,
        "calls_ratio": eco.get("calls_ratio"),
        "tokens_ratio": eco.get("tokens_ratio"),
        "usd_ratio": usd_ratio(eco),
        "overhead_ms_per_call": ovh.get("cpu_ms_per_call"),
        "sdk_ms_per_call": sdk,
        "overhead_ratio_to_sdk": ovh["cpu_ms_per_call"] / sdk if sdk else None,
        "sandbox_ms_per_call": ovh.get("sandbox_cpu_ms_per_call"),
        "sandbox_ratio_to_sdk": ovh["sandbox_cpu_ms_per_call"] / sdk if sdk else None,
        "store_bytes_per_episode": ovh.get("store_bytes_per_episode"),
        "resume_calls_repaid": res.get("calls_repaid_for_finished_work"),
        "identical_decisions": bool(eco.get("identical_decisions", True)
                                    and eco.get("identical_evaluations", True)
                                    and res.get("identical_decisions", True))
        if {"economy", "resume"} & ran else None,
    }
