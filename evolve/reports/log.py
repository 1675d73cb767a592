"""`autodata log RUN`: the attempts (summary, diagnosis, decision) or, with --calls, the LLM calls
with their prompts and responses (read back whole from their blobs: evolve/store/texts.py).

`-n K` keeps the K most recent entries; they print oldest first, like `tail`."""

from __future__ import annotations

import json
from typing import Any

from evolve.store import StoreReader

ATTEMPT_STATUSES = ("accepted", "rejected", "invalid", "committing", "in_progress")
TRUNCATE_CHARS = 1500


def attempts(reader: StoreReader, iteration: int | None = None, status: str | None = None,
             n: int | None = None) -> list[dict[str, Any]]:
    """Attempts in iteration order (the seed excluded unless asked for with iteration 0)."""
    where, params = ["(s.candidate_id <> 'seed' OR ? = 0)"], [iteration if iteration is not None else -1]
    if iteration is not None:
        where.append("s.iteration = ?")
        params.append(iteration)
    if status is not None:
        where.append("s.status = ?")
        params.append(status)
    rows = reader.query(
        "SELECT s.iteration, s.candidate_id, s.parent_id, s.status, s.state, s.summary, s.reason, "
        "s.policy, s.child_mean, s.parent_mean, s.commit_sha, s.diagnosis_blob, s.diff_blob, "
        "p.changed_paths_json, i.summary AS outcome, i.finished_at "
        "FROM candidate_status s LEFT JOIN proposals p USING (candidate_id) "
        "LEFT JOIN iterations i ON i.iteration = s.iteration "
        f"WHERE {' AND '.join(where)} ORDER BY s.iteration", params)
    rows = rows[-n:] if n else rows
    for row in rows:
        blob = row.pop("diagnosis_blob")
        row["diagnosis"] = reader.get_blob(blob) if blob else None
        row["changed_paths"] = [p.get("path") for p in json.loads(row.pop("changed_paths_json") or "[]")]
    return rows


def diagnosis_text(diagnosis: str | None, full: bool = False) -> str:
    """An analyzer Diagnosis (JSON) as summary + hypotheses; any other text as it is."""
    if not diagnosis:
        return "-"
    try:
        parsed = json.loads(diagnosis)
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict) or "summary" not in parsed:
        return diagnosis if full else _truncate(diagnosis, 600)
    lines = [str(parsed["summary"])]
    for h in parsed.get("hypotheses") or []:
        if isinstance(h, dict):
            lines.append(f"- [{h.get('category')}] {h.get('target')}: {h.get('change')} "
                         f"(confidence {h.get('confidence')})")
    return "\n".join(lines)


def attempts_text(rows: list[dict[str, Any]], full: bool = False) -> str:
    out = []
    for r in rows:
        scores = ""
        if r["child_mean"] is not None or r["parent_mean"] is not None:
            scores = (f"  at decision: child {_rate(r['child_mean'])} vs parent "
                      f"{_rate(r['parent_mean'])}")
        out.append(f"iteration {r['iteration']}  {r['candidate_id']}  (parent {r['parent_id']})  "
                   f"{r['status'].upper()}{scores}" + (f"  [{r['policy']}]" if r["policy"] else ""))
        out.append(f"  edit:      {r['summary'] or '-'}")
        if r["changed_paths"]:
            out.append(f"  files:     {', '.join(r['changed_paths'])}")
        if r["status"] in ("in_progress", "committing"):
            out.append(f"  state:     {r['state']} (not decided yet)")
        else:
            out.append(f"  decision:  {r['reason'] or '-'}")
        if r["commit_sha"]:
            out.append(f"  commit:    {r['commit_sha']}")
        diag = diagnosis_text(r["diagnosis"], full).splitlines() or ["-"]
        out.append(f"  diagnosis: {diag[0]}")
        out += [f"             {line}" for line in diag[1:]]
        out.append("")
    return "\n".join(out).rstrip() or "no attempts match"


def calls(reader: StoreReader, role: str | None = None, iteration: int | None = None,
          n: int | None = 20) -> list[dict[str, Any]]:
    """The most recent `n` LLM calls (all when n is None), oldest first, with the request
    messages and the response read back from their blobs."""
    where, params = ["TRUE"], []
    if role is not None:
        where.append("role = ?")
        params.append(role)
    if iteration is not None:
        where.append("iteration = ?")
        params.append(iteration)
    limit = f" LIMIT {int(n)}" if n else ""
    rows = reader.query(
        "SELECT call_id, started_at, role, model, endpoint, tag, iteration, candidate_id, "
        "sample_index, duration_ms, attempts, error_kinds, input_tokens, output_tokens, cost_usd, "
        f"cached, simulated, error, request_blob, response_blob FROM llm_calls WHERE {' AND '.join(where)} "
        f"ORDER BY started_at DESC, call_id DESC{limit}", params)
    rows.reverse()
    texts = reader.get_blobs([sha for r in rows for sha in (r["request_blob"], r["response_blob"]) if sha])
    for row in rows:
        row["messages"] = json.loads(texts[row.pop("request_blob")])
        response = row.pop("response_blob")
        row["response"] = json.loads(texts[response]) if response else None
    return rows


def calls_text(rows: list[dict[str, Any]], full: bool = False) -> str:
    out = []
    for r in rows:
        out.append(f"=== {r['started_at']}  {r['role']}  {r['model']}  {r['tag']}  "
                   f"tokens {r['input_tokens']}+{r['output_tokens']}  ${r['cost_usd']:.4f}  "
                   f"{r['duration_ms']:.0f} ms" + ("  cached" if r["cached"] else "")
                   + ("  SIMULATED" if r["simulated"] else ""))
        for m in r["messages"]:
            out.append(f"--- {m.get('role')}")
            out.append(_message_body(m, full))
        response = r["response"]
        out.append("--- response" + (f" ({response.get('finish_reason')})" if response else ""))
        out.append(f"ERROR: {r['error']}" if response is None else _message_body(response, full))
        out.append("")
    return "\n".join(out).rstrip() or "no calls match"


def _message_body(message: dict[str, Any], full: bool) -> str:
    text = message.get("content") or ""
    for call in message.get("tool_calls") or []:
        text += f"\n[tool call {call.get('name')}] {call.get('arguments')}"
    if message.get("tool_call_id"):
        text = f"[result of {message['tool_call_id']}] {text}"
    return text if full else _truncate(text, TRUNCATE_CHARS)


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... {len(text) - limit} more characters; --full shows all]"


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
