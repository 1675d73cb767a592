"""The outer loop's configuration: the `[evolve]` section and the schema of a whole file.

`Config` is the inner loop's configuration (inner_loop/config.py: roles, budget, retry, cache,
inner_loop, sim, executor) with the outer loop's section added. The package names it as the
entry point `autodata.config` (pyproject.toml), so `inner_loop.config.load_config` validates a
file's `[evolve]` section too while inner_loop never imports evolve: one call loads every
section, as before. `load_config` here is that call with the schema named. `ROLES` are the model
roles the outer loop calls (evolve/analyzer.py, evolve/implementer.py).

Renamed keys are still read (`RENAMED`): `evolve.acceptance` is the old name of `evolve.policy`
(the rule that accepts a child harness over its parent; "thresholds" are the rules an example
is judged by). A file, a `--set` or a run's config.json may use either, not both.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from inner_loop import config as inner

ROLES: tuple[str, ...] = ("analyzer", "implementer")
RENAMED: dict[str, str] = {"evolve.acceptance": "evolve.policy"}  # old key -> its name now


class EvolveConfig(inner.Strict):
    """`[evolve]`: the outer loop's settings (`--set evolve.<field>=...`)."""

    iterations: int = Field(default=12, ge=0)
    concurrency: int = Field(default=2, ge=1)
    minibatch: int = Field(default=6, ge=1)
    repeats: int = Field(default=1, ge=1)
    selection_temperature: float = Field(default=0.1, gt=0)
    policy: Literal["strict", "confident"] = "strict"  # evolve/policy.py
    confidence: float = Field(default=0.9, gt=0, lt=1)
    racing: bool = True  # strict only: stop scoring a child once it can no longer beat its parent
    share_calls: bool = True  # child and parent scoring send an identical request once
    # End of run: the top `final_top` accepted candidates by tally and the seed, re-evaluated
    # `final_repeats` times on the validation papers with fresh repeats (0: none; evolve/final.py)
    final_repeats: int = Field(default=4, ge=0, le=1000)
    final_top: int = Field(default=2, ge=1, le=100)

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        """An old key read as its new name (`RENAMED`); both at once is an error."""
        if not isinstance(data, dict):
            return data
        for old, new in RENAMED.items():
            old, new = old.removeprefix("evolve."), new.removeprefix("evolve.")
            if old in data:
                if new in data:
                    raise ValueError(f"evolve.{old} is the old name of evolve.{new}: set one")
                data = {**{k: v for k, v in data.items() if k != old}, new: data[old]}
        return data


class Config(inner.Config):
    """Every section of a configuration file: the inner loop's and `evolve`."""

    evolve: EvolveConfig = Field(default_factory=EvolveConfig)


def load_config(path: str | None = None, overrides: list[str] | None = None) -> Config:
    """A configuration file (None: every default) with `--set` overrides, every section."""
    config = inner.load_config(path, overrides, model=Config)
    assert isinstance(config, Config)
    return config
