"""Threshold presets: every rule pinned on its boundary values, for both presets."""

import pytest

from inner_loop.thresholds import (
    PRESETS,
    Thresholds,
    custom_thresholds,
    full_check,
    recorded_rules,
    thresholds_for,
    weak_check,
)
from inner_loop.config import Config, ConfigError, InnerLoopConfig
from inner_loop.generate_summary import Tally, summarise
from inner_loop.papers import Paper, Section
from inner_loop.runner import base_record
from evolve.config import Config as RunFileConfig
from evolve.context import RunSettings, make_run_config

DEPLOYED = PRESETS["deployed"]
PROSE = PRESETS["paper_prose"]


def _rule(result):
    return None if result.passed else result.failed_rule


# --- deployed: weak rules -------------------------------------------------------------------

def test_deployed_weak_avg_exactly_065_as_a_float_average_passes():
    scores = [0.6, 0.7, 0.65]  # sum/3 is 0.6499999999999999 or 0.65000...01 in binary floats
    assert weak_check(DEPLOYED, scores).passed


def test_deployed_weak_avg_065_constant_passes():
    assert weak_check(DEPLOYED, [0.65, 0.65, 0.65]).passed


def test_deployed_weak_avg_just_above_065_fails_weak_avg():
    assert _rule(weak_check(DEPLOYED, [0.66, 0.66, 0.66])) == "weak_avg"


def test_deployed_weak_max_075_passes():
    assert weak_check(DEPLOYED, [0.75, 0.5, 0.5]).passed


def test_deployed_weak_max_above_075_fails_weak_max():
    assert _rule(weak_check(DEPLOYED, [0.76, 0.5, 0.5])) == "weak_max"


def test_deployed_weak_max_as_computed_score_on_boundary_passes():
    # 3/4 from the real scoring formula is exactly on the weak max bound
    assert weak_check(DEPLOYED, [3 / 4, 0.1, 0.2]).passed


def test_deployed_weak_zero_fails_weak_zero():
    assert _rule(weak_check(DEPLOYED, [0.0, 0.5, 0.5])) == "weak_zero"


def test_deployed_small_nonzero_weak_score_passes_weak_zero():
    assert weak_check(DEPLOYED, [0.01, 0.5, 0.5]).passed


def test_weak_avg_is_checked_before_weak_max():
    assert _rule(weak_check(DEPLOYED, [0.9, 0.9, 0.9])) == "weak_avg"


# --- deployed: strong rules -----------------------------------------------------------------

WEAK_OK = [0.3, 0.3, 0.3]


def test_deployed_strong_avg_060_passes():
    assert full_check(DEPLOYED, [0.2, 0.2, 0.2], [0.6, 0.6, 0.6]).passed


def test_deployed_strong_avg_just_below_060_fails_strong_avg_min():
    assert _rule(full_check(DEPLOYED, [0.1] * 3, [0.59] * 3)) == "strong_avg_min"


def test_deployed_strong_avg_095_fails_strong_avg_below():
    assert _rule(full_check(DEPLOYED, WEAK_OK, [0.95, 0.95, 0.95])) == "strong_avg_below"


def test_deployed_strong_avg_095_as_a_float_average_fails_strong_avg_below():
    assert _rule(full_check(DEPLOYED, WEAK_OK, [0.9, 1.0, 0.95])) == "strong_avg_below"


def test_deployed_strong_avg_just_below_095_passes():
    assert full_check(DEPLOYED, WEAK_OK, [0.94, 0.94, 0.94]).passed


def test_deployed_gap_exactly_020_passes():
    # 0.85 - 0.65 is 0.19999999999999996 in floats: still on the bound
    assert full_check(DEPLOYED, [0.65] * 3, [0.85] * 3).passed


def test_deployed_gap_just_below_020_fails_gap():
    assert _rule(full_check(DEPLOYED, [0.5] * 3, [0.69] * 3)) == "gap"


def test_full_check_reports_a_weak_failure_first():
    assert _rule(full_check(DEPLOYED, [0.0, 0.5, 0.5], [0.9] * 3)) == "weak_zero"


# --- paper_prose ----------------------------------------------------------------------------

def test_prose_weak_avg_050_fails_strict_bound():
    assert _rule(weak_check(PROSE, [0.5, 0.5, 0.5])) == "weak_avg"


def test_prose_weak_avg_050_as_a_float_average_fails_strict_bound():
    assert _rule(weak_check(PROSE, [0.4, 0.6, 0.5])) == "weak_avg"


def test_prose_weak_avg_just_below_050_passes():
    assert weak_check(PROSE, [0.49, 0.49, 0.49]).passed


def test_prose_has_no_weak_max_rule():
    assert weak_check(PROSE, [1.0, 0.2, 0.2]).passed


def test_prose_has_no_weak_zero_rule():
    assert weak_check(PROSE, [0.0, 0.0, 0.0]).passed


def test_prose_strong_avg_065_passes():
    assert full_check(PROSE, [0.4] * 3, [0.65] * 3).passed


def test_prose_strong_avg_just_below_065_fails_strong_avg_min():
    assert _rule(full_check(PROSE, [0.3] * 3, [0.64] * 3)) == "strong_avg_min"


def test_prose_has_no_strong_upper_bound():
    assert full_check(PROSE, [0.3] * 3, [1.0] * 3).passed


def test_prose_gap_exactly_020_passes():
    assert full_check(PROSE, [0.45] * 3, [0.65] * 3).passed


def test_prose_gap_just_below_020_fails_gap():
    assert _rule(full_check(PROSE, [0.46] * 3, [0.65] * 3)) == "gap"


def test_failure_detail_names_the_numbers():
    result = weak_check(DEPLOYED, [0.8, 0.8, 0.8])
    assert "0.800" in result.detail and "0.65" in result.detail


def test_empty_scores_are_a_bug():
    with pytest.raises(ValueError):
        weak_check(DEPLOYED, [])


# --- presets from config --------------------------------------------------------------------

def test_thresholds_for_default_config_is_deployed():
    assert thresholds_for(Config()) == ("deployed", DEPLOYED)


def test_thresholds_for_paper_prose():
    cfg = Config(inner_loop=InnerLoopConfig(preset="paper_prose"))
    assert thresholds_for(cfg) == ("paper_prose", PROSE)


def test_custom_overrides_deployed_fields():
    cfg = InnerLoopConfig(preset="custom", custom_thresholds={"weak_avg_max": 0.5, "min_gap": 0.3})
    name, th = thresholds_for(cfg)
    assert name == "custom"
    assert th.weak_avg_max == 0.5 and th.min_gap == 0.3
    assert th.weak_max_max == DEPLOYED.weak_max_max


def test_custom_bool_field_takes_zero_or_one():
    th = custom_thresholds({"weak_avg_strict": 1, "weak_no_zero": 0})
    assert th.weak_avg_strict is True and th.weak_no_zero is False
    with pytest.raises(ConfigError, match="must be 0 or 1"):
        custom_thresholds({"weak_no_zero": 0.5})


def test_custom_optional_rule_above_one_switches_it_off():
    th = custom_thresholds({"weak_max_max": 2, "strong_avg_below": 1.5})
    assert th.weak_max_max is None and th.strong_avg_below is None
    assert full_check(th, [0.3, 0.3, 0.9], [1.0] * 3).passed


def test_custom_unknown_key_is_a_config_error():
    cfg = InnerLoopConfig(preset="custom", custom_thresholds={"weak_average": 0.5})
    with pytest.raises(ConfigError, match="unknown key"):
        thresholds_for(cfg)


def test_custom_out_of_range_value_is_a_config_error():
    with pytest.raises(ConfigError, match="weak_avg_max"):
        custom_thresholds({"weak_avg_max": -0.1})


def test_custom_preset_without_values_is_a_config_error():
    with pytest.raises(ConfigError, match="needs inner_loop.custom_thresholds"):
        thresholds_for(InnerLoopConfig(preset="custom"))


def test_custom_values_with_a_named_preset_are_a_config_error():
    cfg = InnerLoopConfig(preset="deployed", custom_thresholds={"min_gap": 0.1})
    with pytest.raises(ConfigError, match="preset = 'custom'"):
        thresholds_for(cfg)


def test_thresholds_reject_unknown_fields():
    with pytest.raises(ValueError):
        Thresholds(weak_avg_max=0.5, weak_avg_strict=True, strong_avg_min=0.6, min_gap=0.2, x=1)


# --- epsilon: a value within 1e-9 of a bound counts as on it ------------------------------

def test_deployed_weak_avg_a_rounding_error_above_065_passes():
    assert weak_check(DEPLOYED, [0.65 + 1e-12] * 3).passed


def test_deployed_weak_avg_clearly_above_065_fails():
    assert _rule(weak_check(DEPLOYED, [0.65 + 1e-6] * 3)) == "weak_avg"


def test_prose_weak_avg_a_rounding_error_below_050_fails_strict_bound():
    scores = [1 / 18, 26 / 27, 13 / 27]  # mean is 0.49999999999999994 in floats
    assert _rule(weak_check(PROSE, scores)) == "weak_avg"


def test_deployed_strong_avg_a_rounding_error_below_060_passes():
    assert full_check(DEPLOYED, [0.1] * 3, [0.6 - 1e-12] * 3).passed


def test_custom_out_of_range_value_names_the_allowed_range():
    with pytest.raises(ConfigError, match=r"inner_loop\.custom_thresholds\.min_gap: must be "
                                          r">= -1\.0 and <= 1\.0, got 5"):
        custom_thresholds({"min_gap": 5})


# -- the thresholds as every output records them ----------------------------------------------

def test_recorded_rules_resolve_the_config_once_in_one_form():
    cfg = Config(inner_loop=InnerLoopConfig(preset="custom", custom_thresholds={"min_gap": 0.3}))
    record = recorded_rules(cfg)
    assert record == {"preset": "custom", "thresholds": thresholds_for(cfg)[1].model_dump()}
    assert record["thresholds"]["min_gap"] == 0.3
    # an episode's rules, already resolved, are recorded as they are, not resolved again
    assert recorded_rules(cfg, ("paper_prose", PROSE)) == {"preset": "paper_prose",
                                                           "thresholds": PROSE.model_dump()}


def test_a_run_a_generate_summary_and_an_episode_record_the_same_rules(tmp_path):
    cfg = RunFileConfig(inner_loop=InnerLoopConfig(preset="paper_prose"))
    rc = make_run_config(cfg, RunSettings(), "r")
    summary = summarise(Tally(), config=cfg, usage={}, method="agentic", harness_dir=tmp_path,
                        harness_version=None, duration_s=0.0, resumed=0)
    paper = Paper(id="p", title="T", abstract="", sections=[Section(heading="H", text="x")])
    episode = base_record(paper, cfg, "agentic", None, "exhausted", thresholds_for(cfg))
    want = recorded_rules(cfg)
    assert {"preset": rc.preset, "thresholds": rc.thresholds} == want
    assert {k: summary[k] for k in want} == want
    assert {k: episode[k] for k in want} == want
