"""Pass rates with intervals (evolve/estimates.py): papers are the unit, paired bootstrap."""

import numpy as np
import pytest

from evolve.estimates import paired_difference, pass_rate


def test_the_rate_is_the_mean_over_papers_of_each_papers_rate():
    e = pass_rate({"a": [1, 1, 0, 0], "b": [1, 1, 1, 1], "c": [0, 0, 0, 0]})
    assert e.mean == pytest.approx(0.5) and (e.n_papers, e.n_evaluations) == (3, 12)
    assert 0.0 <= e.low < e.mean < e.high <= 1.0


def test_identical_papers_give_a_zero_width_interval_and_nothing_scored_gives_none():
    e = pass_rate({p: [1, 0] for p in "abcdef"})
    assert (e.low, e.mean, e.high) == (0.5, 0.5, 0.5)
    assert pass_rate({}) is None and paired_difference({"a": [1]}, {"b": [0]}) is None


def test_the_same_evaluations_always_give_the_same_interval():
    data = {f"p{i}": [i % 2, (i // 2) % 2] for i in range(10)}
    assert pass_rate(data, key="x") == pass_rate(dict(reversed(data.items())), key="x")


def test_pairing_removes_the_papers_shared_difficulty():
    rng = np.random.default_rng(0)
    hard = rng.uniform(0.0, 0.8, 25)  # papers differ a lot; the candidate is +0.1 on each
    base = {f"p{i}": [h] for i, h in enumerate(hard)}
    cand = {f"p{i}": [h + 0.1] for i, h in enumerate(hard)}
    a, b = pass_rate(cand), pass_rate(base)
    assert a.low < b.high  # unpaired intervals overlap
    d = paired_difference(cand, base)
    assert d.mean == pytest.approx(0.1) and d.low == pytest.approx(0.1) == pytest.approx(d.high)


def test_the_interval_covers_the_true_rate_about_95_percent_of_the_time():
    """Bernoulli papers drawn from a population: n = 25 papers x 2 repeats per experiment."""
    rng = np.random.default_rng(1)
    covered, widths = 0, []
    for _ in range(150):
        p = rng.beta(0.6, 0.9, 25)  # per-paper pass probabilities (population mean 0.4)
        outcomes = {f"p{i}": list(rng.random(2) < pi) for i, pi in enumerate(p)}
        e = pass_rate({k: [float(x) for x in v] for k, v in outcomes.items()})
        covered += e.low <= 0.6 / 1.5 <= e.high
        widths.append(e.high - e.low)
    assert 0.88 <= covered / 150 <= 0.99  # stated 95 %; the percentile bootstrap runs a bit low
    assert 0.15 < float(np.mean(widths)) < 0.45  # neither trivially wide nor narrow
