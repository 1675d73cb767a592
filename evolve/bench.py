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

Here: the endpoint scenarios (1, 3, 4: `scoring` against a `SimProcess`) and `run_bench`, which
runs the scenarios `BenchSettings.only` names (`bench --only saturation`). The settings and the
run's config: evolve/bench_settings.py; the in-process scenarios (2, 5): evolve/bench_economy.py;
the figures read from the runs' stores: evolve/bench_figures.py.
"""

from __future__ import annotations

import json
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

from inner_loop.papers import default_split_path
from evolve.run import RunSettings, start_run, write_json
from evolve.bench_economy import economy, resume_figures
from evolve.bench_figures import (  # noqa: F401 — marginal, calls_of: importable from here
    busy_calls, calls_of, episodes_of, figures, marginal, sdk_baseline, store_bytes,
)
from evolve.bench_replay import replayed
from evolve.bench_settings import SCENARIOS, BenchSettings, bench_config  # noqa: F401 — as above


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


def split_file(folder: Path, papers: int) -> Path:
    """A split whose validation subset is the 25 validation papers, then train papers."""
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
        config = bench_config(bs, [f"evolve.iterations={iterations}", "evolve.concurrency=1",
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
    window = "tag LIKE 'it%/validation/%' AND iteration >= 1"
    w = calls_of(folder / name, window) if iterations else c
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
            # the same episodes replayed under other orderings of their calls (bench_replay.py)
            "replay": replayed(folder / name, window, cap) if iterations else None,
            "seed_replay": replayed(folder / name, "tag LIKE 'it0/%'", cap),
            "episodes": episodes_of(folder / name),
            "store_bytes": store_bytes(folder / name),
            "sdk_cpu_ms_per_call": sdk["cpu_ms_per_call"] if sdk else None, "sdk": sdk,
            "cpu_ms_per_call": 1000 * ours / max(1, c["calls"]),
            "sandbox_cpu_ms_per_call": 1000 * sandbox / max(1, c["calls"]),
            "sim_cpu_ms_per_call": 1000 * sim_cpu / max(1, c["calls"])}


def overhead(bs: BenchSettings, folder: Path, say: Any) -> dict[str, Any]:
    """Our CPU per call at latency 0: the median of `overhead_repeats` marginals between a small
    and a big seed scoring, each pair's big run followed by the bare client's yardstick."""
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
    return median


def run_bench(bs: BenchSettings, workdir: Path | None = None,
              progress: Any = None) -> BenchResult:
    """The scenarios `bs.only` names (all by default), in the order of SCENARIOS."""
    unknown = sorted(set(bs.only) - set(SCENARIOS))
    if unknown:
        raise ValueError(f"unknown bench scenario {unknown[0]!r}: one of {', '.join(SCENARIOS)}")
    say = progress or (lambda msg: print(msg, file=sys.stderr))
    t0 = time.perf_counter()
    result = BenchResult(settings=dict(bs.__dict__))
    with tempfile.TemporaryDirectory(prefix="autodata-bench-", dir=workdir) as tmp:
        folder = Path(tmp)
        if "saturation" in bs.only:
            say("bench: saturation (an evolution iteration's candidate scoring)")
            result.rows.append(scoring(bs, folder, "saturation", papers=bs.saturation_papers,
                                       inflight=bs.saturation_inflight,
                                       latency_ms=bs.saturation_latency_ms, cap=bs.cap,
                                       iterations=1))
        if "overhead" in bs.only:
            result.rows.append(overhead(bs, folder, say))
        for n in bs.scaling_papers if "scaling" in bs.only else ():
            say(f"bench: scaling, {n} papers")
            result.scaling.append(scoring(bs, folder, f"papers_{n}", papers=n, inflight=16,
                                          latency_ms=bs.latency_ms, cap=bs.scaling_cap))
        for k in bs.scaling_inflight if "scaling" in bs.only else ():
            say(f"bench: scaling, {k} episodes in flight")
            result.scaling.append(scoring(bs, folder, f"inflight_{k}",
                                          papers=bs.scaling_inflight_papers, inflight=k,
                                          latency_ms=bs.latency_ms, cap=bs.scaling_cap))
        if "economy" in bs.only:
            say("bench: call economy")
            result.economy = economy(bs, folder)
        if "resume" in bs.only:
            say("bench: resume")
            result.economy["resume"] = resume_figures(bs, folder)
    result.wall_s = time.perf_counter() - t0
    result.figures = figures(result)
    return result


def stamp() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")
