"""Table 1 of the paper from two `generate` output directories, side by side.

A `generate` directory holds `examples.jsonl` (accepted examples: `paper_id`, `example`, `weak`
and `strong` SolverEval dumps, `rounds_used`), `episodes.jsonl` (one EpisodeRecord per paper,
whose `rounds[]` carry an `outcome`) and `summary.json` (`simulated`, `usage` — the LLM client's
accounting snapshot). `run_stats` reads one directory into RunStats; every number is computed
here from those records, never copied from a summary the harness wrote.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from inner_loop.errors import UserError
from inner_loop.evaluation import SolverEval
from inner_loop.example import Example
from inner_loop.strict import Strict, first_error

OUTCOMES = ("accepted", "too_easy", "failed_on_strong", "failed_quality_check", "parse_error",
            "failed_final_guard", "abandoned")


class AcceptedRow(BaseModel):
    """The fields of an examples.jsonl line that Table 1 needs (other fields are allowed)."""

    paper_id: str
    example: Example
    weak: SolverEval
    strong: SolverEval
    rounds_used: int


class RunStats(Strict):
    dir: str
    simulated: bool
    papers: int
    accepted: int
    acceptance_rate: float | None  # accepted / papers
    weak_avg: float | None  # means over accepted examples
    strong_avg: float | None
    gap: float | None
    rounds_per_accepted: float | None
    question_words: float | None
    context_words: float | None
    rubric_items: float | None
    scored_by_both: int  # examples (rounds) that both solvers answered, accepted or not
    all_weak_avg: float | None  # means over every example both solvers answered: the raw data
    all_strong_avg: float | None  # (for CoT: every example; the paper's Table 1 baseline row)
    all_gap: float | None
    failure_reasons: dict[str, int]  # round outcome -> count, over every round of every episode
    calls: int | None
    cost_usd: float | None


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{n}: not a JSON line ({exc.msg})") from None
        if not isinstance(row, dict):
            raise UserError(f"{path}:{n}: expected a JSON object per line")
        rows.append(row)
    return rows


def _files(run_dir: Path) -> tuple[Path, Path, Path]:
    if not run_dir.is_dir():
        raise UserError(f"not a directory: {run_dir}")
    paths = tuple(run_dir / name for name in ("examples.jsonl", "episodes.jsonl", "summary.json"))
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise UserError(f"{run_dir}: missing {', '.join(missing)} (is it a `generate` output?)")
    return paths  # type: ignore[return-value]


def _accepted_rows(path: Path) -> list[AcceptedRow]:
    out = []
    for n, row in enumerate(_read_jsonl(path), start=1):
        try:
            out.append(AcceptedRow.model_validate(row))
        except ValidationError as exc:
            raise UserError(f"{path}: example {n}: {first_error(exc)}") from None
    return out


def _failure_reasons(episodes: list[dict[str, Any]]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for episode in episodes:
        for rnd in episode.get("rounds") or []:
            outcome = rnd.get("outcome")
            if outcome and outcome != "accepted":
                counts[str(outcome)] += 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _scored_by_both(episodes: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """(weak avg, strong avg) of every round that both solvers answered."""
    pairs = []
    for episode in episodes:
        for rnd in episode.get("rounds") or []:
            weak, strong = rnd.get("weak") or {}, rnd.get("strong") or {}
            if weak.get("avg") is not None and strong.get("avg") is not None:
                pairs.append((float(weak["avg"]), float(strong["avg"])))
    return pairs


def _usage_totals(summary: dict[str, Any]) -> tuple[int | None, float | None]:
    usage = summary.get("usage")
    if not isinstance(usage, dict):
        return None, None
    total = usage.get("total")
    if not isinstance(total, dict):
        roles = usage.get("roles") or {}
        total = {"calls": sum(int(r.get("calls", 0)) for r in roles.values()),
                 "cost_usd": sum(float(r.get("cost_usd", 0.0)) for r in roles.values())}
    return int(total.get("calls", 0)), float(total.get("cost_usd", 0.0))


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def run_stats(run_dir: str | Path) -> RunStats:
    """Table 1 statistics of one `generate` output directory."""
    run_dir = Path(run_dir)
    examples_path, episodes_path, summary_path = _files(run_dir)
    accepted = _accepted_rows(examples_path)
    episodes = _read_jsonl(episodes_path)
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{summary_path}: invalid JSON ({exc.msg})") from None
    calls, cost = _usage_totals(summary)
    both = _scored_by_both(episodes)
    weak = [r.weak.avg for r in accepted]
    strong = [r.strong.avg for r in accepted]
    return RunStats(
        dir=str(run_dir), simulated=bool(summary.get("simulated", False)),
        papers=len(episodes), accepted=len(accepted),
        acceptance_rate=len(accepted) / len(episodes) if episodes else None,
        weak_avg=_mean(weak), strong_avg=_mean(strong),
        gap=_mean([s - w for s, w in zip(strong, weak, strict=True)]),
        rounds_per_accepted=_mean([float(r.rounds_used) for r in accepted]),
        question_words=_mean([float(len(r.example.question.split())) for r in accepted]),
        context_words=_mean([float(len(r.example.context.split())) for r in accepted]),
        rubric_items=_mean([float(len(r.example.rubric)) for r in accepted]),
        scored_by_both=len(both), all_weak_avg=_mean([w for w, _ in both]),
        all_strong_avg=_mean([s for _, s in both]), all_gap=_mean([s - w for w, s in both]),
        failure_reasons=_failure_reasons(episodes), calls=calls, cost_usd=cost,
    )


# (label, RunStats field, format) of the rows of Table 1, in the paper's order
TABLE_ROWS: tuple[tuple[str, str, str], ...] = (
    ("papers", "papers", "{:d}"),
    ("accepted examples", "accepted", "{:d}"),
    ("acceptance rate", "acceptance_rate", "{:.1%}"),
    ("weak solver avg", "weak_avg", "{:.3f}"),
    ("strong solver avg", "strong_avg", "{:.3f}"),
    ("gap (strong - weak)", "gap", "{:.3f}"),
    ("examples both solvers answered", "scored_by_both", "{:d}"),
    ("  weak avg (all of them)", "all_weak_avg", "{:.3f}"),
    ("  strong avg (all of them)", "all_strong_avg", "{:.3f}"),
    ("  gap (all of them)", "all_gap", "{:.3f}"),
    ("rounds per accepted example", "rounds_per_accepted", "{:.2f}"),
    ("question length (words)", "question_words", "{:.1f}"),
    ("context length (words)", "context_words", "{:.1f}"),
    ("rubric items", "rubric_items", "{:.1f}"),
    ("LLM calls", "calls", "{:d}"),
    ("cost (USD)", "cost_usd", "${:.4f}"),
)


def format_value(value: float | int | None, fmt: str) -> str:
    return "—" if value is None else fmt.format(value)


def compare_runs(dir_a: str | Path, dir_b: str | Path) -> dict[str, Any]:
    """Both runs' statistics, JSON-ready: {"simulated", "a", "b"}."""
    a, b = run_stats(dir_a), run_stats(dir_b)
    return {"simulated": a.simulated or b.simulated, "a": a.model_dump(), "b": b.model_dump()}
