"""Pass-rate estimates a paper can report: papers are the unit, intervals by paired bootstrap.

A candidate's pass rate on a set of papers is the mean over papers of its per-paper pass rate
(the mean of its 0/1 outcomes over that paper's repeats; with equal repeats per paper this is the
pooled mean). Its 95 % interval is a **percentile bootstrap over papers**: the papers are drawn
with replacement `BOOTSTRAP_RESAMPLES` times and the interval is the 2.5th and 97.5th percentile
of the resampled means, so the interval covers the spread between papers as well as the sampling
noise of the solvers. A difference between two candidates is **paired**: per paper scored by both,
d = rate(candidate) − rate(baseline), bootstrapped the same way (the same papers are drawn for
both, which removes the papers' shared difficulty from the interval).

The resampling rng is seeded from the data (candidate ids and paper ids), so the same
evaluations always give the same interval.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

BOOTSTRAP_RESAMPLES = 10_000
LEVEL = 0.95
METHOD = "percentile bootstrap over papers (10,000 resamples); differences paired by paper"


class Estimate(BaseModel):
    """A pass rate (or a paired difference) with its 95 % interval."""

    model_config = ConfigDict(extra="forbid")

    mean: float
    low: float
    high: float
    n_papers: int
    n_evaluations: int

    def text(self, signed: bool = False) -> str:
        f = "{:+.1%}" if signed else "{:.1%}"
        return (f"{f.format(self.mean)} [{f.format(self.low)}, {f.format(self.high)}] "
                f"({self.n_papers} papers, {self.n_evaluations} episodes)")


def per_paper(by_paper: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """paper_id -> the mean of its outcomes (papers without any outcome are left out)."""
    return {p: float(np.mean(v)) for p, v in sorted(by_paper.items()) if len(v)}


def _rng(*keys: object) -> np.random.Generator:
    digest = hashlib.sha256(repr(keys).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def _bootstrap(values: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    n = len(values)
    if n == 1:
        return float(values[0]), float(values[0])
    means = values[rng.integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))].mean(axis=1)
    tail = (1.0 - LEVEL) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high)


def pass_rate(by_paper: Mapping[str, Sequence[float]], key: str = "") -> Estimate | None:
    """The pass rate over papers with its interval; None when nothing was scored."""
    rates = per_paper(by_paper)
    if not rates:
        return None
    values = np.array(list(rates.values()))
    low, high = _bootstrap(values, _rng("rate", key, tuple(rates)))
    return Estimate(mean=float(values.mean()), low=low, high=high, n_papers=len(values),
                    n_evaluations=sum(len(v) for v in by_paper.values()))


def paired_difference(candidate: Mapping[str, Sequence[float]],
                      baseline: Mapping[str, Sequence[float]], key: str = "") -> Estimate | None:
    """mean over shared papers of rate(candidate) − rate(baseline), paired bootstrap interval."""
    a, b = per_paper(candidate), per_paper(baseline)
    shared = sorted(set(a) & set(b))
    if not shared:
        return None
    diffs = np.array([a[p] - b[p] for p in shared])
    low, high = _bootstrap(diffs, _rng("diff", key, tuple(shared)))
    n = sum(len(candidate[p]) + len(baseline[p]) for p in shared)
    return Estimate(mean=float(diffs.mean()), low=low, high=high, n_papers=len(shared),
                    n_evaluations=n)
