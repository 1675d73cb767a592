"""Protected evaluation of one example by one solver (paper §2, steps 3–4).

`evaluate_solver` draws `samples_per_solver` solver samples with the protected solver prompts
(the solver sees only context + question), has the judge grade each answer against the rubric
(never the reference answer), scores it with `scoring.score` and applies the thresholds (thresholds.py):
`weak_check` for the weak solver, `full_check` for the strong one.

Early stopping (an exact saving). An evaluation reports its samples in index order up to the
first one after which the check has a `settled_failure` (no scores for the samples left could
pass it), or all of them: the verdict is the same as over every sample, and nothing of the
samples after that point reaches the harness, a record or a report. With
`inner_loop.stop_sampling_early` (default) the samples are drawn one by one and the rest are
never paid for; with it off they are drawn together (the paper's cost, less wall time) and the
report is the same prefix, so both settings give identical evaluations, feedback and decisions.

Infrastructure is not quality. A solver call that fails after the client's retries, or a judge
that gives no parseable verdict after JUDGE_REASKS re-asks, raises InfrastructureError (with the
partial samples attached), so a caller can never count it as a failed example.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeVar

from inner_loop.thresholds import RuleResult, Thresholds, full_check, settled_failure, \
    weak_check
from inner_loop.config import Config
from inner_loop.example import Example, RubricItem
from inner_loop.llm.protocol import Client
from inner_loop.llm.types import FatalLLMError, Message
from inner_loop.parsing import ParseFailure, parse_judgments
from inner_loop.prompting import judge_messages, solver_messages
from inner_loop.scoring import mean, score
from inner_loop.strict import Strict

T = TypeVar("T")

INFRA_ATTEMPTS = 2  # an infrastructure failure is retried once more, then recorded
JUDGE_REASKS = 3  # re-asks after the first unparseable reply (4 attempts in all)
REASK_SAMPLE_BASE = 100  # re-ask k uses sample_index 100 + k: a fresh sample, never a cache hit

JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"judgments": {"type": "array", "items": {
        "type": "object",
        "properties": {"item": {"type": "integer"}, "met": {"type": "boolean"}},
        "required": ["item", "met"], "additionalProperties": False,
    }}},
    "required": ["judgments"], "additionalProperties": False,
}


class InfrastructureError(Exception):
    """A model call failed for reasons that say nothing about the example's quality."""

    def __init__(self, message: str, *, samples: list[JudgedSample] | None = None,
                 attempts: int = 0):
        super().__init__(message)
        self.samples = samples or []  # the solver's samples, errors included (evaluate_solver)
        self.attempts = attempts  # calls made before giving up (ask_json)


class JudgedSample(Strict):
    sample_index: int
    answer: str = ""
    judgments: list[bool] = []
    score: float | None = None  # None only when the sample hit an infrastructure error
    judge_attempts: int = 0
    solver_error: str | None = None
    judge_error: str | None = None


class SolverEval(Strict):
    solver: Literal["weak", "strong"]
    samples: list[JudgedSample]
    scores: list[float]
    avg: float
    max: float
    min: float
    passed: bool
    failed_rule: str | None = None
    detail: str = ""


def ask_json(
    client: Client, role: str, messages: list[Message], parse: Callable[[str | None], T], *,
    tag: str, json_schema: dict[str, Any] | None = None,
) -> tuple[T, str | None, int]:
    """(parsed reply, raw text, attempts): re-asks up to JUDGE_REASKS times on a ParseFailure.

    Raises InfrastructureError when the call fails after the client's retries or when no reply
    parses; a parse failure of a protected role is an infrastructure failure, never a verdict.
    """
    reasons = []
    for attempt in range(JUDGE_REASKS + 1):
        sample_index = 0 if attempt == 0 else REASK_SAMPLE_BASE + attempt
        try:
            response = client.complete(role, messages, response_format="json",
                                       json_schema=json_schema, sample_index=sample_index, tag=tag)
        except FatalLLMError as exc:
            raise InfrastructureError(f"{role} call failed: {exc}", attempts=attempt + 1) from exc
        try:
            return parse(response.content), response.content, attempt + 1
        except ParseFailure as exc:
            reasons.append(exc.reason)
    raise InfrastructureError(
        f"{role}: no parseable reply in {JUDGE_REASKS + 1} attempts; last: {reasons[-1]}",
        attempts=JUDGE_REASKS + 1,
    )


def judge_answer(
    rubric: list[RubricItem], question: str, answer: str, *, client: Client, tag: str = ""
) -> tuple[list[bool], int]:
    """(per-item verdicts, judge attempts) of one answer; the judge never sees a reference."""
    messages = judge_messages(rubric, question, answer)
    verdicts, _raw, attempts = ask_json(
        client, "judge", messages, lambda text: parse_judgments(text, len(rubric)),
        tag=tag, json_schema=JUDGE_SCHEMA,
    )
    return verdicts, attempts


def _run_sample(example: Example, solver: str, index: int, *, client: Client, tag: str) -> JudgedSample:
    try:
        response = client.complete(f"{solver}_solver", solver_messages(example),
                                   sample_index=index, tag=tag)
    except FatalLLMError as exc:
        return JudgedSample(sample_index=index, solver_error=str(exc))
    answer = response.content or ""
    try:
        verdicts, attempts = judge_answer(example.rubric, example.question, answer,
                                          client=client, tag=tag)
    except InfrastructureError as exc:
        return JudgedSample(sample_index=index, answer=answer, judge_error=str(exc),
                            judge_attempts=exc.attempts)
    weights = [item.weight for item in example.rubric]
    return JudgedSample(sample_index=index, answer=answer, judgments=verdicts,
                        score=score(weights, verdicts), judge_attempts=attempts)


def _raise_on_infrastructure(solver: str, samples: list[JudgedSample]) -> None:
    errors = [f"sample {s.sample_index}: {s.solver_error or s.judge_error}"
              for s in samples if s.solver_error or s.judge_error]
    if errors:
        raise InfrastructureError(f"{solver} evaluation: " + "; ".join(errors), samples=samples)


def evaluate_solver(
    example: Example, solver: Literal["weak", "strong"], *, client: Client, config: Config,
    thresholds: Thresholds, weak_eval: SolverEval | None = None, tag: str = "",
) -> SolverEval:
    """Sample the solver, judge every answer, score and apply the thresholds."""
    if solver == "strong" and weak_eval is None:
        raise ValueError("evaluate_solver('strong') needs the weak solver's evaluation")
    n = config.inner_loop.samples_per_solver

    def run(i: int) -> JudgedSample:
        return _run_sample(example, solver, i, client=client, tag=tag)

    drawn: Iterable[JudgedSample]
    if config.inner_loop.stop_sampling_early:
        drawn = map(run, range(n))  # lazy: a sample is drawn only when the loop below asks
    else:
        with ThreadPoolExecutor(max_workers=n, thread_name_prefix=f"{solver}_solver") as pool:
            drawn = list(pool.map(run, range(n)))
    samples: list[JudgedSample] = []
    for sample in drawn:  # either way, the prefix up to the sample that settles a failure
        samples.append(sample)
        _raise_on_infrastructure(solver, samples)
        if _settled(solver, samples, n, thresholds, weak_eval):
            break
    return summarise(solver, samples, thresholds, weak_eval=weak_eval, n=n)


def _settled(solver: str, samples: list[JudgedSample], n: int, thresholds: Thresholds,
             weak_eval: SolverEval | None) -> RuleResult | None:
    scores = [s.score for s in samples if s.score is not None]
    return settled_failure(thresholds, scores, n,
                           weak_eval.scores if solver == "strong" and weak_eval else None)


def summarise(
    solver: Literal["weak", "strong"], samples: list[JudgedSample], thresholds: Thresholds, *,
    weak_eval: SolverEval | None = None, n: int | None = None,
) -> SolverEval:
    """SolverEval of judged samples: scores, avg/max/min and the thresholds' verdict.

    `n`: the samples the evaluation was to draw; fewer samples must have a settled failure."""
    scores = [s.score for s in samples if s.score is not None]
    if len(scores) != len(samples):
        raise ValueError("summarise: every sample needs a score (infrastructure errors raise)")
    if solver == "strong" and weak_eval is None:
        raise ValueError("the strong solver's verdict needs the weak solver's evaluation")
    if n is not None and len(scores) < n:
        result = _settled(solver, samples, n, thresholds, weak_eval)
        if result is None:
            raise ValueError(f"summarise: {len(scores)} of {n} samples and no settled failure")
    elif solver == "weak":
        result = weak_check(thresholds, scores)
    else:
        result = full_check(thresholds, weak_eval.scores, scores)
    return SolverEval(
        solver=solver, samples=samples, scores=scores, avg=mean(scores), max=max(scores),
        min=min(scores), passed=result.passed, failed_rule=result.failed_rule,
        detail=result.detail,
    )


def evaluate_with_retry(example: Example, solver: Literal["weak", "strong"], *, client: Client,
                        config: Config, thresholds: Thresholds,
                        weak_eval: SolverEval | None = None,
                        tag: str = "") -> tuple[SolverEval | None, str | None]:
    """(SolverEval, None), or (None, "infrastructure: ...") after INFRA_ATTEMPTS failures."""
    last = ""
    for _ in range(INFRA_ATTEMPTS):
        try:
            return evaluate_solver(example, solver, client=client, config=config,
                                   thresholds=thresholds, weak_eval=weak_eval, tag=tag), None
        except (InfrastructureError, FatalLLMError) as exc:
            last = str(exc)
    return None, f"infrastructure: {last}"
