"""The one error formatter (`inner_loop.strict`): one line, the path, the allowed range.

Attacks: a validator's message over several lines, an error at the top level, a range behind a
dict, an optional section and a list, inf, a bound error on a field without bounds, and many
errors at once."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field, ValidationError, field_validator

from inner_loop.strict import Strict, allowed_range, field_error, first_error


class Role(Strict):
    temperature: float = Field(default=1.0, ge=0, le=2)


class Section(Strict):
    share: float = Field(default=0.5, gt=0, lt=1)


class Settings(Strict):
    roles: dict[str, Role] = {}
    section: Section | None = None
    counts: list[Annotated[int, Field(ge=0)]] = []
    name: str = "x"

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if v == "bad":
            raise ValueError("first line\n   second   line")
        return v


def error(data) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        Settings.model_validate(data)
    return info.value


def test_a_multi_line_message_is_one_line():
    line = first_error(error({"name": "bad"}))
    assert line == "name: Value error, first line second line"


def test_the_top_level_is_named():
    assert first_error(error([1, 2])).startswith("(top level): ")


@pytest.mark.parametrize("data,line", [
    ({"roles": {"judge": {"temperature": 5}}},
     "roles.judge.temperature: must be >= 0 and <= 2, got 5"),
    ({"section": {"share": 1}}, "section.share: must be > 0 and < 1, got 1"),
    ({"roles": {"judge": {"temperature": float("inf")}}},
     "roles.judge.temperature: must be >= 0 and <= 2, got inf"),
])
def test_the_range_is_found_through_dicts_and_optional_sections(data, line):
    assert first_error(error(data), model=Settings) == line


def test_without_the_model_the_message_is_pydantic_s():
    assert first_error(error({"section": {"share": 1}})) == \
        "section.share: Input should be less than 1"


def test_a_bound_without_a_field_range_keeps_pydantic_s_message():
    """The bound sits on the list's items, not on a field: no range to name, so no
    'must be a finite number' for a number that is finite."""
    line = first_error(error({"counts": [1, -1]}), model=Settings)
    assert line == "counts.1: Input should be greater than or equal to 0"


def test_the_count_is_told_only_when_asked():
    exc = error({"name": "bad", "section": {"share": "x"}, "extra": 1})
    assert field_error(exc).count == 3
    assert first_error(exc) == "section.share: Input should be a valid number, unable to " \
        "parse string as a number"
    assert first_error(exc, count=True) == first_error(exc) + " (3 errors)"


def test_field_error_reads_the_first_error():
    err = field_error(error({"roles": {"judge": {"temperature": 5}}}))
    assert (err.loc, err.kind, err.value, err.where) == (
        ("roles", "judge", "temperature"), "less_than_equal", 5, "roles.judge.temperature")


def test_allowed_range_of_unknown_paths_is_none():
    assert allowed_range(("nope",), Settings) is None
    assert allowed_range(("name",), Settings) is None
    assert allowed_range((), Settings) is None
    assert allowed_range(("roles", "judge", "temperature"), Settings) == ">= 0 and <= 2"
