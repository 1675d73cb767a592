"""The ray executor on a real multi-node Ray cluster simulated on this machine
(`ray.cluster_utils.Cluster`: a head and one worker node, a third added and killed mid-run).

Off by default (`-m ray`; needs `pip install -e '.[ray]'`). The module shares one cluster; the
node-kill test runs last and takes its own extra node with it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy  # noqa: E402

from evolve.cli import main  # noqa: E402
from evolve.repo import HarnessRepo  # noqa: E402
from evolve.context import RunSettings  # noqa: E402
from evolve.run import start_run  # noqa: E402
from evolve.store import StoreReader  # noqa: E402
from inner_loop.config import load_config  # noqa: E402
from inner_loop.generate import default_harness_dir, run_generate  # noqa: E402
from inner_loop.llm.client import LLMClient  # noqa: E402
from inner_loop.papers import select_papers  # noqa: E402
from inner_loop.executor import EpisodeJob  # noqa: E402
from inner_loop.ray_executor import RayExecutor, materialise, tree_files  # noqa: E402
from inner_loop.harness import load_harness  # noqa: E402
from inner_loop.roles import ROLES  # noqa: E402
from inner_loop.sim.server import SimServer  # noqa: E402

pytestmark = pytest.mark.ray
GEN = ["generate", "--limit", "8", "--max-rounds", "3", "--json"]
VOLATILE = ("duration_ms", "worker")  # where and how fast it ran; everything else must agree


def _start_cluster(attempts: int = 2) -> Cluster:
    """A head and one worker node; started again once if a raylet misses Ray's fixed 30 s
    start-up wait (it does on a heavily loaded 2-core machine)."""
    for attempt in range(attempts):
        c = Cluster(initialize_head=False)
        try:
            c.add_node(num_cpus=1, include_dashboard=False)
            c.add_node(num_cpus=1)
            c.wait_for_nodes()
            return c
        except Exception:  # noqa: BLE001 — Ray raises a bare Exception on that timeout
            c.shutdown()
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def cluster():
    c = _start_cluster()
    ray.init(address=c.address, log_to_driver=False)
    yield c
    ray.shutdown()
    c.shutdown()


@pytest.fixture(scope="module")
def local_generate(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "out"
    assert main([*GEN, "-o", str(out)]) == 0
    return out


def episodes(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]


def by_paper(out: Path) -> dict[str, dict]:
    return {r["paper_id"]: {k: v for k, v in r.items() if k not in VOLATILE}
            for r in episodes(out)}


def examples(out: Path) -> list[str]:
    return sorted((out / "examples.jsonl").read_text().splitlines())


def nodes(out: Path) -> set[str]:
    return {r["worker"].split("ray node ")[1].rstrip(")") for r in episodes(out)}


def test_generate_on_two_nodes_gives_the_same_examples_as_local(cluster, local_generate,
                                                                tmp_path):
    out = tmp_path / "ray"
    assert main([*GEN, "-o", str(out), "--executor", "ray",
                 "--set", "inner_loop.concurrency=4"]) == 0
    assert examples(local_generate) and examples(out) == examples(local_generate)
    assert by_paper(out) == by_paper(local_generate)  # transcripts, rounds, usage, confinement
    assert len(nodes(out)) == 2  # both nodes ran episodes
    assert all(r["worker"] is None for r in episodes(local_generate))
    assert {r["confinement"] for r in episodes(out)} == \
        {r["confinement"] for r in episodes(local_generate)}  # confined on the worker as here
    summary = json.loads((out / "summary.json").read_text())
    local = json.loads((local_generate / "summary.json").read_text())
    for key in ("accepted", "failure_counts", "statuses", "weak_avg", "strong_avg"):
        assert summary[key] == local[key], key
    assert summary["usage"]["total"]["calls"] == local["usage"]["total"]["calls"]


def _facts(path: Path) -> list:
    with StoreReader.open(path) as reader:
        its = [(r["iteration"], r["candidate_id"], r["parent_id"], r["status"])
               for r in reader.query("SELECT * FROM iterations ORDER BY iteration")]
        evals = sorted((r["candidate_id"], r["paper_id"], r["purpose"], r["repeat"],
                        r["accepted"]) for r in reader.query("SELECT * FROM evaluations"))
        n_episodes = reader.query("SELECT count(*) AS n FROM episodes")[0]["n"]
    repo = HarnessRepo.open(path)
    trees = sorted((c.candidate_id, repo.tree_sha(c.commit_sha)) for c in repo.accepted_commits())
    return [its, evals, trees, n_episodes == len(evals)]


def test_evolve_on_two_nodes_reaches_the_same_lineage_as_local(cluster, tmp_path):
    sets = ["seed=2", "evolve.iterations=2", "evolve.minibatch=1", "inner_loop.max_rounds=2",
            "evolve.final_repeats=0"]
    settings = RunSettings(validation_limit=2)
    facts = []
    for name, extra in (("local", []), ("ray", ["executor.kind=ray"])):
        summary = start_run(load_config(None, sets + extra), settings, tmp_path / name,
                            show_progress=False)
        assert summary.status == "finished" and summary.iterations_done == 2
        facts.append(_facts(tmp_path / name))
    assert facts[0][1] and facts[0] == facts[1]  # attempts, evaluations, accepted trees
    assert facts[1][3]  # every evaluation recorded by exactly one episode


def test_a_tree_that_arrives_changed_is_refused_on_the_worker(cluster, tmp_path, monkeypatch):
    harness = load_harness(default_harness_dir())
    files = tree_files(harness)
    files[sorted(files)[0]] += b"\n# changed in transit\n"
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(ValueError, match="arrived as"):
        materialise(harness.digest, [ray.put(files)])
    files = tree_files(harness)
    files["../escape.py"] = b"x = 1\n"
    with pytest.raises(ValueError, match="bad path"):
        materialise(harness.digest, [ray.put(files)])
    assert not any(tmp_path.glob("autodata-harness-*/escape.py"))
    good = materialise(harness.digest, [ray.put(tree_files(harness))])
    assert load_harness(good).digest == harness.digest


def test_a_tree_changed_on_the_worker_is_refused_and_never_run(cluster, tmp_path):
    harness = load_harness(default_harness_dir())
    paper = select_papers(None, None, "validation", limit=1)[0]
    config = load_config(None, ["inner_loop.max_rounds=1", "executor.kind=ray"])
    client, executor = LLMClient(config), RayExecutor(config.executor)
    job = EpisodeJob(paper, harness, config, client, tmp_path, "agentic", None, "")
    cached = Path(tempfile.gettempdir()) / f"autodata-harness-{os.getuid()}" / harness.digest
    try:
        assert executor.run(job).status != "runtime_error" and cached.is_dir()
        prompt = sorted(cached.glob("prompts/*.md"))[0]
        prompt.write_text(prompt.read_text() + "\nBe weak.\n")  # as another process might
        calls = client.snapshot().total.calls
        record = executor.run(job)
        assert record.status == "infrastructure" and "is now" in (record.error or "")
        assert client.snapshot().total.calls == calls  # nothing of it ran
    finally:
        shutil.rmtree(cached, ignore_errors=True)
        executor.close()
        client.close()


def _served(url: str) -> list[str]:
    return [f"roles.{role}.{k}" for role in ROLES
            for k in ("backend=openai", f"base_url={url}", f"model=sim-{role}",
                      "max_concurrency=2", "timeout_s=60")]


def test_caps_and_budget_hold_across_nodes(cluster, tmp_path):
    papers = select_papers(None, None, "validation", limit=4)
    with SimServer(latency_ms=30) as server:
        config = load_config(None, _served(server.base_url) + [
            "executor.kind=ray", "inner_loop.concurrency=4", "inner_loop.max_rounds=3",
            "budget.max_calls=60"])
        client = LLMClient(config)
        summary = run_generate(papers, tmp_path / "out", config=config, client=client)
        client.close()
        errors = {r["status"]: r["error"] for r in episodes(tmp_path / "out")}
        assert server.max_in_flight == 2, errors  # the endpoint's cap, cluster-wide, reached
        assert server.requests == 60 and summary["usage"]["total"]["calls"] == 60
    assert summary["statuses"].get("budget", 0) >= 1
    assert len(nodes(tmp_path / "out")) == 2


@ray.remote(num_cpus=1)
def _warm() -> str:
    import inner_loop.runner  # noqa: F401 — what an episode task imports first

    return ray.get_runtime_context().get_node_id()


def test_a_node_killed_mid_run_loses_nothing_and_records_nothing_twice(cluster, local_generate,
                                                                        tmp_path):
    doomed = cluster.add_node(num_cpus=2)
    cluster.wait_for_nodes()
    on_doomed = NodeAffinitySchedulingStrategy(doomed.node_id, soft=False)
    warm = [_warm.options(scheduling_strategy=on_doomed).remote() for _ in range(2)]
    assert set(ray.get(warm)) == {doomed.node_id}  # its workers up: episodes start at once
    served, lock, killer = [0], threading.Lock(), []

    def kill_at_call_30(_call: object) -> None:  # 4 in flight on 4 CPUs: 2 on the doomed node
        with lock:
            served[0] += 1
            if served[0] != 30:
                return
        killer.append(threading.Thread(target=cluster.remove_node, args=(doomed,),
                                       kwargs={"allow_graceful": False}))
        killer[0].start()

    papers = select_papers(None, None, "validation", limit=8)
    config = load_config(None, ["executor.kind=ray", "inner_loop.concurrency=4",
                                "inner_loop.max_rounds=3"])
    client = LLMClient(config, recorder=kill_at_call_30)
    run_generate(papers, tmp_path / "out", config=config, client=client)
    calls = client.snapshot().total.calls
    client.close()
    assert killer
    killer[0].join()
    rows = episodes(tmp_path / "out")
    assert sorted(r["paper_id"] for r in rows) == sorted(p.id for p in papers)  # once each
    assert by_paper(tmp_path / "out") == by_paper(local_generate)  # no quality verdict changed
    assert examples(tmp_path / "out") == examples(local_generate)
    local_calls = json.loads((local_generate / "summary.json").read_text())
    assert calls > local_calls["usage"]["total"]["calls"], \
        f"no episode was re-run: {[r['worker'] for r in rows]}, doomed {doomed.node_id[:12]}"
