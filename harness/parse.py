"""Extract the challenger's example from its reply."""

import json


def parse_example(text):
    """Return (example dict, None) or (None, error). Accepts a bare JSON object or a ```json fence."""
    body = (text or "").strip()
    if body.startswith("```"):
        body = body.strip("`")
        body = body[4:] if body.startswith("json") else body
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        return None, f"the reply is not valid JSON ({exc.msg} at line {exc.lineno})"
    if not isinstance(data, dict):
        return None, "the reply is not a JSON object"
    return data, None
