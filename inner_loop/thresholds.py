"""The thresholds: the protected rules an example is judged by (paper §2), as configuration.

("Thresholds" is the one word for these rules; the outer loop's rule for accepting a candidate
harness is its *policy*, evolve/policy.py.)

Two presets and a custom form:
- `deployed` (the released code): weak avg ≤ 0.65, weak max ≤ 0.75, no weak sample scores 0,
  0.60 ≤ strong avg < 0.95, gap = strong avg − weak avg ≥ 0.20.
- `paper_prose` (the paper's text): weak avg < 0.50, strong avg ≥ 0.65, gap ≥ 0.20.
- `custom`: `inner_loop.custom_thresholds` overrides fields of `deployed` by name. Boolean fields
  take 0 or 1; the optional rules `weak_max_max` and `strong_avg_below` are switched off with a
  value above 1.0 (no score can reach it). Unknown keys are a ConfigError.

Float boundaries: averages like (0.6 + 0.7 + 0.65) / 3 are not exactly 0.65 in binary floating
point, so every comparison allows EPSILON = 1e-9 in the example's favour for inclusive bounds
(≤, ≥) and against it for strict bounds (<): a value within 1e-9 of a bound counts as *on* it.

The weak check runs first (the strong solver is only called when it passes); `full_check` runs
every rule, the weak ones included, and reports the first that fails.

`settled_failure` decides a check before every sample is in: given the first scores of n, it
fails only when *no* scores in [0, 1] for the remaining samples could make the check pass (each
rule tested on its own over that continuous range, a superset of the scores a rubric can give),
so stopping there never changes a verdict. A check is never settled as a pass early: a passed
evaluation always has every sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ConfigDict, Field, ValidationError

from inner_loop.config import Config, ConfigError, InnerLoopConfig
from inner_loop.scoring import mean
from inner_loop.strict import Strict, first_error

EPSILON = 1e-9


class Thresholds(Strict):
    model_config = ConfigDict(frozen=True)  # and Strict's extra="forbid"

    weak_avg_max: float = Field(ge=0.0, le=1.0)
    weak_avg_strict: bool  # True: weak avg < weak_avg_max; False: weak avg <= weak_avg_max
    weak_max_max: float | None = Field(default=None, ge=0.0, le=1.0)  # None: no rule
    weak_no_zero: bool = False
    strong_avg_min: float = Field(ge=0.0, le=1.0)  # strong avg >= strong_avg_min
    strong_avg_below: float | None = Field(default=None, ge=0.0, le=1.0)  # strong avg < this
    min_gap: float = Field(ge=-1.0, le=1.0)  # strong avg - weak avg >= min_gap


class RuleResult(Strict):
    passed: bool
    failed_rule: str | None = None  # weak_avg, weak_max, weak_zero, strong_avg_min, ...
    detail: str = ""  # human-readable: "weak avg 0.800 > 0.65"


PRESETS: dict[str, Thresholds] = {
    "deployed": Thresholds(
        weak_avg_max=0.65, weak_avg_strict=False, weak_max_max=0.75, weak_no_zero=True,
        strong_avg_min=0.60, strong_avg_below=0.95, min_gap=0.20,
    ),
    "paper_prose": Thresholds(
        weak_avg_max=0.50, weak_avg_strict=True, weak_max_max=None, weak_no_zero=False,
        strong_avg_min=0.65, strong_avg_below=None, min_gap=0.20,
    ),
}

_BOOL_FIELDS = ("weak_avg_strict", "weak_no_zero")
_OPTIONAL_FIELDS = ("weak_max_max", "strong_avg_below")


def custom_thresholds(values: dict[str, float]) -> Thresholds:
    """Deployed preset overridden by `values` (see the module docstring); ConfigError if invalid."""
    known = set(Thresholds.model_fields)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"inner_loop.custom_thresholds: unknown key(s) {unknown}; known: {sorted(known)}"
        )
    data: dict[str, Any] = PRESETS["deployed"].model_dump()
    for key, value in values.items():
        if key in _BOOL_FIELDS:
            if value not in (0, 1):
                raise ConfigError(f"inner_loop.custom_thresholds.{key}: must be 0 or 1, got {value}")
            data[key] = bool(value)
        elif key in _OPTIONAL_FIELDS and value > 1.0:
            data[key] = None
        else:
            data[key] = value
    try:
        return Thresholds.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"inner_loop.custom_thresholds.{first_error(exc, model=Thresholds)}"
                          ) from None


Rules = tuple[str, Thresholds]  # (preset name, thresholds): what an episode is judged by


def thresholds_for(config: Config | InnerLoopConfig) -> Rules:
    """(preset name, thresholds) of a run; record both with every run."""
    inner = config.inner_loop if isinstance(config, Config) else config
    if inner.preset == "custom":
        if not inner.custom_thresholds:
            raise ConfigError("inner_loop.preset = 'custom' needs inner_loop.custom_thresholds")
        return "custom", custom_thresholds(inner.custom_thresholds)
    if inner.custom_thresholds:
        raise ConfigError(
            f"inner_loop.custom_thresholds is set but inner_loop.preset is {inner.preset!r};"
            " set preset = 'custom' to use them"
        )
    return inner.preset, PRESETS[inner.preset]


def recorded_rules(config: Config | InnerLoopConfig, rules: Rules | None = None
                   ) -> dict[str, Any]:
    """`preset` and `thresholds` (a dict) as every output records them: a run's config.json,
    generate's summary.json and each episode record. `rules`: already resolved (the episode's);
    else resolved here from `config` (`thresholds_for`), the one place that does it."""
    preset, thresholds = rules or thresholds_for(config)
    return {"preset": preset, "thresholds": thresholds.model_dump()}


def _le(a: float, b: float) -> bool:
    return a <= b + EPSILON


def _lt(a: float, b: float) -> bool:
    return a < b - EPSILON


def _ge(a: float, b: float) -> bool:
    return a >= b - EPSILON


def _fail(rule: str, detail: str) -> RuleResult:
    return RuleResult(passed=False, failed_rule=rule, detail=detail)


def weak_check(th: Thresholds, weak_scores: Sequence[float]) -> RuleResult:
    """The rules on the weak solver's scores alone: weak_avg, weak_max, weak_zero."""
    avg = mean(weak_scores)
    return _weak_failure(th, avg, weak_scores) or RuleResult(passed=True,
                                                               detail=f"weak avg {avg:.3f}")


def _weak_failure(th: Thresholds, avg: float, scores: Sequence[float], at_least: str = "",
                  tail: str = "") -> RuleResult | None:
    """The first weak rule failed by an average `avg` (at least `avg` when `at_least`) and the
    `scores` seen; None when none is."""
    if th.weak_avg_strict and not _lt(avg, th.weak_avg_max):
        return _fail("weak_avg", f"weak avg {at_least}{avg:.3f} >= {th.weak_avg_max} "
                                 f"(must be below){tail}")
    if not th.weak_avg_strict and not _le(avg, th.weak_avg_max):
        return _fail("weak_avg", f"weak avg {at_least}{avg:.3f} > {th.weak_avg_max}{tail}")
    if th.weak_max_max is not None and not _le(max(scores), th.weak_max_max):
        return _fail("weak_max", f"weak max {max(scores):.3f} > {th.weak_max_max}{tail}")
    if th.weak_no_zero and any(_le(x, 0.0) for x in scores):
        return _fail("weak_zero", f"a weak sample scored 0 (the question may be unanswerable)"
                                  f"{tail}")
    return None


def full_check(
    th: Thresholds, weak_scores: Sequence[float], strong_scores: Sequence[float]
) -> RuleResult:
    """Every rule: the weak ones, then strong_avg_min, strong_avg_below and gap."""
    weak = weak_check(th, weak_scores)
    if not weak.passed:
        return weak
    weak_avg, strong_avg = mean(weak_scores), mean(strong_scores)
    if not _ge(strong_avg, th.strong_avg_min):
        return _fail("strong_avg_min", f"strong avg {strong_avg:.3f} < {th.strong_avg_min}")
    if th.strong_avg_below is not None and not _lt(strong_avg, th.strong_avg_below):
        return _fail(
            "strong_avg_below", f"strong avg {strong_avg:.3f} >= {th.strong_avg_below}"
        )
    gap = strong_avg - weak_avg
    if not _ge(gap, th.min_gap):
        return _fail("gap", f"gap {gap:.3f} (strong {strong_avg:.3f} - weak {weak_avg:.3f})"
                     f" < {th.min_gap}")
    return RuleResult(
        passed=True, detail=f"weak avg {weak_avg:.3f}, strong avg {strong_avg:.3f}, gap {gap:.3f}"
    )


def settled_failure(
    th: Thresholds, scores: Sequence[float], n: int,
    weak_scores: Sequence[float] | None = None,
) -> RuleResult | None:
    """The failing rule when no scores for the n − len(scores) samples left could pass; else None.

    `weak_scores` None: the weak check; given: the strong rules (the weak check passed)."""
    left = n - len(scores)
    if left <= 0 or not scores:
        return None
    low, high = sum(scores) / n, (sum(scores) + left) / n  # the final avg's range
    tail = f" after {len(scores)} of {n} samples"
    if weak_scores is None:  # the final avg is at least `low` (the samples left scoring 0)
        return _weak_failure(th, low, scores, ">= ", tail)
    if not _ge(high, th.strong_avg_min):
        return _fail("strong_avg_min", f"strong avg <= {high:.3f} < {th.strong_avg_min}{tail}")
    if th.strong_avg_below is not None and not _lt(low, th.strong_avg_below):
        return _fail("strong_avg_below",
                     f"strong avg >= {low:.3f} >= {th.strong_avg_below}{tail}")
    weak_avg = mean(weak_scores)
    if not _ge(high - weak_avg, th.min_gap):
        return _fail("gap", f"gap <= {high - weak_avg:.3f} (strong <= {high:.3f} - weak "
                            f"{weak_avg:.3f}) < {th.min_gap}{tail}")
    return None
