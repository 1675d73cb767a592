"""`autodata bench`: throughput, overhead, scaling, resume and call economy, measured in one run.

Every figure comes from real runs (`evolve.run.start_run`) in a temporary folder; nothing is
estimated. Endpoint scenarios talk HTTP to `autodata sim-serve` started as a *subprocess* on
loopback with injected latency, so the simulator's CPU is its own process's and is measured
separately (from /proc) and never counted as ours. All roles share the one endpoint, so its
concurrency cap C (`max_concurrency`) bounds calls in flight; the ideal rate is C / latency.

1. saturation = calls/s during an evolution iteration's candidate scoring (child and parent on
   the validation papers; first call's start → last call's end) ÷ (C / L).
2. call economy = calls (tokens) per iteration with the exact savings on (early stopping, racing,
   shared calls) ÷ with them off, on the
   same seeds; decisions must be identical (checked, reported).
3. overhead = our CPU per LLM call at latency 0: this process's CPU + the sandboxed harness
   children's CPU, the sim server's CPU excluded (it runs in its own process).
4. scaling = wall time of one validation scoring vs papers and vs episodes in flight.
5. resume = calls a resumed run pays again for episodes already recorded before the stop.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from inner_loop.config import Config, load_config
from inner_loop.roles import ROLES
from evolve.run import RunSettings, read_run_config, resume_run, start_run, write_json
from evolve.cost_cache import usd_ratio
from evolve.store import StoreReader
from evolve.bench_figures import (  # noqa: F401 — marginal, calls_of: importable from here
    busy_calls, calls_of, decisions, episodes_of, figures, marginal, sdk_baseline, store_bytes,
    usd_of,
)


@dataclass
class BenchSettings:
    """Small defaults so the whole benchmark stays under 5 minutes on 2 cores."""

    latency_ms: float = 50.0  # scaling scenarios
    cap: int = 8  # C: the endpoint's concurrency cap for the saturation scenario
    saturation_latency_ms: float = 200.0  # C / L must stay below what 2 cores can serve
    saturation_papers: int = 25
    saturation_inflight: int = 25
    overhead_papers: tuple[int, int] = (5, 25)  # marginal CPU per call between the two sizes
    overhead_repeats: int = 3  # pairs measured; the median is reported
    scaling_papers: tuple[int, ...] = (10, 25, 50, 100)  # above 50: 50 papers × repeats
    scaling_inflight: tuple[int, ...] = (1, 4, 16, 64)
    scaling_cap: int = 16
    scaling_inflight_papers: int = 10
    economy_iterations: int = 3
    economy_papers: int = 10
    economy_sets: tuple[str, ...] = ("seed=1", "inner_loop.max_rounds=6",
                                     "inner_loop.concurrency=4")
    resume_iterations: int = 1
    sdk_calls: int = 400  # the bare openai client's identical requests, per overhead pair
    max_rounds: int = 2
    seed: int = 2


@dataclass
class BenchResult:
    settings: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    scaling: list[dict[str, Any]] = field(default_factory=list)
    economy: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)  # evolve/bench_figures.py


class SimProcess:
    """`autodata sim-serve --port 0` in a subprocess; base_url read from its banner."""

    def __init__(self, latency_ms: float):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "evolve.cli", "sim-serve", "--port", "0",
             "--latency-ms", str(latency_ms)], stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline() if self.proc.stderr else ""
        match = re.search(r"(http://\S+/v1)", line)
        if not match:
            self.proc.kill()
            raise RuntimeError(f"sim-serve did not start: {line!r}")
        self.base_url = match.group(1)

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _config(bs: BenchSettings, sets: list[str], base_url: str | None, cap: int) -> Config:
    # the bench measures the loop's own work: no end-of-run final re-evaluation (evolve/final.py)
    config = load_config(None, [f"seed={bs.seed}", f"inner_loop.max_rounds={bs.max_rounds}",
                                "evolve.minibatch=1", "evolve.final_repeats=0"] + sets)
    if base_url is None:
        return config
    roles = {r: config.roles[r].model_copy(update={  # type: ignore[index]
        "backend": "openai", "base_url": base_url, "model": f"sim-{r}",
        "max_concurrency": cap, "timeout_s": 60.0}) for r in ROLES}
    return config.model_copy(update={"roles": roles})


def split_file(folder: Path, papers: int) -> Path:
    """A split whose validation subset is the 25 validation papers, then train papers."""
    import json

    from inner_loop.papers import default_split_path

    data = json.loads(Path(default_split_path()).read_text())
    pool = list(data["validation"]) + list(data["train"])
    if papers > len(pool):
        raise ValueError(f"at most {len(pool)} papers for the scaling benchmark")
    data["validation"], data["train"] = pool[:papers], pool[papers:] or pool[:1]
    data["train"] = [p for p in data["train"] if p not in data["validation"]] or list(
        data["unassigned_pool"][:1])
    path = folder / f"split_{papers}.json"
    write_json(path, data)
    return path


MAX_SCALING_PAPERS = 50  # more validation episodes than this: the same papers, more repeats


def scoring(bs: BenchSettings, folder: Path, name: str, *, papers: int, inflight: int,
            latency_ms: float, cap: int, iterations: int = 0,
            sdk_calls: int = 0) -> dict[str, Any]:
    """A run against a sim-serve subprocess and its figures: the seed's scoring
    (`iterations` 0), or also `iterations` evolution iterations, one at a time; the scoring
    window is then iteration 1..N's candidate scoring (child and parent on the validation papers),
    first call's start to last call's end. Above MAX_SCALING_PAPERS validation episodes the
    split's papers are not enough (the rest of the pool is held out): `papers` episodes are then
    MAX_SCALING_PAPERS papers × `papers // MAX_SCALING_PAPERS` repeats (independent draws).
    `sdk_calls`: then also the bare `openai` client's CPU per call against the same server
    (evolve/bench_figures.py), `sdk_calls` identical requests of this run's mean prompt size."""
    repeats = max(1, papers // MAX_SCALING_PAPERS)
    server = SimProcess(latency_ms)
    try:
        config = _config(bs, [f"evolve.iterations={iterations}", "evolve.concurrency=1",
                              f"inner_loop.concurrency={inflight}", f"evolve.repeats={repeats}"],
                         server.base_url, cap)
        settings = RunSettings(split_path=str(split_file(folder, papers // repeats)))
        sim0, cpu0 = server.cpu_s(), time.process_time()
        kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        start_run(config, settings, folder / name, show_progress=False)
        wall = time.perf_counter() - t0
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        ours = time.process_time() - cpu0
        sandbox = (kids.ru_utime + kids.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
        sim_cpu = server.cpu_s() - sim0
        c = calls_of(folder / name)
        sdk = sdk_baseline(server.base_url, int(4 * c["input_tokens"] / max(1, c["calls"])),
                           calls=sdk_calls, threads=inflight) if sdk_calls else None
    finally:
        server.stop()
    w = calls_of(folder / name, "tag LIKE 'it%/validation/%' AND iteration >= 1") \
        if iterations else c
    span = max(1e-9, w["t1"] - w["t0"])
    seed = calls_of(folder / name, "tag LIKE 'it0/%'")
    seed_span = max(1e-9, seed["t1"] - seed["t0"])
    ideal = cap / (latency_ms / 1000) if latency_ms else None
    return {"name": name, "papers": papers, "repeats": repeats, "inflight": inflight, "cap": cap,
            "latency_ms": latency_ms, "iterations": iterations, "calls": int(c["calls"]),
            "scoring_calls": int(w["calls"]), "wall_s": wall, "scoring_s": span,
            "calls_per_s": w["calls"] / span, "ideal_calls_per_s": ideal,
            # endpoint use in the window: every paid call it served then, whatever its tag
            "busy_calls_per_s": busy_calls(folder / name, w["t0"], w["t1"]) / span,
            "seed_scoring_s": seed_span,
            "seed_busy_calls_per_s": busy_calls(folder / name, seed["t0"], seed["t1"]) / seed_span,
            "episodes": episodes_of(folder / name),
            "store_bytes": store_bytes(folder / name),
            "sdk_cpu_ms_per_call": sdk["cpu_ms_per_call"] if sdk else None, "sdk": sdk,
            "cpu_ms_per_call": 1000 * ours / max(1, c["calls"]),
            "sandbox_cpu_ms_per_call": 1000 * sandbox / max(1, c["calls"]),
            "sim_cpu_ms_per_call": 1000 * sim_cpu / max(1, c["calls"])}


def economy(bs: BenchSettings, folder: Path) -> dict[str, Any]:
    """Evolution iterations with the savings on and off (in-process sim: only calls count)."""
    out: dict[str, Any] = {}
    k = bs.economy_iterations
    for label, on in (("protocol", "false"), ("savings", "true")):
        config = _config(bs, [f"evolve.iterations={k}", f"evolve.concurrency={k}",
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
    start_run(_config(bs, sets, None, 1), settings, full, show_progress=False)
    total = int(calls_of(full)["calls"])
    cut = folder / "resume_cut"
    start_run(_config(bs, sets + [f"budget.max_calls={total // 2}"], None, 1), settings, cut,
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


def run_bench(bs: BenchSettings, workdir: Path | None = None,
              progress: Any = None) -> BenchResult:
    say = progress or (lambda msg: print(msg, file=sys.stderr))
    t0 = time.perf_counter()
    result = BenchResult(settings=dict(bs.__dict__))
    with tempfile.TemporaryDirectory(prefix="autodata-bench-", dir=workdir) as tmp:
        folder = Path(tmp)
        say("bench: saturation (an evolution iteration's candidate scoring)")
        result.rows.append(scoring(bs, folder, "saturation", papers=bs.saturation_papers,
                                   inflight=bs.saturation_inflight,
                                   latency_ms=bs.saturation_latency_ms, cap=bs.cap,
                                   iterations=1))
        pairs = []
        for k in range(bs.overhead_repeats):  # a difference of short runs: the median of a few
            say(f"bench: overhead (latency 0), pair {k + 1} of {bs.overhead_repeats}")
            small, big = (scoring(bs, folder, f"overhead_{n}_{k}", papers=n, inflight=8,
                                  latency_ms=0.0, cap=64,
                                  sdk_calls=bs.sdk_calls if n == max(bs.overhead_papers) else 0)
                          for n in bs.overhead_papers)
            pairs.append(marginal(small, big))
        pairs.sort(key=lambda x: x["cpu_ms_per_call"])
        median = dict(pairs[len(pairs) // 2])
        median["pairs_cpu_ms_per_call"] = [x["cpu_ms_per_call"] for x in pairs]
        median["pairs_sdk_cpu_ms_per_call"] = [x["sdk_cpu_ms_per_call"] for x in pairs]
        median["pairs_ratio_to_sdk"] = [x["cpu_ms_per_call"] / x["sdk_cpu_ms_per_call"]
                                        for x in pairs if x["sdk_cpu_ms_per_call"]]
        result.rows.append(median)
        for n in bs.scaling_papers:
            say(f"bench: scaling, {n} papers")
            result.scaling.append(scoring(bs, folder, f"papers_{n}", papers=n, inflight=16,
                                          latency_ms=bs.latency_ms, cap=bs.scaling_cap))
        for k in bs.scaling_inflight:
            say(f"bench: scaling, {k} episodes in flight")
            result.scaling.append(scoring(bs, folder, f"inflight_{k}",
                                          papers=bs.scaling_inflight_papers, inflight=k,
                                          latency_ms=bs.latency_ms, cap=bs.scaling_cap))
        say("bench: call economy")
        result.economy = economy(bs, folder)
        say("bench: resume")
        result.economy["resume"] = resume_figures(bs, folder)
    result.wall_s = time.perf_counter() - t0
    result.figures = figures(result)
    return result


def stamp() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")
