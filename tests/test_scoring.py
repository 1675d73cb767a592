"""The protected score: clip(Σ wᵢ·sᵢ / Σ_{w>0} w, 0, 1), checked on hand-computed cases."""

import pytest

from inner_loop.scoring import mean, score


def test_all_positive_items_met_scores_one():
    assert score([5, 3, 2], [True, True, True]) == 1.0


def test_no_item_met_scores_zero():
    assert score([5, 3, 2, -4], [False, False, False, False]) == 0.0


def test_partial_positive_items_divide_by_positive_sum():
    # (5 + 2) / (5 + 3 + 2) = 0.7
    assert score([5, 3, 2], [True, False, True]) == pytest.approx(0.7)


def test_negative_item_firing_subtracts_its_weight():
    # (8 + 2 - 3) / (8 + 2) = 0.7
    assert score([8, 2, -3], [True, True, True]) == pytest.approx(0.7)


def test_negative_item_not_firing_leaves_full_score():
    assert score([8, 2, -3], [True, True, False]) == 1.0


def test_negative_items_clip_at_zero():
    # (2 - 5 - 4) / (2 + 6) = -0.875 -> 0.0
    assert score([2, 6, -5, -4], [True, False, True, True]) == 0.0


def test_only_negative_items_firing_clip_at_zero():
    assert score([4, -10], [False, True]) == 0.0


def test_score_never_exceeds_one():
    assert score([1, 1], [True, True]) == 1.0
    assert 0.0 <= score([7, 3, -1], [True, True, False]) <= 1.0


def test_no_positive_weight_scores_zero():
    assert score([-3, -2], [True, False]) == 0.0
    assert score([], []) == 0.0


def test_length_mismatch_is_a_bug():
    with pytest.raises(ValueError, match="3 weights but 2 verdicts"):
        score([1, 2, 3], [True, False])


def test_mean_of_scores():
    assert mean([0.25, 0.75, 0.5]) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        mean([])
