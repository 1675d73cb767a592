"""The records of one episode (the paper's `result.json`), written by the runtime only.

An `EpisodeRecord` is built by `inner_loop.runner` (agentic) or `inner_loop.cot` (baseline) from
the parent's own records of every RPC request; nothing a harness claims about itself enters it
except as quoted text (its stdout/stderr tails, its log lines, its return value).

Round outcomes (`RoundRecord.outcome`):
  accepted              passed weak and strong, and the final guard
  too_easy              the weak check failed
  failed_on_strong      the weak check passed, the full preset decision failed
  failed_quality_check  the harness's verifier said FAIL and nothing was evaluated, or the
                        example sent to `evaluate` was structurally invalid
  parse_error           the challenger's reply did not parse and nothing was evaluated
  failed_final_guard    passed weak and strong, rejected by the final guard
  infrastructure        a solver/judge/guard call failed after retries (never a quality verdict)
  abandoned             none of the above (e.g. parsed but never evaluated, or never submitted)

Episode status: accepted | exhausted (the harness returned without an accepted example) |
harness_error (crash, invalid harness, protocol violation, child died) | timeout | budget |
runtime_error (a bug in the runtime itself, recorded at the episode boundary) | infrastructure
(not accepted, and a model call failed after all its retries: never scored as a quality failure).

`transcript` holds every RPC request in order with the parent's reply. For `llm` entries,
`prefix` = how many leading messages equal those of the previous call of the same role, and
`messages` holds only the rest (an agent loop resends its whole history on every call).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import Field

from inner_loop.evaluation import SolverEval
from inner_loop.example import Example
from inner_loop.llm.episode_client import RoleUsageRecord
from inner_loop.strict import Strict

SCHEMA_VERSION = 1

Outcome = Literal["accepted", "too_easy", "failed_on_strong", "failed_quality_check",
                  "parse_error", "failed_final_guard", "infrastructure", "abandoned"]
OUTCOMES: tuple[str, ...] = Outcome.__args__  # type: ignore[attr-defined]
Status = Literal["accepted", "exhausted", "harness_error", "timeout", "budget", "runtime_error",
                 "infrastructure"]


class RoundRecord(Strict):
    index: int  # 1-based: the n-th round (a challenger call or a new example evaluated; rounds.py)
    challenger_raw: str | None = None
    example: Example | None = None  # the parsed challenger reply, or the example evaluated
    parse_error: str | None = None
    verifier_verdict: Literal["PASS", "FAIL"] | None = None
    verifier_feedback: str | None = None
    weak: SolverEval | None = None
    strong: SolverEval | None = None
    outcome: Outcome = "abandoned"
    failed_rule: str | None = None
    reason: str | None = None  # one line: why this outcome (invalid example, infra error, ...)
    guard_problems: list[str] = Field(default_factory=list)


class EpisodeRecord(Strict):
    schema_version: int = SCHEMA_VERSION
    paper_id: str
    paper_title: str
    method: Literal["agentic", "cot"]
    harness_version: str | None = None
    preset: str
    thresholds: dict[str, Any]
    max_rounds: int
    status: Status
    accepted: bool = False
    accepted_example: Example | None = None
    accepted_round: int | None = None
    rounds: list[RoundRecord] = Field(default_factory=list)
    error: str | None = None
    confinement: str = ""
    usage: dict[str, RoleUsageRecord] = Field(default_factory=dict)
    duration_ms: float = 0.0
    harness_stdout: str = ""
    harness_stderr: str = ""
    transcript: list[dict[str, Any]] = Field(default_factory=list)
    simulated: bool = False
    # where it ran when not in the driver's process: "<host> (ray node <id>)" (ray executor)
    worker: str | None = None

    @property
    def rounds_used(self) -> int:
        return len(self.rounds)

    def accepted_round_record(self) -> RoundRecord | None:
        if self.accepted_round is None:
            return None
        return next((r for r in self.rounds if r.index == self.accepted_round), None)


def failure_counts(records: Iterable[EpisodeRecord]) -> dict[str, int]:
    """Round outcome → how many rounds ended so, over every round of every episode (accepted
    rounds included), in the order of OUTCOMES; outcomes that never happened are left out."""
    counts: Counter[str] = Counter()
    for record in records:
        counts.update(r.outcome for r in record.rounds)
    return {outcome: counts[outcome] for outcome in OUTCOMES if counts[outcome]}
