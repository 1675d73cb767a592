import math
import random
from collections import Counter

import pytest

from evolve.selection import parent_probabilities, select_parent


def test_probabilities_are_the_exact_softmax_of_score_over_temperature():
    probs = parent_probabilities({"seed": 0.2, "a": 0.3, "b": 0.5}, temperature=0.1)
    z = math.exp(2) + math.exp(3) + math.exp(5)
    assert probs["seed"] == pytest.approx(math.exp(2) / z, rel=1e-12)
    assert probs["a"] == pytest.approx(math.exp(3) / z, rel=1e-12)
    assert probs["b"] == pytest.approx(math.exp(5) / z, rel=1e-12)
    assert math.fsum(probs.values()) == pytest.approx(1.0, abs=1e-15)


def test_a_candidate_ten_points_better_is_e_times_as_likely_at_t_0_1():
    probs = parent_probabilities({"x": 0.40, "y": 0.50}, temperature=0.1)
    assert probs["y"] / probs["x"] == pytest.approx(math.e, rel=1e-9)


def test_empirical_frequencies_match_the_probabilities():
    scores = {"seed": 0.30, "a": 0.35, "b": 0.45, "c": 0.20}
    probs = parent_probabilities(scores, 0.1)
    rng = random.Random(7)
    n = 40_000
    counts = Counter(select_parent(scores, 0.1, rng) for _ in range(n))
    for cid, p in probs.items():
        sd = math.sqrt(p * (1 - p) / n)
        assert abs(counts[cid] / n - p) < 5 * sd, (cid, counts[cid] / n, p)


def test_small_temperature_picks_the_best_candidate():
    scores = {"seed": 0.30, "a": 0.62, "b": 0.61}
    rng = random.Random(0)
    assert {select_parent(scores, 1e-4, rng) for _ in range(500)} == {"a"}


def test_small_temperature_does_not_overflow():
    probs = parent_probabilities({"a": 1.0, "b": 0.0}, temperature=1e-6)
    assert probs == {"a": 1.0, "b": 0.0}


def test_ties_are_equally_likely():
    probs = parent_probabilities({"a": 0.5, "b": 0.5, "c": 0.1}, 0.1)
    assert probs["a"] == probs["b"]
    rng = random.Random(3)
    counts = Counter(select_parent({"a": 0.5, "b": 0.5}, 1e-6, rng) for _ in range(4000))
    assert abs(counts["a"] - 2000) < 5 * math.sqrt(1000)


def test_same_rng_seed_gives_the_same_draws_whatever_the_dict_order():
    scores = {"b": 0.4, "seed": 0.3, "a": 0.5}
    reordered = dict(sorted(scores.items()))
    draws1 = [select_parent(scores, 0.1, r) for r in [random.Random(11)] for _ in range(50)]
    rng = random.Random(11)
    draws2 = [select_parent(reordered, 0.1, rng) for _ in range(50)]
    assert draws1 == draws2


def test_single_candidate_is_always_selected():
    assert select_parent({"seed": 0.1}, 0.1, random.Random(1)) == "seed"


@pytest.mark.parametrize("temperature", [0.0, -0.1, float("nan"), float("inf")])
def test_bad_temperature_is_refused(temperature):
    with pytest.raises(ValueError):
        parent_probabilities({"seed": 0.1}, temperature)


def test_no_candidates_is_refused():
    with pytest.raises(ValueError, match="no accepted candidate"):
        select_parent({}, 0.1, random.Random(0))
