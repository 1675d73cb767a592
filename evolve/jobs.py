"""Episode jobs of the outer loop: one `Job` (candidate, harness dir, paper, repeat) run and recorded.

`run_job` runs one episode with the run's client as repeat `repeat` sees it (`RepeatClient`:
sample indices shifted by repeat × REPEAT_STRIDE, so a repeat is an independent draw) and records
it; an episode already recorded for (candidate, paper, purpose, repeat) is never run again.
Episodes the budget or an endpoint stopped are not recorded (a resumed run runs them again);
`raise_stops` turns them into BudgetExceeded / FatalLLMError after the batch. A request the
endpoint rejects (4xx, `RequestRejected`) is the harness's fault — a `harness_error` episode —
except for the seed harness, the trusted baseline: there it is the endpoint's (`infrastructure`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from inner_loop.config import Config
from inner_loop.dispatch import REJECTED
from inner_loop.episode import EpisodeRecord
from inner_loop.llm import SharingClient
from inner_loop.llm.protocol import ClientView
from inner_loop.llm.shared import SharedCalls
from inner_loop.llm.types import BudgetExceeded, FatalLLMError, LLMRequest, LLMResponse
from inner_loop.papers import Paper
from inner_loop.executor import EpisodeJob, Executor
from evolve.store import SEED_ID

REPEAT_STRIDE = 10_000  # sample-index shift per repeat (inner-loop indices stay far below it)


class RepeatClient(ClientView):
    """The run's client as repeat `repeat` of an episode sees it: sample indices shifted; with
    `shared`, a request identical to one sent for another job of the same SharedCalls is sent
    once."""

    _client: SharingClient

    def __init__(self, client: SharingClient, repeat: int, shared: SharedCalls | None = None):
        # sample_offset: read by the ray executor too, which builds requests on the worker
        super().__init__(client, sample_offset=repeat * REPEAT_STRIDE)
        self._shared = shared

    def send(self, request: LLMRequest, *, tag: str = "") -> LLMResponse:
        if self._shared is not None:
            return self._shared.send(self._client, request, tag=tag)
        return self._client.send(request, tag=tag)


@dataclass(frozen=True)
class Job:
    """One episode to run and record: `candidate_id`'s harness (its files in `harness_dir`) on
    `paper`, as repeat `repeat`."""

    candidate_id: str
    harness_dir: Path
    paper: Paper
    repeat: int


class Site(Protocol):
    """Where jobs run and are recorded: the run (evolve/context.py) or `autodata evaluate`."""

    config: Config
    client: SharingClient
    store: Any  # finished_evaluations, record_episode (and query, get_blob with `load`)
    executor: Executor
    work_dir: Path  # episode work dirs, removed on resume


def run_jobs(site: Site, jobs: Sequence[Job], purpose: str, iteration: int, *,
             load: bool = False, config: Config | None = None,
             shared: SharedCalls | None = None) -> list[EpisodeRecord]:
    """Episodes of `jobs`; any (candidate, paper, purpose, repeat) already recorded is skipped.

    An episode stopped by the budget is not recorded; BudgetExceeded is raised after the batch.
    With `load`, returns every job's record as stored (fresh or from before a crash)."""
    workers = max(1, min(site.config.inner_loop.concurrency, len(jobs)))
    with ThreadPoolExecutor(workers, thread_name_prefix="episode") as pool:
        records = list(pool.map(lambda j: run_job(site, j, purpose, iteration, config, shared),
                                jobs))
    raise_stops(records)
    return [load_record(site.store, j, purpose) for j in jobs] if load else []


def load_record(store: Any, job: Job, purpose: str) -> EpisodeRecord:
    """The episode recorded for `job` under `purpose`."""
    rows = store.query(
        "SELECT e.record_blob FROM evaluations v JOIN episodes e USING (episode_id) "
        "WHERE v.candidate_id = ? AND v.paper_id = ? AND v.purpose = ? AND v.repeat = ?",
        [job.candidate_id, job.paper.id, purpose, job.repeat])
    # json.loads first: a stored record may escape a lone surrogate (evolve/store/records.py)
    return EpisodeRecord.model_validate(json.loads(store.get_blob(rows[0]["record_blob"])))


def run_job(site: Site, job: Job, purpose: str, iteration: int,
            config: Config | None = None, shared: SharedCalls | None = None
            ) -> EpisodeRecord | None:
    """One job's episode, recorded; None when it was recorded before (a resumed run).

    `shared`: identical requests of the jobs given the same SharedCalls are sent once."""
    cid, paper, repeat = job.candidate_id, job.paper, job.repeat
    if (cid, paper.id, purpose, repeat) in site.store.finished_evaluations(cid):
        return None
    tag = f"it{iteration}/{cid}/{purpose}/{paper.id}/r{repeat}"
    record = site.executor.run(EpisodeJob(paper, job.harness_dir, config or site.config,
                                          RepeatClient(site.client, repeat, shared),
                                          site.work_dir, "agentic", cid, tag))
    if cid == SEED_ID and record.status == "harness_error" and \
            (record.error or "").startswith(REJECTED):  # the trusted seed: the endpoint's fault
        record = record.model_copy(update={"status": "infrastructure", "error": (
            f"infrastructure: the endpoint rejects the seed harness's requests (raise its "
            f"context size or fix the role's parameters, then resume): {record.error}")})
    if record.status not in ("budget", "infrastructure"):  # both are re-run on resume
        site.store.record_episode(record.model_dump(mode="json"), cid, purpose, repeat,
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
