"""Reconcile: make the harness repo agree with DuckDB after a crash (called by the driver,
evolve/run.py, under the run lock, after evolve/repair.py made the repo's files whole).

DuckDB's `committing` event is written BEFORE an accepted candidate's commit and `accepted` (with
the commits row) AFTER it, so what git holds can always be brought in line with what DuckDB says.
"""

from __future__ import annotations

import shutil

import git
from pydantic import Field

from inner_loop.errors import UserError
from inner_loop.strict import Strict
from evolve.changes import run_git
from evolve.repo import REF_PREFIX, SEED_ID, ZERO_SHA, HarnessRepo
from evolve.store import Store


class ReconcileReport(Strict):
    seed_recorded: bool = False
    completed: list[str] = Field(default_factory=list)  # committing + ref: completed to accepted
    recommitted: list[str] = Field(default_factory=list)  # committing, no ref: committed again
    restored_refs: list[str] = Field(default_factory=list)  # accepted, ref lost: ref recreated
    deleted_refs: list[str] = Field(default_factory=list)  # ref without a committing event
    removed_scratch: list[str] = Field(default_factory=list)


def reconcile(repo: HarnessRepo, store: Store) -> ReconcileReport:
    """Make git agree with DuckDB after a crash. DuckDB's `committing` event is written BEFORE
    the commit and `accepted` (with the commits row) AFTER it, so:
    - a ref whose attempt is `committing` is completed to accepted (record_commit);
    - a `committing` attempt without a ref is committed again from its recorded diff;
    - a ref whose attempt never reached `committing` (or is unknown) is deleted;
    - an `accepted` attempt whose ref is gone gets the ref back (its commit must exist);
    - scratch worktrees are removed (resume rebuilds them from recorded diffs);
    - `main` that points at no candidate ref goes back to the seed."""
    report = ReconcileReport()
    with repo._lock:
        report.removed_scratch = _remove_all_scratch(repo)
        if SEED_ID not in store.attempt_states():
            report.seed_recorded = store.record_seed(repo.seed_sha)
        _reconcile_refs(repo, store, report)
        _reconcile_rows(repo, store, report)
        refs = repo.candidate_refs()
        if repo.main_sha() not in refs.values():
            repo.point_main(refs[SEED_ID])
    return report


def _remove_all_scratch(repo: HarnessRepo) -> list[str]:
    root = repo.paths.scratch
    removed = [p.name for p in sorted(root.iterdir())] if root.is_dir() else []
    for name in removed:
        if not repo.remove_scratch(name) and (root / name).exists():
            shutil.rmtree(root / name)
    run_git(repo._git, "worktree", "prune")
    return removed


def _reconcile_refs(repo: HarnessRepo, store: Store, report: ReconcileReport) -> None:
    states = store.attempt_states()
    rows = {s.candidate_id: s for s in store.candidate_statuses()}
    for candidate_id, sha in sorted(repo.candidate_refs().items()):
        state = states.get(candidate_id)
        if state == "accepted":
            if rows[candidate_id].commit_sha != sha:
                raise UserError(f"{repo.path}: ref of {candidate_id} is {sha}, DuckDB says "
                                f"{rows[candidate_id].commit_sha}; the run folder was changed by hand")
        elif state == "committing":
            store.record_commit(candidate_id, sha)
            report.completed.append(candidate_id)
        else:
            repo.delete_ref(candidate_id)
            report.deleted_refs.append(candidate_id)


def _reconcile_rows(repo: HarnessRepo, store: Store, report: ReconcileReport) -> None:
    refs = repo.candidate_refs()
    for row in store.candidate_statuses():  # iteration order: parents before children
        if row.candidate_id in refs or row.state not in ("committing", "accepted"):
            continue
        if row.state == "accepted":
            try:
                repo._git.update_ref(REF_PREFIX + row.candidate_id, row.commit_sha, ZERO_SHA)
            except git.GitCommandError:
                raise UserError(f"{repo.path}: commit {row.commit_sha} of accepted candidate "
                                f"{row.candidate_id} is missing from the repo") from None
            report.restored_refs.append(row.candidate_id)
        else:
            diff = store.get_blob(row.diff_blob) if row.diff_blob else ""
            sha = repo.commit_candidate(diff, refs[row.parent_id], row.candidate_id, row.iteration,
                                        row.child_mean, row.summary or "")
            store.record_commit(row.candidate_id, sha)
            report.recommitted.append(row.candidate_id)
        refs[row.candidate_id] = repo.ref_sha(row.candidate_id)  # type: ignore[assignment]
