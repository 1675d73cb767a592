"""`Strict`, the one base of the project's pydantic models, and `first_error`, the one way a
pydantic error is told to a user (or to a harness, or in a record): one line.

Unknown fields are errors (`extra="forbid"`): a record, a manifest, a model's JSON reply or a
settings file with a misspelt or smuggled key is refused, never silently dropped.

`field_error` is the one reader of a `ValidationError` (its first error: where, kind, message on
one line, the value, how many errors in all); `first_error` formats it. A site that must answer
in someone else's vocabulary (the simulated endpoint speaks OpenAI's error texts, a corpus load
names problem kinds) words the `FieldError` itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class FieldError:
    """The first error of a ValidationError."""

    loc: tuple[str | int, ...]  # e.g. ("rubric", 3, "weight"); () when the value itself is wrong
    kind: str  # pydantic's error type: "missing", "extra_forbidden", "greater_than_equal", ...
    message: str  # pydantic's message, on one line
    value: Any  # the input that failed
    count: int  # errors in all

    @property
    def where(self) -> str:
        """The dotted path, `rubric.3.weight`, or `(top level)`."""
        return ".".join(str(x) for x in self.loc) or "(top level)"


def field_error(exc: ValidationError) -> FieldError:
    err = exc.errors()[0]
    return FieldError(loc=tuple(err["loc"]), kind=err["type"],
                      message=" ".join(str(err["msg"]).split()), value=err.get("input"),
                      count=exc.error_count())


_BOUND = {"greater_than": ("gt", ">"), "greater_than_equal": ("ge", ">="),
          "less_than": ("lt", "<"), "less_than_equal": ("le", "<=")}


def _into(annotation: Any, rest: list[str | int]) -> Any:
    """The type a path continues into after a field of `annotation`: through `X | None`, and
    through a dict's values or a list's items (consuming the key or index from `rest`)."""
    while True:
        origin = get_origin(annotation)
        if origin in (Union, UnionType):
            inner = [a for a in get_args(annotation) if a is not NoneType]
            if len(inner) != 1:
                return None
            annotation = inner[0]
        elif origin in (dict, list) and rest:
            rest.pop(0)
            annotation = get_args(annotation)[-1]
        else:
            return annotation


def allowed_range(loc: tuple[str | int, ...], model: type[BaseModel]) -> str | None:
    """The allowed range of the field at `loc` of `model`, from its constraints (">= 1",
    "> 0 and < 1"); None when the path names no constrained field."""
    rest, node, field = list(loc), model, None
    while rest:
        fields = getattr(node, "model_fields", None)
        part = rest.pop(0)
        if not isinstance(fields, dict) or str(part) not in fields:
            return None
        field = fields[str(part)]
        node = _into(field.annotation, rest)
    if field is None:
        return None
    bounds = [f"{sym} {getattr(m, key)}" for m in field.metadata for key, sym in _BOUND.values()
              if getattr(m, key, None) is not None]
    return " and ".join(bounds) or None


def first_error(exc: ValidationError, *, model: type[BaseModel] | None = None,
                count: bool = False) -> str:
    """`loc.path: message` of the first pydantic error, one line, e.g. `rubric.3.weight: Input
    should be a valid number` (`(top level)` when the value itself is wrong).

    `model`: the class validated; a number out of its field's bounds then reads `key: must be
    >= 1, got 0` (the range from the field's constraints), inf or nan `key: must be a finite
    number, got inf`.
    `count`: `(3 errors)` appended when there is more than one."""
    err = field_error(exc)
    bound = allowed_range(err.loc, model) if model is not None else None
    if (bound and err.kind in _BOUND) or (model is not None and err.kind == "finite_number"):
        got = " ".join(repr(err.value)[:60].split())
        return f"{err.where}: must be {bound or 'a finite number'}, got {got}"
    more = f" ({err.count} errors)" if count and err.count > 1 else ""
    return f"{err.where}: {err.message}{more}"
