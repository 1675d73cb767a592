"""The outer loop's policies (`evolve.policy`): does the child beat its parent on validation?

- `strict` (the paper): the child's mean validation pass rate is strictly greater than the
  parent's (means compared exactly, as fractions, so ties are never accepted by rounding).
- `confident`: a paired one-sided test across validation papers. Per paper, the difference of
  mean pass (child − parent); accept only when the lower `confidence` bound of the mean difference,
  d̄ − t(confidence, n−1)·s/√n, is above zero. The Student-t quantile is computed here (no scipy):
  the t CDF through the regularized incomplete beta function (continued fraction, Numerical
  Recipes §6.4), inverted by bisection to ~1e-12.
Both report the child and parent means over all their evaluations.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accepted: bool
    child_mean: float
    parent_mean: float
    detail: str
    policy: Literal["strict", "confident"]
    lower_bound: float | None = None  # confident: the lower confidence bound of the mean difference


def _exact_mean(scores: Sequence[float], who: str) -> Fraction:
    if not scores:
        raise ValueError(f"{who} has no validation scores")
    return sum((Fraction(x) for x in scores), Fraction(0)) / len(scores)


def strict(child_scores: Sequence[float], parent_scores: Sequence[float]) -> Decision:
    """Accept when the child's mean is strictly greater than the parent's."""
    child, parent = _exact_mean(child_scores, "child"), _exact_mean(parent_scores, "parent")
    accepted = child > parent
    detail = (f"child {float(child):.3f} (n={len(child_scores)}) {'>' if accepted else '<='} "
              f"parent {float(parent):.3f} (n={len(parent_scores)})")
    return Decision(accepted=accepted, child_mean=float(child), parent_mean=float(parent),
                    detail=detail, policy="strict")


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b) for 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with `df` degrees of freedom."""
    tail = 0.5 * regularized_beta(df / (df + t * t), df / 2.0, 0.5)
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t with P(T <= t) = p (bisection on t_cdf)."""
    if not 0.0 < p < 1.0 or df <= 0:
        raise ValueError(f"t_quantile needs 0 < p < 1 and df > 0, got p={p}, df={df}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2.0


def _pooled(by_paper: Mapping[str, Sequence[float]]) -> list[float]:
    return [x for scores in by_paper.values() for x in scores]


def confident(child_by_paper: Mapping[str, Sequence[float]], parent_by_paper: Mapping[str, Sequence[float]],
              confidence: float = 0.9) -> Decision:
    """Accept when the paired lower confidence bound of mean(child − parent) per paper is > 0."""
    if not 0.5 <= confidence < 1.0:
        raise ValueError(f"confidence must be in [0.5, 1), got {confidence}")
    child_mean = float(_exact_mean(_pooled(child_by_paper), "child"))
    parent_mean = float(_exact_mean(_pooled(parent_by_paper), "parent"))
    papers = sorted(p for p in set(child_by_paper) & set(parent_by_paper)
                    if child_by_paper[p] and parent_by_paper[p])
    n = len(papers)
    if n < 2:
        return Decision(accepted=False, child_mean=child_mean, parent_mean=parent_mean, policy="confident",
                        detail=f"needs paired scores on at least 2 validation papers, got {n}")
    diffs = [float(_exact_mean(child_by_paper[p], "child") - _exact_mean(parent_by_paper[p], "parent"))
             for p in papers]
    mean_diff = math.fsum(diffs) / n
    sd = math.sqrt(math.fsum((d - mean_diff) ** 2 for d in diffs) / (n - 1))
    t = t_quantile(confidence, n - 1)
    bound = mean_diff - t * sd / math.sqrt(n)
    accepted = bound > 0.0
    detail = (f"paired over {n} papers: mean difference {mean_diff:+.3f}, {confidence:.0%} lower bound "
              f"{bound:+.3f} (t={t:.3f}, df={n - 1}) {'>' if accepted else '<='} 0")
    return Decision(accepted=accepted, child_mean=child_mean, parent_mean=parent_mean, detail=detail,
                    policy="confident", lower_bound=bound)


def decide(policy: str, child_by_paper: Mapping[str, Sequence[float]],
           parent_by_paper: Mapping[str, Sequence[float]], confidence: float = 0.9) -> Decision:
    """Apply the configured policy (EvolveConfig.policy) to per-paper scores."""
    if policy == "strict":
        return strict(_pooled(child_by_paper), _pooled(parent_by_paper))
    if policy == "confident":
        return confident(child_by_paper, parent_by_paper, confidence)
    raise ValueError(f"unknown policy {policy!r}")
