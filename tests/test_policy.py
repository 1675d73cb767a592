import math

import pytest

from evolve.policy import confident, decide, regularized_beta, strict, t_cdf, t_quantile

# -- Student t -----------------------------------------------------------------------------------


@pytest.mark.parametrize("p,df,expected", [
    (0.95, 1, 6.313752), (0.95, 5, 2.015048), (0.90, 24, 1.317836), (0.975, 10, 2.228139),
    (0.99, 2, 6.964557), (0.999, 3, 10.21453), (0.90, 4, 1.533206), (0.80, 30, 0.853767),
])
def test_t_quantile_matches_printed_tables(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, abs=2e-6)


@pytest.mark.parametrize("p", [0.55, 0.6, 0.75, 0.9, 0.95, 0.99, 0.999])
def test_t_quantile_with_one_df_is_the_cauchy_quantile(p):
    assert t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-9)


@pytest.mark.parametrize("p", [0.55, 0.7, 0.9, 0.975, 0.995])
def test_t_quantile_with_two_df_has_its_closed_form(p):
    assert t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-9)


def test_t_quantile_tends_to_the_normal_quantile():
    assert t_quantile(0.9, 1e7) == pytest.approx(1.2815516, abs=1e-5)


def test_t_quantile_is_antisymmetric_and_inverts_the_cdf():
    assert t_quantile(0.1, 7) == pytest.approx(-t_quantile(0.9, 7), rel=1e-12)
    assert t_quantile(0.5, 7) == pytest.approx(0.0, abs=1e-9)
    for p in (0.6, 0.9, 0.99):
        assert t_cdf(t_quantile(p, 9), 9) == pytest.approx(p, abs=1e-10)


def test_regularized_beta_known_values():
    assert regularized_beta(0.3, 1, 1) == pytest.approx(0.3)
    assert regularized_beta(0.5, 2, 2) == pytest.approx(0.5)
    assert regularized_beta(0.25, 2, 1) == pytest.approx(0.0625)


# -- strict --------------------------------------------------------------------------------------


def test_strict_accepts_a_child_that_beats_its_parent():
    d = strict([1, 1, 0, 1], [1, 0, 0, 1])
    assert d.accepted and d.child_mean == 0.75 and d.parent_mean == 0.5 and d.policy == "strict"


def test_strict_rejects_a_tie():
    d = strict([1, 0, 1, 0], [0, 1, 0, 1])
    assert not d.accepted
    assert "<=" in d.detail


def test_strict_compares_exact_means_not_rounded_ones():
    # 2/3 vs 4/6 are the same rational: a tie, never accepted
    assert not strict([1, 1, 0], [1, 1, 1, 1, 0, 0]).accepted
    # 0.1 + 0.2 in floats is 0.30000000000000004 > 0.3: exact arithmetic on the given floats says so too
    assert strict([0.1, 0.2], [0.3, 0.0]).accepted is (0.1 + 0.2 > 0.3)


def test_strict_rejects_a_worse_child():
    assert not strict([0, 0, 1], [1, 1, 0]).accepted


def test_strict_refuses_missing_scores():
    with pytest.raises(ValueError):
        strict([], [1])


# -- confident -----------------------------------------------------------------------------------


def _papers(values):
    return {f"p{i:02d}": v for i, v in enumerate(values)}


def test_confident_accepts_a_consistent_improvement():
    child = _papers([[1]] * 8 + [[0]] * 2)
    parent = _papers([[0]] * 6 + [[1]] * 2 + [[0]] * 2)
    d = confident(child, parent, 0.9)
    # diffs: six +1, four 0 -> mean 0.6, sd sqrt(0.2667), bound 0.6 - 1.383*0.1633 > 0
    assert d.accepted and d.lower_bound == pytest.approx(0.6 - t_quantile(0.9, 9) * math.sqrt(0.24 * 10 / 9 / 10))


def test_confident_rejects_what_strict_accepts_on_one_lucky_paper():
    child = _papers([[1], [0], [0], [0], [1], [1], [0], [0]])
    parent = _papers([[0], [0], [0], [0], [1], [1], [0], [0]])
    assert strict([x for v in child.values() for x in v], [x for v in parent.values() for x in v]).accepted
    d = confident(child, parent, 0.9)
    assert not d.accepted and d.lower_bound < 0


def test_confident_rejects_all_equal_scores():
    same = _papers([[1, 0]] * 5)
    d = confident(same, same, 0.9)
    assert not d.accepted and d.lower_bound == 0.0


def test_confident_accepts_a_constant_positive_difference():
    child = _papers([[1, 1]] * 4)
    parent = _papers([[1, 0]] * 4)
    d = confident(child, parent, 0.99)
    assert d.accepted and d.lower_bound == pytest.approx(0.5)


def test_confident_rejects_a_worse_child():
    child = _papers([[0]] * 5 + [[1]] * 5)
    parent = _papers([[1]] * 10)
    assert not confident(child, parent).accepted


def test_confident_is_stricter_at_higher_confidence():
    child = _papers([[1]] * 6 + [[0]] * 4)
    parent = _papers([[0]] * 4 + [[1]] * 2 + [[0]] * 2 + [[1]] * 2)
    bounds = [confident(child, parent, c).lower_bound for c in (0.6, 0.9, 0.99)]
    assert bounds[0] > bounds[1] > bounds[2]


def test_confident_pairs_only_papers_both_were_scored_on_and_averages_repeats():
    child = {"a": [1, 1], "b": [1, 0], "c": [1]}
    parent = {"a": [0], "b": [0, 0, 0], "d": [1]}
    d = confident(child, parent, 0.9)
    assert "2 papers" in d.detail
    # diffs: a 1.0, b 0.5 -> mean 0.75, sd 0.3536, t(0.9,1)=3.078
    assert d.lower_bound == pytest.approx(0.75 - t_quantile(0.9, 1) * math.sqrt(0.125) / math.sqrt(2))
    assert d.child_mean == pytest.approx(4 / 5) and d.parent_mean == pytest.approx(1 / 5)


def test_confident_needs_two_paired_papers():
    d = confident({"a": [1, 1]}, {"a": [0, 0]})
    assert not d.accepted and "at least 2" in d.detail


def test_decide_dispatches_on_the_configured_policy():
    child, parent = {"a": [1], "b": [0]}, {"a": [0], "b": [0]}
    assert decide("strict", child, parent).accepted
    assert not decide("confident", child, parent).accepted
    with pytest.raises(ValueError):
        decide("lenient", child, parent)
