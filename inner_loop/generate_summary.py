"""The numbers of `generate`'s summary.json, tallied one episode at a time.

`Tally.add(record)` keeps only counts and exact sums (floats are summed as fractions, so the
result does not depend on the order episodes finished in, and equals the sum over a list), so a
corpus of any size is summarised in constant memory. `contribution(record)` is what one record
adds, small enough to keep per paper on disk (generate's resume index) and add again later.
"""

from __future__ import annotations

import json
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable

from inner_loop.thresholds import recorded_rules
from inner_loop.config import Config
from inner_loop.episode import OUTCOMES, EpisodeRecord


def contribution(record: EpisodeRecord) -> dict[str, Any]:
    """What one episode adds to the summary (JSON-able, a few hundred bytes)."""
    rnd = record.accepted_round_record() if record.accepted else None
    return {"accepted": bool(record.accepted), "rounds": len(record.rounds),
            "accepted_round": record.accepted_round or 0,
            "weak": rnd.weak.avg if rnd and rnd.weak else None,
            "strong": rnd.strong.avg if rnd and rnd.strong else None,
            "outcomes": dict(Counter(r.outcome for r in record.rounds)),
            "status": record.status, "confinement": record.confinement,
            "usage": {role: u.model_dump() for role, u in record.usage.items()}}


class _Sum:
    """An exact sum of floats and ints (order-independent), as a float or int at the end."""

    def __init__(self) -> None:
        self.total, self.n, self.floats = Fraction(0), 0, False

    def add(self, value: float) -> None:
        self.total += Fraction(value)
        self.n += 1
        self.floats = self.floats or isinstance(value, float)

    def value(self) -> float | int:
        return float(self.total) if self.floats else int(self.total)

    def mean(self) -> float | None:
        return float(self.total / self.n) if self.n else None


class Tally:
    """Counts and exact sums over episode contributions."""

    def __init__(self) -> None:
        self.papers = self.accepted = 0
        self.rounds, self.accepted_rounds = _Sum(), _Sum()
        self.weak, self.strong, self.gap = _Sum(), _Sum(), _Sum()
        self.outcomes: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.confinement: set[str] = set()
        self.usage: dict[str, dict[str, _Sum]] = {}

    def add(self, record: EpisodeRecord) -> None:
        self.add_contribution(contribution(record))

    def add_contribution(self, c: dict[str, Any]) -> None:
        self.papers += 1
        self.rounds.add(float(c["rounds"]))
        if c["accepted"]:
            self.accepted += 1
            self.accepted_rounds.add(float(c["accepted_round"]))
            weak, strong = c["weak"], c["strong"]
            if weak is not None:
                self.weak.add(weak)
            if strong is not None:
                self.strong.add(strong)
            if weak is not None and strong is not None:
                self.gap.add(strong - weak)
        self.outcomes.update(c["outcomes"])
        self.statuses[c["status"]] += 1
        self.confinement.add(c["confinement"])
        for role, usage in c["usage"].items():
            sums = self.usage.setdefault(role, {})
            for key, value in usage.items():
                sums.setdefault(key, _Sum()).add(value)

    def numbers(self) -> dict[str, Any]:
        """The summary's numbers over every contribution added."""
        return {
            "papers": self.papers, "accepted": self.accepted,
            "acceptance_rate": self.accepted / self.papers if self.papers else None,
            "mean_rounds": self.rounds.mean(),
            "mean_rounds_accepted": self.accepted_rounds.mean(),
            "weak_avg": self.weak.mean(), "strong_avg": self.strong.mean(),
            "gap": self.gap.mean(),
            "failure_counts": {o: self.outcomes[o] for o in OUTCOMES if self.outcomes[o]},
            "statuses": dict(sorted(self.statuses.items())),
            "confinement": sorted(self.confinement),
            "episode_usage": {role: {k: s.value() for k, s in sums.items()}
                              for role, sums in sorted(self.usage.items())},
        }


def summarise(tally: Tally, *, config: Config, usage: dict[str, Any], method: str,
              harness_dir: Path, harness_version: str | None, duration_s: float,
              resumed: int) -> dict[str, Any]:
    """summary.json: the tally's numbers, the run's usage and settings."""
    return {**tally.numbers(), "usage": usage, **recorded_rules(config),
            "method": method, "harness_dir": str(harness_dir), "harness_version": harness_version,
            "config": config.public_dump(), "simulated": config.simulated,
            "duration_s": duration_s, "resumed_episodes": resumed}


def summarise_run(records: Iterable[EpisodeRecord], *, config: Config, usage: dict[str, Any],
                  method: str, harness_dir: Path, harness_version: str | None,
                  duration_s: float, resumed: int) -> dict[str, Any]:
    """summary.json over a sequence of episode records."""
    tally = Tally()
    for record in records:
        tally.add(record)
    return summarise(tally, config=config, usage=usage, method=method, harness_dir=harness_dir,
                     harness_version=harness_version, duration_s=duration_s, resumed=resumed)


def _add_usage(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Field-wise sum of two role-usage dicts (numbers added, error counts merged)."""
    out = dict(a)
    for key, value in b.items():
        if isinstance(value, dict):
            merged = dict(a.get(key) or {})
            for k, v in value.items():
                merged[k] = merged.get(k, 0) + v
            out[key] = merged
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = a.get(key, 0) + value
    return out


def cumulative_usage(snapshot: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """This invocation's accounting snapshot plus the usage an earlier (resumed) summary held."""
    if not previous:
        return snapshot
    roles = dict(previous.get("roles") or {})
    for role, usage in snapshot["roles"].items():
        roles[role] = _add_usage(roles.get(role) or {}, usage)
    return {**snapshot, "roles": dict(sorted(roles.items())),
            "total": _add_usage(previous.get("total") or {}, snapshot["total"]),
            "elapsed_s": snapshot["elapsed_s"] + float(previous.get("elapsed_s") or 0.0)}


def previous_usage(path: Path) -> dict[str, Any] | None:
    """The usage an earlier invocation recorded in summary.json (None if it never finished)."""
    try:
        usage = json.loads(path.read_text(encoding="utf-8")).get("usage")
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return usage if isinstance(usage, dict) and isinstance(usage.get("roles"), dict) else None
