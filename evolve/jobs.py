"""Episode jobs of the outer loop: one (candidate, harness dir, paper, repeat) run and recorded.

`run_job` runs one episode with the run's client as repeat `repeat` sees it (`RepeatClient`:
sample indices shifted by repeat × REPEAT_STRIDE, so a repeat is an independent draw) and records
it; an episode already recorded for (candidate, paper, purpose, repeat) is never run again.
Episodes the budget or an endpoint stopped are not recorded (a resumed run runs them again);
`raise_stops` turns them into BudgetExceeded / FatalLLMError after the batch. A request the
endpoint rejects (4xx, `RequestRejected`) is the harness's fault — a `harness_error` episode —
except for the seed harness, the trusted baseline: there it is the endpoint's (`infrastructure`).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inner_loop.dispatch import REJECTED
from inner_loop.episode import EpisodeRecord
from inner_loop.llm.shared import SharedCalls
from inner_loop.llm.types import BudgetExceeded, FatalLLMError
from inner_loop.papers import Paper
from inner_loop.executor import EpisodeJob, LocalExecutor
from evolve.repo import SEED_ID

if TYPE_CHECKING:
    from evolve.run import RunContext

REPEAT_STRIDE = 10_000  # sample-index shift per repeat (inner-loop indices stay far below it)


class RepeatClient:
    """The run's client as repeat `repeat` of an episode sees it: sample indices shifted."""

    def __init__(self, client: Any, repeat: int, shared: SharedCalls | None = None):
        self._client, self._offset, self._shared = client, repeat * REPEAT_STRIDE, shared
        self.config = client.config
        self.sample_offset = self._offset  # the ray executor builds requests on the worker

    def build_request(self, role: str, messages: Any, **kwargs: Any) -> Any:
        kwargs["sample_index"] = kwargs.get("sample_index", 0) + self._offset
        return self._client.build_request(role, messages, **kwargs)

    def send(self, request: Any, *, tag: str = "") -> Any:
        if self._shared is not None:
            return self._shared.send(self._client, request, tag=tag)
        return self._client.send(request, tag=tag)

    def complete(self, role: str, messages: Any, *, tag: str = "", **kwargs: Any) -> Any:
        return self.send(self.build_request(role, messages, **kwargs), tag=tag)


Job = tuple[str, Path, Paper, int]  # (candidate_id, harness dir, paper, repeat)


def run_jobs(ctx: RunContext, jobs: Sequence[Job], purpose: str, iteration: int, *,
             load: bool = False, config: Any = None,
             shared: SharedCalls | None = None) -> list[EpisodeRecord]:
    """Episodes of `jobs`; any (candidate, paper, purpose, repeat) already recorded is skipped.

    An episode stopped by the budget is not recorded; BudgetExceeded is raised after the batch.
    With `load`, returns every job's record as stored (fresh or from before a crash)."""
    workers = max(1, min(ctx.config.inner_loop.concurrency, len(jobs)))
    with ThreadPoolExecutor(workers, thread_name_prefix="episode") as pool:
        records = list(pool.map(lambda j: run_job(ctx, j, purpose, iteration, config, shared),
                                jobs))
    raise_stops(records)
    return [ctx.load_episode(j[0], j[2].id, purpose, j[3]) for j in jobs] if load else []


def run_job(ctx: RunContext, job: Job, purpose: str, iteration: int,
            config: Any = None, shared: SharedCalls | None = None) -> EpisodeRecord | None:
    """One job's episode, recorded; None when it was recorded before (a resumed run).

    `shared`: identical requests of the jobs given the same SharedCalls are sent once."""
    cid, harness_dir, paper, repeat = job
    if (cid, paper.id, purpose, repeat) in ctx.store.finished_evaluations(cid):
        return None
    executor = getattr(ctx, "executor", None) or LocalExecutor()  # where it runs; recorded here
    tag = f"it{iteration}/{cid}/{purpose}/{paper.id}/r{repeat}"
    record = executor.run(EpisodeJob(paper, harness_dir, config or ctx.config,
                                     RepeatClient(ctx.client, repeat, shared),
                                     ctx.run_dir / "work", "agentic", cid, tag))
    if cid == SEED_ID and record.status == "harness_error" and \
            (record.error or "").startswith(REJECTED):  # the trusted seed: the endpoint's fault
        record = record.model_copy(update={"status": "infrastructure", "error": (
            f"infrastructure: the endpoint rejects the seed harness's requests (raise its "
            f"context size or fix the role's parameters, then resume): {record.error}")})
    if record.status not in ("budget", "infrastructure"):  # both are re-run on resume
        ctx.store.record_episode(record.model_dump(mode="json"), cid, purpose, repeat,
                                 iteration)
    return record


def stopped(record: EpisodeRecord | None) -> bool:
    return record is not None and record.status in ("budget", "infrastructure")


def raise_stops(records: Sequence[EpisodeRecord | None]) -> None:
    """BudgetExceeded / FatalLLMError for the first episode the budget or an endpoint stopped."""
    budget = [r for r in records if r is not None and r.status == "budget"]
    if budget:
        raise BudgetExceeded(budget[0].error or "budget exceeded")
    infra = [r for r in records if r is not None and r.status == "infrastructure"]
    if infra:  # an endpoint failed beyond its retries: stop (resumable), never score it
        text = " ".join(str(infra[0].error).split()).removeprefix("infrastructure: ")
        raise FatalLLMError(f"infrastructure: {text[:300]}")
