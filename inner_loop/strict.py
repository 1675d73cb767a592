"""`Strict`, the one base of the project's pydantic models, and `first_error`, the one way a
pydantic error is told to a user (or to a harness, or in a record): one line.

Unknown fields are errors (`extra="forbid"`): a record, a manifest, a model's JSON reply or a
settings file with a misspelt or smuggled key is refused, never silently dropped.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def first_error(exc: ValidationError) -> str:
    """`loc.path: message` of the first pydantic error, e.g. `rubric.3.weight: Input should...`
    (`(top level)` when the value itself is wrong). inner_loop/config.py adds the allowed range
    of a number out of bounds."""
    err = exc.errors()[0]
    where = ".".join(str(x) for x in err["loc"]) or "(top level)"
    return f"{where}: {err['msg']}"
