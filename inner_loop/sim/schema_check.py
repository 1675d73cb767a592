"""A small JSON Schema checker: does the sim's answer fit the `response_format` a client asked for?

The loopback server (server.py) honours `response_format: {"type": "json_schema"}` by checking
the simulated answer against the schema and answering a clear 400 when it does not fit (it never
rewrites an answer to fit). Covered keywords — the subset structured-output APIs accept and
pydantic's `model_json_schema()` writes: type (one or a list), enum, const, properties,
required, additionalProperties (bool or schema), items, prefixItems, minItems/maxItems,
minLength/maxLength, minimum/maximum/exclusiveMinimum/exclusiveMaximum, anyOf/oneOf/allOf and
local `$ref` (`#/$defs/...`, `#/definitions/...`). Other keywords (format, pattern, title,
description, default) are annotations here and are not checked.
"""

from __future__ import annotations

from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
    "integer": (int,), "number": (int, float), "null": (type(None),),
}


def _is_type(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(name, (object,)))


def _resolve(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $ref is supported, not {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        if not isinstance(node, dict) or part not in node:
            raise ValueError(f"$ref {ref!r} points nowhere")
        node = node[part]
    return node


def problems(value: Any, schema: Any, root: dict[str, Any] | None = None, at: str = "$",
             depth: int = 0) -> list[str]:
    """Why `value` does not fit `schema` (empty when it fits); paths like `$.judgments[2].met`."""
    root = schema if root is None else root
    if schema is True or schema == {}:
        return []
    if schema is False:
        return [f"{at}: not allowed"]
    if not isinstance(schema, dict):
        raise ValueError(f"{at}: a schema must be an object or a boolean")
    if depth > 64:
        raise ValueError("schema nests deeper than 64 levels (a $ref cycle?)")
    if "$ref" in schema:
        return problems(value, _resolve(schema["$ref"], root), root, at, depth + 1)
    out: list[str] = []
    names = schema.get("type")
    if names is not None:
        names = [names] if isinstance(names, str) else list(names)
        if not any(_is_type(value, n) for n in names):
            return [f"{at}: expected {' or '.join(names)}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{at}: {value!r} is not one of {schema['enum']!r}")
    if "const" in schema and value != schema["const"]:
        out.append(f"{at}: expected {schema['const']!r}")
    out += _combinators(value, schema, root, at, depth)
    if isinstance(value, dict):
        out += _object(value, schema, root, at, depth)
    elif isinstance(value, list):
        out += _array(value, schema, root, at, depth)
    elif isinstance(value, str):
        out += _bounds(len(value), schema, "minLength", "maxLength", at, "characters")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out += _numeric(value, schema, at)
    return out


def _combinators(value: Any, schema: dict[str, Any], root: dict[str, Any], at: str,
                 depth: int) -> list[str]:
    out: list[str] = []
    for sub in schema.get("allOf") or []:
        out += problems(value, sub, root, at, depth + 1)
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if options:
            fits = sum(not problems(value, sub, root, at, depth + 1) for sub in options)
            if fits == 0 or (key == "oneOf" and fits > 1):
                out.append(f"{at}: fits {fits} of the {key} alternatives")
    return out


def _object(value: dict[str, Any], schema: dict[str, Any], root: dict[str, Any], at: str,
            depth: int) -> list[str]:
    props = schema.get("properties") or {}
    out = [f"{at}: missing required property {k!r}" for k in schema.get("required") or []
           if k not in value]
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in props:
            out += problems(item, props[key], root, f"{at}.{key}", depth + 1)
        elif extra is False:
            out.append(f"{at}: property {key!r} is not allowed")
        elif isinstance(extra, dict):
            out += problems(item, extra, root, f"{at}.{key}", depth + 1)
    return out


def _array(value: list[Any], schema: dict[str, Any], root: dict[str, Any], at: str,
           depth: int) -> list[str]:
    out = _bounds(len(value), schema, "minItems", "maxItems", at, "items")
    prefix = schema.get("prefixItems") or []
    for i, item in enumerate(value):
        sub = prefix[i] if i < len(prefix) else schema.get("items", True)
        out += problems(item, sub, root, f"{at}[{i}]", depth + 1)
    return out


def _bounds(n: int, schema: dict[str, Any], lo: str, hi: str, at: str, unit: str) -> list[str]:
    out = []
    if lo in schema and n < schema[lo]:
        out.append(f"{at}: {n} {unit}, fewer than {lo} {schema[lo]}")
    if hi in schema and n > schema[hi]:
        out.append(f"{at}: {n} {unit}, more than {hi} {schema[hi]}")
    return out


def _numeric(value: float, schema: dict[str, Any], at: str) -> list[str]:
    checks = (("minimum", lambda b: value >= b), ("maximum", lambda b: value <= b),
              ("exclusiveMinimum", lambda b: value > b), ("exclusiveMaximum", lambda b: value < b))
    return [f"{at}: {value} violates {name} {schema[name]}" for name, ok in checks
            if isinstance(schema.get(name), (int, float)) and not ok(schema[name])]
