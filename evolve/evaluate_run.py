"""`autodata evaluate RUN`: re-score accepted candidates with fresh repeats, on any papers.

Where the facts go (the single-writer rule, `evolve/store/README.md`): when no process holds the
run's database, evaluate opens `autodata.duckdb` as its writer and records there; while a run is
live (its writer holds the file), evaluate records into a database of its own,
`<run>/evaluate/autodata.duckdb`, with the same schema. Either way the rows have purpose
`evaluate`, which no tally reads, and results and resumption read both files. One evaluate at a
time per run (`<run>/evaluate/run.lock`). Budgets: the run's `budget` (what the run and earlier
evaluations left of it), capped further by `--budget-usd` / `--max-calls`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from inner_loop.config import BudgetConfig
from inner_loop.errors import UserError
from inner_loop.executor import open_executor
from inner_loop.llm.client import LLMClient
from inner_loop.llm.types import BudgetExceeded
from inner_loop.papers import Paper
from evolve.estimates import METHOD
from evolve.evaluate import (EVALUATE_FIRST_REPEAT, EVALUATE_ITERATION, CandidateResult,
                             check_repeats, results, score, top_by_tally)
from evolve.progress import best_accepted
from evolve.repo import HarnessRepo
from evolve.context import budget_left, read_run_config
from evolve.lock import RunLock
from evolve.store import CallBuffer, Store, StoreReader

PURPOSE = "evaluate"
SIDE_DIR = "evaluate"


class EvaluateReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str
    simulated: bool
    papers: list[str]
    repeats: list[int]
    method: str
    recorded_in: str  # the database the new rows went to
    status: str  # finished | stopped: budget (...)
    candidates: list[CandidateResult]


class _Site:
    """Where evaluate's jobs run (`evolve.jobs.Site`): a store that knows what either database
    holds; episodes work under `<run>/evaluate/work/`."""

    def __init__(self, work: Path, config: Any, writer: Store, others: Sequence[Any],
                 client: LLMClient):
        self.work_dir, self.config, self.client = work / "work", config, client
        self.store = _Stores(writer, others)
        self.executor = open_executor(config.executor)  # where episodes run; recorded here


class _Stores:
    def __init__(self, writer: Store, others: Sequence[Any]):
        self.writer, self.all = writer, [writer, *others]

    def finished_evaluations(self, candidate_id: str | None = None) -> set:
        return set().union(*(s.finished_evaluations(candidate_id) for s in self.all))

    def record_episode(self, *args: Any) -> str:
        return self.writer.record_episode(*args)


def resolve_candidates(reader: Any, spec: str) -> list[str]:
    """`seed,best,top:K,<id>,...` -> accepted candidate ids, in the order given, deduplicated."""
    accepted = {r.candidate_id for r in reader.candidate_statuses() if r.status == "accepted"}
    out: list[str] = []
    for token in (t.strip() for t in spec.split(",")):
        if token == "best":
            out.append(best_accepted(reader) or "seed")
        elif token.startswith("top:"):
            k = token[4:]
            if not k.isdigit() or int(k) < 1:
                raise UserError(f"--candidates {token}: expected top:K with K >= 1")
            out.extend(top_by_tally(reader, int(k)))
        elif token in accepted:
            out.append(token)
        else:
            raise UserError(f"--candidates: {token!r} is not an accepted candidate of this run "
                            f"(use seed, best, top:K or an accepted candidate id)")
    return list(dict.fromkeys(out))


def _open_writer(run_dir: Path, stack: ExitStack) -> tuple[Store, list[Any], str]:
    """The run's own database when free, else evaluate's; plus readers of the other one."""
    side = run_dir / SIDE_DIR
    try:
        writer = stack.enter_context(Store.open(run_dir, lock_timeout_s=1.0))
    except UserError:  # a live run holds it
        writer = stack.enter_context(Store.open(side, create=True))
        return writer, [stack.enter_context(StoreReader.open(run_dir))], str(writer.path)
    others = [stack.enter_context(StoreReader.open(side))] if (side / "autodata.duckdb").exists() \
        else []
    return writer, others, str(writer.path)


def _budget(budget: BudgetConfig, stores: Sequence[Any], usd: float | None,
            calls: int | None) -> BudgetConfig:
    spent = [s.query("SELECT coalesce(sum(cost_usd), 0) AS usd, count(*) FILTER "
                     "(WHERE NOT cached) AS calls FROM llm_calls")[0] for s in stores]
    left = budget_left(budget, sum(float(r["usd"]) for r in spent),
                       sum(int(r["calls"]) for r in spent))
    cap = lambda a, b: b if a is None else a if b is None else min(a, b)  # noqa: E731
    return left.model_copy(update={"max_usd": cap(left.max_usd, usd),
                                   "max_calls": cap(left.max_calls, calls)})


def evaluate_run(run_dir: Path, spec: str, papers: Sequence[Paper], repeats: int,
                 first_repeat: int = 0, budget_usd: float | None = None,
                 max_calls: int | None = None, executor: str | None = None) -> EvaluateReport:
    """Score `spec`'s candidates on `papers`, repeats EVALUATE_FIRST_REPEAT + first_repeat ..."""
    check_repeats(repeats, first_repeat)
    if not papers:
        raise UserError("no papers selected")
    rc = read_run_config(run_dir)
    reps = list(range(EVALUATE_FIRST_REPEAT + first_repeat,
                      EVALUATE_FIRST_REPEAT + first_repeat + repeats))
    (run_dir / SIDE_DIR).mkdir(exist_ok=True)
    with ExitStack() as stack:
        stack.enter_context(RunLock(run_dir / SIDE_DIR))
        writer, others, where = _open_writer(run_dir, stack)
        main = others[0] if Path(where).parent.name == SIDE_DIR else writer  # the run's facts
        chosen = resolve_candidates(main, spec)
        repo = HarnessRepo.open(run_dir)
        dirs = [(c, repo.checkout(repo.ref_sha(c) or _no_ref(c))) for c in chosen]
        config = rc.config.model_copy(update={"budget": _budget(
            rc.config.budget, [writer, *others], budget_usd, max_calls), "executor":
            rc.config.executor.model_copy(update={"kind": executor or rc.config.executor.kind})})
        calls = CallBuffer(writer, EVALUATE_ITERATION)  # its calls carry iteration -1
        client = LLMClient(config, recorder=calls)
        status = "finished"
        site = _Site(run_dir / SIDE_DIR, config, writer, others, client)
        try:
            score(site, dirs, papers, reps, PURPOSE, EVALUATE_ITERATION)
        except BudgetExceeded as exc:
            status = f"stopped: budget ({exc})"
        finally:
            site.executor.close()
            calls.flush()
            client.close()
        tallies = {c: s for c, (s, _n) in main.candidate_scores().items()}
        rows = results([writer, *others], tallies, chosen, PURPOSE, [p.id for p in papers], reps)
    return EvaluateReport(run_id=rc.run_id, simulated=rc.simulated,
                          papers=[p.id for p in papers], repeats=reps, method=METHOD,
                          recorded_in=where, status=status, candidates=rows)


def _no_ref(candidate_id: str) -> str:
    raise UserError(f"candidate {candidate_id} has no git ref in the run's harness repo")
