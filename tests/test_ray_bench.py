"""`autodata bench --ray` (evolve/bench_ray.py): the ray executor's overhead per episode and
1 vs 2 nodes, on a Ray cluster simulated on this machine against sim-serve subprocesses.

Off by default (`-m ray`; needs `pip install -e '.[ray]'`); about a minute.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("ray")
from evolve.bench_ray import RayBenchSettings, ray_bench, same_records, table  # noqa: E402
from evolve.cli import main  # noqa: E402

pytestmark = pytest.mark.ray


def test_ray_section_measures_overhead_and_nodes(tmp_path: Path) -> None:
    rs = RayBenchSettings(overhead_papers=1, node_papers=2, inflight=2, node_cpus=1,
                          latency_ms=50.0)  # the least that measures every figure
    section = ray_bench(rs, workdir=tmp_path)
    o = section["overhead"]
    assert o["identical_records"] is True  # the same episodes on either executor
    assert o["local"]["executor"] == "local" and o["ray"]["executor"] == "ray"
    assert o["local"]["papers"] == o["ray"]["papers"] == rs.overhead_papers
    assert o["local"]["calls"] == o["ray"]["calls"] > 0  # every call answered by the driver
    assert o["wall_ms_per_episode"] == pytest.approx(
        o["ray"]["wall_ms_per_episode"] - o["local"]["wall_ms_per_episode"])
    assert o["ray"]["children_cpu_ms_per_episode"] == 0  # no sandboxed child on the driver
    assert o["cluster_start_s"] > 0
    one, two = section["nodes"]
    assert (one["nodes"], two["nodes"]) == (1, 2)
    assert one["calls"] == two["calls"] > 0 and one["papers"] == two["papers"] == rs.node_papers
    assert section["speedup_2_nodes"] == pytest.approx(two["papers_per_s"] / one["papers_per_s"])
    text = table(section)
    assert "ray overhead, ms wall/episode" in text and "ray 2 node(s), papers/s" in text
    assert "same records: True" in text
    json.dumps(section)  # goes into bench --json as it is
    assert not list(tmp_path.iterdir())  # its runs lived in a temporary folder


def test_same_records_sees_a_changed_outcome(tmp_path: Path, capsys) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["generate", "--limit", "1", "--max-rounds", "1", "-o", str(a)]) == 0
    shutil.copytree(a, b)
    assert same_records(a, b)
    path = b / "episodes.jsonl"
    record = json.loads(path.read_text())
    record["rounds"][0]["outcome"] = ("too_easy" if record["rounds"][0]["outcome"] != "too_easy"
                                      else "parse_error")
    path.write_text(json.dumps(record) + "\n")
    assert not same_records(a, b)


def test_bench_has_the_ray_flag(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    assert "--ray" in capsys.readouterr().out
