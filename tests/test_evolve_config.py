"""The `[evolve]` section belongs to evolve (evolve/config.py) and one `load_config` call still
loads every section: inner_loop validates against the schema the package names as the entry point
`autodata.config`, without importing evolve."""

from __future__ import annotations

from pathlib import Path

import pytest

from inner_loop import config as inner
from inner_loop.roles import ROLES as ALL_ROLES
from evolve import config as outer

ROOT = Path(__file__).resolve().parents[1]


def test_one_call_loads_every_section_of_a_file():
    config = inner.load_config(ROOT / "configs" / "paper.toml")
    assert inner.schema() is outer.Config and isinstance(config, outer.Config)
    assert config.evolve.minibatch == 10 and config.inner_loop.max_rounds > 0
    assert outer.load_config(None, ["evolve.iterations=3"]).evolve.iterations == 3


def test_the_inner_loop_alone_knows_no_evolve_section():
    assert "evolve" not in inner.Config.model_fields
    with pytest.raises(inner.ConfigError, match="evolve: Extra inputs are not permitted"):
        inner.load_config(None, ["evolve.iterations=3"], model=inner.Config)


def test_a_misspelt_section_or_key_is_still_refused():
    for bad in ("evolv.iterations=3", "evolve.iteration=3"):
        with pytest.raises(inner.ConfigError, match="Extra inputs are not permitted"):
            inner.load_config(None, [bad])


def test_errors_in_the_evolve_section_name_their_range():
    with pytest.raises(inner.ConfigError, match=r"evolve\.confidence: must be > 0 and < 1, got 5"):
        inner.load_config(None, ["evolve.confidence=5"])


def test_the_outer_loops_roles_are_roles_of_the_model_seam():
    assert set(outer.ROLES) <= set(ALL_ROLES)
    assert set(outer.ROLES) == {"analyzer", "implementer"}
