"""A hand-edited config.json is checked against the configuration DuckDB recorded at the start.

What defines the run (seed, run id, split, corpus, validation papers, seed harness, preset and
thresholds, models and endpoints, sampling, the inner loop and the policy) must not
change: a resume that silently changed it would splice two different runs into one lineage. What
only limits or paces the work may change, the documented way to continue a budget stop:

    config.budget.*                    USD, call and wall-time budgets
    config.evolve.iterations           the iteration budget
    config.evolve.concurrency          iterations in flight
    config.inner_loop.concurrency      episodes in flight
    config.retry.*                     retries and backoff
    config.roles.<role>.max_concurrency / timeout_s / api_key_env
    config.executor.*                  where episodes run (local threads or a Ray cluster)

A key recorded under its old name (evolve/config.py `RENAMED`) is compared under its new one.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from inner_loop.errors import UserError
from evolve.config import RENAMED

MAY_CHANGE = ("config.budget.*", "config.evolve.iterations", "config.evolve.concurrency",
              "config.inner_loop.concurrency", "config.retry.*", "config.roles.*.max_concurrency",
              "config.roles.*.timeout_s", "config.roles.*.api_key_env", "config.executor.*")


class RunChanged(UserError):
    """config.json was changed in a key that defines the run."""


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested JSON data as `a.b.c` -> leaf value (lists are leaves)."""
    if isinstance(data, dict) and data:
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data}


def _renamed(flat: dict[str, Any]) -> dict[str, Any]:
    names = {f"config.{a}": f"config.{b}" for a, b in RENAMED.items()}
    return {names.get(key, key): value for key, value in flat.items()}


def differing_key(recorded: dict[str, Any], current: dict[str, Any]) -> str | None:
    """The first key (sorted) that defines the run and differs, or None."""
    old, new = _renamed(flatten(recorded)), _renamed(flatten(current))
    for key in sorted(set(old) | set(new)):
        if old.get(key, "<absent>") == new.get(key, "<absent>"):
            continue
        if any(fnmatch.fnmatchcase(key, pattern) for pattern in MAY_CHANGE):
            continue
        return key
    return None


def check_unchanged(config_path: str, recorded_run_id: str, recorded: dict[str, Any],
                    current: dict[str, Any]) -> None:
    """Refuse (one line naming the key) a config.json that changed what defines the run."""
    if current.get("run_id") != recorded_run_id:
        raise RunChanged(f"{config_path}: run_id is {current.get('run_id')!r}, the run was "
                         f"recorded as {recorded_run_id!r}; put it back to resume")
    key = differing_key(recorded, current)
    if key is not None:
        old = _renamed(flatten(recorded)).get(key, "<absent>")
        new = _renamed(flatten(current)).get(key, "<absent>")
        raise RunChanged(f"{config_path}: {key} is {new!r}, the run was recorded with {old!r}; "
                         f"only budgets, iterations, concurrency, retries and timeouts may change "
                         f"on resume (start a new run for the rest)")
