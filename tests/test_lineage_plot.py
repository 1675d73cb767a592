"""The lineage figure: the candidate tree with parent links and pass rates, the best path
highlighted, readable at 100 candidates; drawn from a real run's database too."""

import random

import pytest
from matplotlib.collections import PathCollection
from matplotlib.text import Text

from evolve.cli import main
from evolve.reports.lineage import best_path
from evolve.reports.plot import figure

from recorded_run import copy_of_run


def tree(n=100, seed=0):
    """n attempts: each child of an earlier accepted one; a third rejected, some invalid."""
    rng = random.Random(seed)
    rows = [{"candidate_id": "seed", "iteration": 0, "parent_id": None, "status": "accepted",
             "pass_rate": 0.2}]
    accepted = ["seed"]
    rate = {"seed": 0.2}
    for i in range(1, n + 1):
        parent = rng.choice(accepted)
        status = rng.choice(["accepted", "rejected", "rejected", "invalid"])
        cid = f"c{i:04d}-abcdef"
        r = None if status == "invalid" else min(1.0, rate[parent] + rng.uniform(-0.1, 0.1))
        rows.append({"candidate_id": cid, "iteration": i, "parent_id": parent, "status": status,
                     "pass_rate": r})
        if status == "accepted":
            accepted.append(cid)
            rate[cid] = r
    best = max(accepted, key=rate.get)
    return {"run_id": "t", "simulated": True, "rows": rows, "best": best, "final": None}


def test_a_100_candidate_tree_draws_every_attempt_and_highlights_only_the_best_path():
    data = tree()
    fig = figure([data], "lineage")
    ax = fig.axes[0]
    assert fig.get_size_inches()[0] == pytest.approx(7.0)  # a full page width above 40
    nodes = sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))
    assert nodes == 101  # the seed and every attempt, invalid ones included
    path = best_path(data["rows"], data["best"])
    assert path[0] == "seed" and path[-1] == data["best"] and len(path) >= 2
    [thick] = [line for line in ax.get_lines() if line.get_linewidth() >= 1.5]
    assert list(thick.get_xdata()) == [int(c[1:5]) if c != "seed" else 0 for c in path]
    labels = [t.get_text() for t in ax.texts]
    assert labels == [c.split("-")[0] for c in path]  # only the best path is named
    texts = [t for t in fig.findobj(Text) if t.get_text().strip()]
    assert min(t.get_fontsize() for t in texts) >= 8
    assert ax.get_title().startswith("SIMULATED") and "pooled tally" in ax.get_ylabel()


def test_every_child_is_joined_to_its_parent():
    data = tree(12, seed=3)
    ax = figure([data], "lineage").axes[0]
    segments = 0
    for line in ax.get_lines():
        if line.get_linewidth() < 1.5:
            segments += sum(1 for x in line.get_xdata() if x is None)
    assert segments == 12  # one parent link per attempt (None ends each segment)


def test_lineage_of_a_real_run_and_one_run_at_a_time(tmp_path_factory, tmp_path, capsys):
    run_dir = copy_of_run(tmp_path_factory, tmp_path / "run")["run_dir"]
    out = tmp_path / "tree.svg"
    assert main(["plot", str(run_dir), "--kind", "lineage", "-o", str(out)]) == 0
    svg = out.read_text()
    assert "candidate tree" in svg and "c1" in svg and "path to the best (tally)" in svg
    assert main(["plot", str(run_dir), str(run_dir), "--kind", "lineage", "-o", str(out)]) == 1
    assert "one run at a time" in capsys.readouterr().err
