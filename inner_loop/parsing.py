"""Protected, lenient parsing of model output at the edge (failures are data, not crashes).

Lenient about *where* the JSON is: prose before or after it and ``` fences are fine; the first
balanced top-level `{...}` object is taken. Strict about *what* it is: that object must be valid
JSON as written. Nothing is repaired (a trailing comma, single quotes or a truncated object is a
ParseFailure with a one-line reason), because a repaired reply would hide a harness defect from
the outer loop.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, ValidationError

from inner_loop.example import Example
from inner_loop.strict import first_error


class ParseFailure(Exception):
    """Model output that does not parse; `reason` is one line, fit for logs and feedback."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)```", re.DOTALL)


def _strip_fences(text: str) -> str:
    """The body of the first fenced block that holds a `{`, else the text unchanged."""
    for match in _FENCE.finditer(text):
        if "{" in match.group(1):
            return match.group(1)
    return text


def _balanced_end(text: str, start: int) -> int | None:
    """Index one past the `}` closing the `{` at `start` (JSON strings respected), or None."""
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def extract_json_object(text: str | None) -> dict[str, Any]:
    """The first balanced top-level JSON object in `text`, parsed without any repair."""
    if text is None or not text.strip():
        raise ParseFailure("empty reply")
    body = _strip_fences(text)
    start = body.find("{")
    if start < 0:
        raise ParseFailure("no JSON object in reply")
    end = _balanced_end(body, start)
    if end is None:
        raise ParseFailure("unbalanced braces: the JSON object is never closed (truncated?)")
    try:
        value = json.loads(body[start:end])
    except json.JSONDecodeError as exc:
        raise ParseFailure(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:  # model-written text may nest deeper than the decoder recurses
        raise ParseFailure("invalid JSON: nested too deep to decode") from None
    return value


def parse_example(text_or_dict: str | dict[str, Any]) -> Example:
    """An Example from a model reply (text with a JSON object) or an already-decoded dict."""
    data = text_or_dict if isinstance(text_or_dict, dict) else extract_json_object(text_or_dict)
    try:
        return Example.model_validate(data)
    except ValidationError as exc:
        raise ParseFailure(first_error(exc)) from None


def parse_example_arg(value: Any) -> tuple[Example | None, str | None]:
    """The example a harness passed (JSON object or text), or (None, reason)."""
    if not isinstance(value, (str, dict)):
        return None, "the example must be a JSON object or a string holding one"
    try:
        return parse_example(value), None
    except ParseFailure as exc:
        return None, exc.reason


class _Reply(BaseModel):
    """A protected role's reply: field types are strict, extra fields (a `reason`) are ignored."""

    model_config = ConfigDict(extra="ignore")


class _Judgment(_Reply):
    item: StrictInt
    met: StrictBool


class _JudgeReply(_Reply):
    judgments: list[_Judgment]


class VerifierReply(_Reply):
    verdict: Literal["PASS", "FAIL"]
    problems: list[str] = []


def parse_judgments(text: str | None, n_items: int) -> list[bool]:
    """The judge's verdicts, ordered by item 1..n_items; every item exactly once."""
    try:
        reply = _JudgeReply.model_validate(extract_json_object(text))
    except ValidationError as exc:
        raise ParseFailure(first_error(exc)) from None
    numbers = [j.item for j in reply.judgments]
    if sorted(numbers) != list(range(1, n_items + 1)):
        raise ParseFailure(
            f"judge returned items {numbers}; expected each of 1..{n_items} exactly once"
        )
    by_item = {j.item: j.met for j in reply.judgments}
    return [by_item[n] for n in range(1, n_items + 1)]


def parse_verifier_reply(text: str | None) -> VerifierReply:
    """`{"verdict": "PASS"|"FAIL", "problems": [...]}`; the verdict's case is not significant."""
    data = extract_json_object(text)
    if isinstance(data.get("verdict"), str):
        data = {**data, "verdict": data["verdict"].strip().upper()}
    try:
        return VerifierReply.model_validate(data)
    except ValidationError as exc:
        raise ParseFailure(first_error(exc)) from None


def parse_verdict(text: str | None) -> str | None:
    """PASS/FAIL of a verifier reply: a JSON `verdict` field, else the first PASS/FAIL word."""
    if not text:
        return None
    try:
        verdict = extract_json_object(text).get("verdict")
        if isinstance(verdict, str) and verdict.strip().upper() in ("PASS", "FAIL"):
            return verdict.strip().upper()
    except (ParseFailure, AttributeError):
        pass  # not JSON: look for the word
    match = re.search(r"\b(PASS|FAIL)\b", text)
    return match.group(1) if match else None
