"""Coverage of evaluate's intervals on the deterministic sim, on held-out papers of the user's
choosing (train papers here: never the unassigned pool, which hides a test set).

The seed harness of a run is scored BLOCKS times on the same papers with disjoint repeats
(`--first-repeat`). Each block's 95 % interval should hold every other block's estimate, and the
estimate over all blocks, at about the stated rate (a replicate on the same papers differs only
by the solvers' sampling noise, which the interval covers along with the spread between papers).

Marked slow (a few minutes): `pytest -m slow tests/test_evaluate_coverage.py`."""

import json

import pytest

from evolve.cli import main

from recorded_run import copy_of_run

BLOCKS, PAPERS = 6, 16


@pytest.mark.slow
def test_disjoint_repeats_fall_inside_each_others_intervals_at_the_stated_rate(
        tmp_path_factory, tmp_path, capsys):
    run_dir = copy_of_run(tmp_path_factory, tmp_path / "run")["run_dir"]
    blocks = []
    for k in range(BLOCKS):
        rc = main(["evaluate", str(run_dir), "--candidates", "seed", "--repeats", "1",
                   "--first-repeat", str(k), "--split", "splits/split_50_25.json",
                   "--subset", "train", "--limit", str(PAPERS), "--json"])
        out = capsys.readouterr()
        assert rc == 0, out.err
        blocks.append(json.loads(out.out)["candidates"][0]["estimate"])
    means = [b["mean"] for b in blocks]
    assert len(set(means)) > 1  # the repeats really are independent draws
    pooled = sum(means) / BLOCKS
    pairs = [(i, j) for i in range(BLOCKS) for j in range(BLOCKS) if i != j]
    inside = sum(blocks[i]["low"] <= means[j] <= blocks[i]["high"] for i, j in pairs)
    assert inside / len(pairs) >= 0.9, (means, blocks)
    assert sum(b["low"] <= pooled <= b["high"] for b in blocks) >= BLOCKS - 1
    assert max(b["high"] - b["low"] for b in blocks) < 0.6  # informative, not trivially wide
    rc = main(["evaluate", str(run_dir), "--candidates", "seed", "--repeats", str(BLOCKS),
               "--split", "splits/split_50_25.json", "--subset", "train",
               "--limit", str(PAPERS), "--json"])
    whole = json.loads(capsys.readouterr().out)["candidates"][0]["estimate"]
    assert rc == 0 and whole["n_evaluations"] == BLOCKS * PAPERS  # the blocks, read back
    assert whole["mean"] == pytest.approx(pooled)
