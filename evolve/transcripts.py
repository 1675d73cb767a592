"""Solver transcripts of a minibatch, rendered as the text the analyzer reads.

One block per episode, one sub-block per round, every field on one line (newlines folded), in
the format of inner_loop/formats.py, so the analyzer — a model, or the simulated analyzer that
parses that format — can read rounds,
outcomes, scores, the example and the weak solver's first answer. When the whole minibatch does
not fit in `max_chars`, whole episodes are dropped fairly: the shortest episodes are kept first
(so as many episodes as possible are shown, none half-cut), the kept ones stay in minibatch order,
and a last line names the omitted ones.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from inner_loop.formats import EPISODE_HEAD, ROUND_HEAD, TRANSCRIPT_CHARS, field_line

WEAK_ANSWER_CHARS = 300
CHALLENGER_HEAD_CHARS = 120  # enough to see prose or a fence before the JSON


def _line(text: Any) -> str:
    """One line: newlines folded to spaces, None and empty as '-'."""
    if text is None:
        return "-"
    out = " ".join(str(text).splitlines()).strip()
    return out or "-"


def _dump(value: Any) -> Any:
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def _avg(solver_eval: Any) -> str:
    return "-" if solver_eval is None else f"{solver_eval.avg:.2f}"


def _example_lines(example: Any) -> list[str]:
    ex = _dump(example) or {}
    rubric = json.dumps(ex.get("rubric", []), ensure_ascii=False, separators=(", ", ": "))
    return [
        field_line("question_type", _line(ex.get("question_type"))),
        field_line("context", _line(ex.get("context"))),
        field_line("question", _line(ex.get("question"))),
        field_line("reference_answer", _line(ex.get("reference_answer"))),
        field_line("rubric", _line(rubric) if example is not None else "-"),
    ]


def _weak_answer(weak: Any) -> str:
    if weak is None or not weak.samples:
        return "-"
    return _line(weak.samples[0].answer[:WEAK_ANSWER_CHARS])


def render_round(rnd: Any) -> str:
    head = ROUND_HEAD.format(index=rnd.index, outcome=rnd.outcome,
                             failed_rule=_line(rnd.failed_rule), weak_avg=_avg(rnd.weak),
                             strong_avg=_avg(rnd.strong))
    verdict = _line(rnd.verifier_verdict)
    lines = [head, *_example_lines(rnd.example),
             field_line("verifier", f"{verdict} {_line(rnd.verifier_feedback)}"),
             field_line("parse_error", _line(rnd.parse_error)),
             field_line("reason", _line(rnd.reason)),
             field_line("challenger_reply",
                        _line((rnd.challenger_raw or "")[:CHALLENGER_HEAD_CHARS])),
             field_line("weak_answer", _weak_answer(rnd.weak))]
    return "\n".join(lines)


def render_episode(record: Any) -> str:
    head = EPISODE_HEAD.format(paper_id=record.paper_id, status=record.status,
                               rounds=len(record.rounds))
    parts = [head]
    if record.error:
        parts.append(field_line("error", _line(record.error)))
    parts += [render_round(r) for r in record.rounds]
    return "\n".join(parts)


def render_transcripts(records: Sequence[Any], max_chars: int = TRANSCRIPT_CHARS) -> str:
    """The analyzer's view of `records` (EpisodeRecords), at most about `max_chars` long."""
    blocks = [render_episode(r) for r in records]
    budget = max_chars
    kept: set[int] = set()
    for i in sorted(range(len(blocks)), key=lambda i: (len(blocks[i]), i)):
        cost = len(blocks[i]) + 2
        if cost > budget:
            break
        kept.add(i)
        budget -= cost
    text = "\n\n".join(blocks[i] for i in range(len(blocks)) if i in kept)
    omitted = [records[i].paper_id for i in range(len(blocks)) if i not in kept]
    if omitted:
        note = f"(omitted {len(omitted)} longer episode(s) to fit: {', '.join(omitted)})"
        text = f"{text}\n\n{note}" if text else note
    return text
