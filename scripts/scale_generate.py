"""Measure `generate` at corpus scale: papers/s and driver memory as the corpus grows.

The bundled corpus is streamed again and again with distinct ids (`<id>~<k>`) up to N papers, as
generate reads any corpus (never held in memory); each run writes a fresh output directory and prints one JSON line: papers, executor, wall seconds, papers/s, the
driver's peak RSS (ru_maxrss) and its RSS at the end. SIMULATED: every role answers from the
simulated world in the driver's process (the numbers measure the runtime, not a model).

    python scripts/scale_generate.py --papers 150 1500 --max-rounds 1 --executor local
    python scripts/scale_generate.py --papers 24 --executor ray --nodes 2 --serve-latency-ms 50
    python scripts/scale_generate.py --papers 1500 --out /tmp/s   # twice: the second resumes
    python scripts/scale_generate.py --papers 150 1500 --format s2orc --load-only

`--nodes K` (ray) starts a `ray.cluster_utils.Cluster` on this machine: a head without CPUs (it
holds the model-call broker) and K worker nodes of `--node-cpus` each. `--serve-latency-ms X`
points every role at a loopback `sim-serve` answering in X ms (a model endpoint's I/O wait)
instead of the in-process sim. Run each size in its own process for a clean peak RSS.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from inner_loop.config import load_config  # noqa: E402
from inner_loop.generate import run_generate  # noqa: E402
from inner_loop.llm.client import LLMClient  # noqa: E402
from inner_loop.papers import Paper, iter_papers  # noqa: E402
from inner_loop.papers import default_corpus_path  # noqa: E402
from inner_loop.roles import ROLES  # noqa: E402
from inner_loop.sim.server import SimServer  # noqa: E402
from write_corpus import FORMATS, write_corpus  # noqa: E402


def corpus(n: int) -> Iterator[Paper]:
    """The bundled corpus streamed again and again (never held), ids made distinct, N papers."""
    i = 0
    while i < n:
        for paper in iter_papers(default_corpus_path()):
            if i == n:
                return
            yield paper.model_copy(update={"id": f"{paper.id}~{i}"})
            i += 1


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def served(url: str) -> list[str]:
    return [f"roles.{role}.{k}" for role in ROLES
            for k in ("backend=openai", f"base_url={url}", f"model=sim-{role}",
                      "max_concurrency=64", "timeout_s=120")]


def measure(n: int, sets: list[str], out_dir: str | None = None, fmt: str | None = None,
            load_only: bool = False) -> dict:
    config = load_config(None, sets)
    papers: Iterator[Paper] = corpus(n)
    with ExitStack() as stack:
        if fmt is not None:  # written to disk first, then streamed by its real loader
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="autodata-c-")))
            papers = iter_papers(write_corpus(papers, fmt, folder))
        if load_only:
            return _load(n, papers, fmt)
        client = LLMClient(config)
        out = out_dir or stack.enter_context(tempfile.TemporaryDirectory(prefix="autodata-scale-"))
        t0 = time.monotonic()
        summary = run_generate(papers, out, config=config, client=client, total=n)
        wall = time.monotonic() - t0
        size_mb = (Path(out) / "episodes.jsonl").stat().st_size / 2**20
        client.close()
    return {"papers": n, "format": fmt or "(bundled, streamed)", "executor": config.executor.kind,
            "simulated": config.simulated,
            "wall_s": round(wall, 1), "papers_per_s": round(n / wall, 3),
            "resumed": summary["resumed_episodes"],
            "accepted": summary["accepted"], "episodes_jsonl_mb": round(size_mb, 1),
            "driver_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                                        1), "driver_rss_end_mb": round(rss_mb(), 1)}


def _load(n: int, papers: Iterator[Paper], fmt: str | None) -> dict:
    """Only the loader: papers/s and the peak RSS of streaming them."""
    t0 = time.monotonic()
    count = sum(1 for _ in papers)
    wall = time.monotonic() - t0
    return {"papers": count, "format": fmt, "load_only": True, "wall_s": round(wall, 2),
            "papers_per_s": round(n / wall, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--papers", type=int, nargs="+", default=[150, 1500])
    ap.add_argument("--max-rounds", type=int, default=1)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--executor", choices=("local", "ray"), default="local")
    ap.add_argument("--address", default="local", help="ray: executor.address (auto: the "
                    "cluster this host belongs to)")
    ap.add_argument("--nodes", type=int, help="ray: a local multi-node cluster of K nodes")
    ap.add_argument("--node-cpus", type=int, default=2)
    ap.add_argument("--serve-latency-ms", type=float, help="roles on a loopback sim-serve")
    ap.add_argument("--format", choices=FORMATS, help="write the corpus to disk in this "
                    "input format first and stream it through its loader (default: in memory)")
    ap.add_argument("--load-only", action="store_true", help="measure only the loader")
    ap.add_argument("--out", help="output directory, kept (default: a temporary one); run "
                    "again with the same --out to measure a resume")
    args = ap.parse_args()
    sets = [f"inner_loop.max_rounds={args.max_rounds}",
            f"inner_loop.concurrency={args.concurrency}", f"executor.kind={args.executor}",
            f"executor.address={args.address}"]
    with ExitStack() as stack:
        if args.nodes:
            stack.enter_context(_cluster(args.nodes, args.node_cpus))
        if args.serve_latency_ms is not None:
            server = stack.enter_context(SimServer(latency_ms=args.serve_latency_ms))
            sets += served(server.base_url)
        for n in args.papers:
            row = measure(n, sets, args.out, args.format, args.load_only)
            if args.load_only:
                print(json.dumps(row), flush=True)
                continue
            row = {**row, "nodes": args.nodes, "node_cpus": args.node_cpus,
                   "serve_latency_ms": args.serve_latency_ms}
            print(json.dumps(row), flush=True)


@contextmanager
def _cluster(nodes: int, cpus: int) -> Iterator[None]:
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0,
                                                            "include_dashboard": False})
    for _ in range(nodes):
        cluster.add_node(num_cpus=cpus)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
