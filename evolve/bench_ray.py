"""`autodata bench --ray`: what the `ray` executor costs per episode and what a second node buys.

Real `generate` runs (inner_loop/generate.py) of the bundled validation papers, every role on
`autodata sim-serve` in a subprocess (evolve/bench.py's SimProcess: its CPU is its own, never
counted as the driver's), on a Ray cluster simulated on this machine (`ray.cluster_utils.Cluster`:
a head without CPUs, which holds the driver's model-call broker, and worker nodes of
`node_cpus` CPUs each; every episode reserves `executor.episode_cpus`, so a node runs
`node_cpus` episodes at once).

1. overhead: the same episodes (same papers, same settings, latency 0) with `--executor local`
   and `--executor ray` on one worker node with a CPU slot per episode in flight (`inflight`
   on both, so only the executor differs): wall seconds and driver CPU
   (this process: threads, broker pump, the client) per episode, and their difference = Ray's
   scheduling overhead per episode (a task submitted and returned, the harness tree checked on
   the worker, every model call a round trip worker -> broker -> driver). The records must be
   the same (checked: outcome, rounds, accepted example), or the figure is void.
2. nodes: throughput (papers/s, calls/s) against sim-serve answering in `latency_ms`, with 1
   worker node and then with 2. Episodes wait on model calls, so on one host the second node
   adds episode slots, not CPUs: the figure says what scheduling across nodes costs or gains,
   not what real hardware would (docs/scale-out.md).
Cluster start-up and each node's worker processes (started and this package imported before
the clock starts) are paid once per command, not per episode: cluster_start_s says how long.
"""

from __future__ import annotations

import resource
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import ray
from ray.cluster_utils import Cluster
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from evolve.bench import SimProcess, stamp
from inner_loop.config import Config, load_config
from inner_loop.executor import Executor, LocalExecutor
from inner_loop.generate import read_episodes, run_generate
from inner_loop.llm.client import LLMClient
from inner_loop.papers import select_papers
from inner_loop.ray_executor import RayExecutor
from inner_loop.roles import ROLES


@dataclass
class RayBenchSettings:
    """Small defaults: the whole section stays under 3 minutes on 2 cores."""

    overhead_papers: int = 8
    node_papers: int = 12
    inflight: int = 8
    node_cpus: int = 2
    latency_ms: float = 100.0
    max_rounds: int = 1
    seed: int = 2

    @classmethod
    def quick(cls) -> RayBenchSettings:
        """The smallest that still measures each figure (tests, `bench --quick --ray`)."""
        return cls(overhead_papers=2, node_papers=4, inflight=4)


def _run(config: Config, papers: list, executor: Executor, out: Path) -> dict[str, Any]:
    """One generate run: wall, driver CPU (this process, children apart), calls, records."""
    client = LLMClient(config)
    cpu0, kids0 = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    try:
        summary = run_generate(papers, out, config=config, client=client, executor=executor)
    finally:
        client.close()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    n = len(papers)
    return {"executor": executor.kind, "papers": n, "wall_s": wall,
            "papers_per_s": n / wall, "calls": summary["usage"]["total"]["calls"],
            "calls_per_s": summary["usage"]["total"]["calls"] / wall,
            "accepted": summary["accepted"], "wall_ms_per_episode": 1000 * wall / n,
            "driver_cpu_ms_per_episode": 1000 * cpu / n,
            "children_cpu_ms_per_episode": 1000 * ((kids.ru_utime + kids.ru_stime) -
                                                   (kids0.ru_utime + kids0.ru_stime)) / n}


def same_records(a: Path, b: Path) -> bool:
    """The two outputs hold the same episodes: per paper, status, round outcomes, example."""
    def key(out: Path) -> dict[str, Any]:
        return {r.paper_id: (r.status, [x.outcome for x in r.rounds], r.accepted_round,
                             r.accepted_example.model_dump() if r.accepted_example else None)
                for r in read_episodes(out / "episodes.jsonl")}
    return key(a) == key(b)


@contextmanager
def cluster() -> Iterator[Any]:
    """A head without CPUs (it holds the broker); the driver (this process) connected."""
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0,
                                                      "include_dashboard": False})
    try:
        ray.init(address=c.address, log_to_driver=False)
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


@ray.remote(num_cpus=1)
def _warm() -> str:
    """Run on a node's worker process: it starts and imports this module (hence the runner)."""
    time.sleep(0.5)  # held a moment, so the node's other warm-ups start workers of their own
    return ray.get_runtime_context().get_node_id()


def add_warm_node(c: Any, cpus: int) -> Any:
    """A worker node of `cpus` CPUs, its `cpus` worker processes started and warm."""
    node = c.add_node(num_cpus=cpus)
    c.wait_for_nodes()
    on_it = NodeAffinitySchedulingStrategy(node.node_id, soft=False)
    ray.get([_warm.options(scheduling_strategy=on_it).remote() for _ in range(cpus)])
    return node


def ray_bench(rs: RayBenchSettings, workdir: Path | None = None,
              say: Any = lambda msg: None) -> dict[str, Any]:
    """The `ray` section of `autodata bench`: overhead per episode and 1 vs 2 nodes."""
    t_all = time.perf_counter()
    sets = [f"seed={rs.seed}", f"inner_loop.concurrency={rs.inflight}",
            f"inner_loop.max_rounds={rs.max_rounds}", "executor.kind=ray"]
    out: dict[str, Any] = {"settings": asdict(rs)}
    papers = select_papers(None, None, "validation", limit=max(rs.overhead_papers,
                                                               rs.node_papers))
    with tempfile.TemporaryDirectory(prefix="autodata-bench-ray-", dir=workdir) as tmp:
        folder = Path(tmp)
        fast, slow = SimProcess(0.0), SimProcess(rs.latency_ms)
        try:
            config0, config1 = served(sets, fast.base_url), served(sets, slow.base_url)
            say("bench --ray: local executor, latency 0")
            local = _run(config0, papers[:rs.overhead_papers], LocalExecutor(),
                         folder / "local")
            say("bench --ray: starting a Ray cluster")
            t0 = time.perf_counter()
            with cluster() as c:
                # overhead: one node with a slot per episode in flight, as local has
                wide = add_warm_node(c, rs.inflight)
                start_s = time.perf_counter() - t0
                executor = RayExecutor(config0.executor)
                try:
                    say("bench --ray: ray executor, latency 0, 1 node")
                    ray_row = _run(config0, papers[:rs.overhead_papers], executor,
                                   folder / "ray")
                    c.remove_node(wide)
                    nodes = []
                    for n in (1, 2):
                        add_warm_node(c, rs.node_cpus)
                        say(f"bench --ray: {n} node(s), latency {rs.latency_ms:.0f} ms")
                        row = _run(config1, papers[:rs.node_papers], executor,
                                   folder / f"nodes_{n}")
                        nodes.append({"nodes": n, "node_cpus": rs.node_cpus,
                                      "latency_ms": rs.latency_ms, **row})
                finally:
                    executor.close()
        finally:
            fast.stop()
            slow.stop()
        identical = same_records(folder / "local", folder / "ray")
    out["overhead"] = {
        "local": local, "ray": ray_row, "identical_records": identical,
        "wall_ms_per_episode": ray_row["wall_ms_per_episode"] - local["wall_ms_per_episode"],
        "driver_cpu_ms_per_episode": (ray_row["driver_cpu_ms_per_episode"] -
                                      local["driver_cpu_ms_per_episode"]),
        "cluster_start_s": start_s}
    out["nodes"] = nodes
    out["speedup_2_nodes"] = nodes[1]["papers_per_s"] / nodes[0]["papers_per_s"]
    out["wall_s"] = time.perf_counter() - t_all
    out["measured_at"] = stamp()
    return out


def served(sets: list[str], base_url: str) -> Config:
    """The settings with every role on the sim-serve at `base_url` (no cap that binds)."""
    return load_config(None, sets + [f"roles.{role}.{key}" for role in ROLES for key in (
        "backend=openai", f"base_url={base_url}", f"model=sim-{role}", "max_concurrency=64",
        "timeout_s=60")])


def table(section: dict[str, Any]) -> str:
    """The `ray` rows under bench's table: figure, value, target, what it was measured on."""
    found = rows(section)
    w = [max(len(r[i]) for r in found) for i in range(3)]
    return "\n".join(f"{a:<{w[0]}}  {b:>{w[1]}}  {c:<{w[2]}}  {e}" for a, b, c, e in found)


def rows(section: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The `ray` figures: figure, value, target, what it was measured on."""
    o, nodes = section["overhead"], section["nodes"]
    loc, ray_ = o["local"], o["ray"]
    out = [
        ("ray overhead, ms wall/episode", f"{o['wall_ms_per_episode']:.0f}", "small vs episode",
         f"{ray_['papers']} episodes, {section['settings']['inflight']} in flight, latency 0: "
         f"local {loc['wall_ms_per_episode']:.0f} ms, ray {ray_['wall_ms_per_episode']:.0f} ms"
         f" per episode; same records: {o['identical_records']}; cluster start "
         f"{o['cluster_start_s']:.1f} s (once)"),
        ("ray overhead, ms driver CPU/episode", f"{o['driver_cpu_ms_per_episode']:.0f}", "-",
         f"local {loc['driver_cpu_ms_per_episode']:.0f} ms (+ sandboxed children "
         f"{loc['children_cpu_ms_per_episode']:.0f} ms), ray "
         f"{ray_['driver_cpu_ms_per_episode']:.0f} ms (episodes on the worker)"),
    ]
    for row in nodes:
        out.append((f"ray {row['nodes']} node(s), papers/s", f"{row['papers_per_s']:.2f}",
                    "2 nodes > 1" if row["nodes"] == 2 else "-",
                    f"{row['papers']} papers, {row['node_cpus']} CPUs a node, latency "
                    f"{row['latency_ms']:.0f} ms, {row['calls_per_s']:.1f} calls/s"))
    return out
