"""The outer loop: meta-optimisation of the harness (paper §4).

`iterate` is one iteration and reads like the paper's algorithm: select a parent, run it on a
train minibatch, analyze, implement, validate, score child and parent, decide, commit, record.
The run around it (the seed scored, iterations 1..N `concurrency` (K) at a time, the final
re-evaluation) is evolve/schedule.py.

Determinism. Iteration n's candidate id, rng, parent, minibatch and smoke paper depend only on
(run seed, n) and on iterations ≤ n − K: iteration n starts once all of those have finished and
reads exactly them (`view_of`), never an iteration that merely happened to finish sooner. With a
fixed seed on a deterministic backend (the sim) the lineage is the same whatever the thread timing
and however often the run is killed and resumed.

Resume. Every step is skipped when the attempt's recorded state shows it done; facts (diagnosis,
diff, evaluations) come back from the store, the scratch worktree is rebuilt from the recorded
diff, and an episode already recorded for (candidate, paper, purpose, repeat) is never re-run.

Repeats. Everything evaluated at iteration n uses repeats n·R … n·R+R−1 (the seed: 0 … R−1);
a repeat shifts the sample indices of its episode's calls, so it is an independent draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from inner_loop.harness import Manifest, harness_digest, load_harness
from inner_loop.llm.shared import SharedCalls
from inner_loop.papers import Paper
from evolve.analyzer import DiagnosisUnparseable, run_analyzer
from evolve.context import RunContext
from evolve.implementer import run_implementer
from evolve.jobs import Job, run_job, run_jobs
from evolve.policy import decide as policy_decide
from evolve.racing import race
from evolve.selection import View, candidate_id, iteration_rng, select_parent, view_of
from evolve.store.queries import CandidateStatus, by_paper
from evolve.validate import archive_reason, check_changes, check_tree, same_tree, smoke_reason
from evolve.workspace import Workspace, list_harness_files

DECIDED = ("invalid", "rejected", "committing", "accepted")
ORDER = ("selected", "proposing", "proposed", "validating", "scoring", "scored")


@dataclass
class Attempt:
    """One iteration's attempt: its selection and the state the store has it in."""

    n: int
    cid: str
    parent: str
    parent_sha: str
    minibatch: list[Paper]
    smoke_paper: Paper
    view: View
    manifest: Manifest
    state: str | None = None
    status: CandidateStatus | None = None
    tree: Path | None = None
    summary: str = ""

    def refresh(self, ctx: RunContext) -> "Attempt":
        self.status = ctx.store.candidate_status(self.cid)
        self.state = self.status.state
        self.summary = self.status.summary or ""
        return self

    @property
    def decided(self) -> bool:
        return self.state in DECIDED

    def before(self, state: str) -> bool:
        """Not decided and not yet at `state`: the step that leads there is still to do."""
        return not self.decided and ORDER.index(self.state) < ORDER.index(state)

    def scratch(self, ctx: RunContext) -> Path:
        """The candidate's files: the implementer's scratch, or rebuilt from the recorded diff."""
        if self.tree is None:
            blob = self.status.diff_blob if self.status else None
            diff = ctx.store.get_blob(blob) if blob else None
            self.tree = ctx.repo.scratch(self.parent_sha, self.cid, diff)
        return self.tree


def iterate(ctx: RunContext, n: int) -> None:
    """One iteration of the outer loop (paper §4), re-entered at the state a crash left it in."""
    a = select(ctx, n)  # 1. parent p ∝ exp(score / T) among accepted candidates; minibatch
    if a.before("proposed"):
        propose(ctx, a)  # 2. parent on the minibatch  3. analyzer  4. implementer
    if a.before("scoring"):
        validate(ctx, a)  # 5. paths, load_harness, smoke episode
    if a.before("scored"):
        score(ctx, a)  # 6. child and parent on the validation papers
    if not a.decided:
        decide(ctx, a)  # 7. strict | confident
    if a.state == "committing":
        commit(ctx, a)  # 8. accepted: the commit on its parent's, and its ref
    finish(ctx, a)  # 9. the iteration row: the history line later analyzers read


def select(ctx: RunContext, n: int) -> Attempt:
    ev = ctx.config.evolve
    cid = candidate_id(ctx.config.seed, n)
    view = view_of(ctx.store, max(0, n - ev.concurrency))
    parent, minibatch, smoke_paper = draws(ctx, n, view.scores())
    ctx.store.record_candidate(n, cid, parent)
    parent_sha = ctx.repo.ref_sha(parent)
    if parent_sha is None:
        raise RuntimeError(f"accepted candidate {parent} has no git ref (reconcile first)")
    manifest = load_harness(ctx.repo.checkout(parent_sha)).manifest
    ctx.log.info("iteration %d: %s selected parent %s", n, cid, parent)
    return Attempt(n, cid, parent, parent_sha, minibatch, smoke_paper, view, manifest).refresh(ctx)


def draws(ctx: RunContext, n: int, scores: dict[str, float]) -> tuple[str, list[Paper], Paper]:
    """Iteration n's parent, minibatch and smoke paper: its rng's draws, given its view's scores."""
    ev, rng = ctx.config.evolve, iteration_rng(ctx.config.seed, n)
    parent = select_parent(scores, ev.selection_temperature, rng)
    return parent, rng.sample(ctx.train, min(ev.minibatch, len(ctx.train))), rng.choice(ctx.train)


def propose(ctx: RunContext, a: Attempt) -> None:
    parent_dir = ctx.repo.checkout(a.parent_sha)
    jobs = [Job(a.parent, parent_dir, p, a.n * ctx.config.evolve.repeats) for p in a.minibatch]
    records = run_jobs(ctx, jobs, "minibatch", a.n, load=True)
    ctx.store.record_candidate_event(a.cid, "proposing")
    files = list_harness_files(parent_dir, a.manifest)
    try:
        diagnosis = run_analyzer(ctx.client, records, a.view.history, files,
                                 tag=f"it{a.n}/{a.cid}/analyzer")
    except DiagnosisUnparseable as exc:
        ctx.store.record_decision(a.cid, "invalid", exc.reason)
        a.refresh(ctx)
        return
    a.tree = ctx.repo.scratch(a.parent_sha, a.cid)
    result = run_implementer(ctx.client, Workspace(a.tree, a.manifest), diagnosis,
                             a.view.history, tag=f"it{a.n}/{a.cid}/implementer")
    summary = " ".join((result.summary or diagnosis.summary).split())[:300] or "-"
    if result.stopped:  # the endpoint rejected the implementer's grown conversation
        summary += f" [implementer stopped: {result.stopped[:150]}]"
    if result.refusals:
        r = result.refusals[0]
        summary += f" [refused {r.kind} path {r.path}]"
    unfit = check_tree(a.tree)  # from lstat, before git hashes anything
    if unfit:
        ctx.store.record_decision(a.cid, "invalid", unfit)
        a.refresh(ctx)
        return
    changes = ctx.repo.changed_paths(a.tree)
    ctx.store.record_proposal(a.cid, ctx.repo.diff(a.tree), diagnosis.model_dump_json(),
                              summary, [c.model_dump() for c in changes],
                              [r.model_dump() for r in result.refusals])
    a.refresh(ctx)


def validate(ctx: RunContext, a: Attempt) -> None:
    tree = a.scratch(ctx)
    changes = ctx.repo.changed_paths(tree)
    if not changes:
        refused = ctx.store.refusals(a.cid)
        reason = f"implementer attempted protected path {refused[0].path}" if refused \
            else "no change"
    else:
        tree_sha = ctx.repo.staged_tree(tree)
        ctx.store.record_candidate_event(a.cid, "validating", f"tree {tree_sha}")
        reason = (check_changes(tree, a.manifest, changes)
                  or same_tree(tree_sha, _earlier_trees(ctx, a))
                  or archive_reason(ctx.repo, tree, tree_sha) or _smoke(ctx, a, tree))
    if reason:
        ctx.store.record_decision(a.cid, "invalid", reason)
        ctx.log.info("iteration %d: %s invalid: %s", a.n, a.cid, reason)
    a.refresh(ctx)


def _earlier_trees(ctx: RunContext, a: Attempt) -> dict[str, str]:
    """tree sha -> the first candidate of iterations <= the view's (and the seed) with it."""
    out = {ctx.repo.tree_sha(ctx.repo.seed_sha): "seed"}
    for r in ctx.store.query(
            "SELECT e.candidate_id, e.detail FROM candidate_events e JOIN candidates c USING "
            "(candidate_id) WHERE e.state = 'validating' AND e.detail LIKE 'tree %' AND "
            "c.iteration <= ? ORDER BY c.iteration", [a.view.upto]):
        out.setdefault(r["detail"].removeprefix("tree "), r["candidate_id"])
    return out


def _smoke(ctx: RunContext, a: Attempt, tree: Path) -> str | None:
    one_round = ctx.config.inner_loop.model_copy(update={"max_rounds": 1})
    config = ctx.config.model_copy(update={"inner_loop": one_round})
    job = Job(a.cid, ctx.repo.export(a.cid, tree), a.smoke_paper, a.n * ctx.config.evolve.repeats)
    return smoke_reason(run_jobs(ctx, [job], "smoke", a.n, load=True, config=config)[0])


def score(ctx: RunContext, a: Attempt) -> None:
    ctx.store.record_candidate_event(a.cid, "scoring")
    child_dir = ctx.repo.export(a.cid, a.scratch(ctx))
    parent_dir = ctx.repo.checkout(a.parent_sha)
    repeats = range(a.n * ctx.config.evolve.repeats, (a.n + 1) * ctx.config.evolve.repeats)
    child, parent = ([Job(cid, d, p, r) for p in ctx.validation for r in repeats]
                     for cid, d in ((a.cid, child_dir), (a.parent, parent_dir)))
    shared = SharedCalls() if ctx.config.evolve.share_calls else None  # child ∩ parent
    if ctx.config.evolve.racing and ctx.config.evolve.policy == "strict":
        prior = by_paper(ctx.store.outcomes(a.parent, upto=a.view.upto))
        race(ctx, a.n, child, parent, prior,
             lambda job: run_job(ctx, job, "validation", a.n, shared=shared))
    else:
        run_jobs(ctx, child + parent, "validation", a.n, shared=shared)
    ctx.store.record_candidate_event(a.cid, "scored")
    a.refresh(ctx)


def decide(ctx: RunContext, a: Attempt) -> None:
    """The child's validation results against the parent's (its view's and this iteration's):
    rejected, or accepted (the attempt is then `committing`)."""
    ev = ctx.config.evolve
    child = by_paper(ctx.store.outcomes(a.cid, iteration=a.n))
    parent = by_paper(ctx.store.outcomes(a.parent, upto=a.view.upto, iteration=a.n))
    d = policy_decide(ev.policy, child, parent, ev.confidence)
    ctx.store.record_decision(a.cid, "accepted" if d.accepted else "rejected", d.detail,
                              d.policy, d.child_mean, d.parent_mean)
    ctx.log.info("iteration %d: %s %s: %s", a.n, a.cid,
                 "accepted" if d.accepted else "rejected", d.detail)
    a.refresh(ctx)


def commit(ctx: RunContext, a: Attempt) -> None:
    """The accepted child committed on its parent's commit, checked to hold the validated
    files, then recorded (DuckDB's `committing` comes before the commit, `accepted` after)."""
    assert a.status is not None
    sha = ctx.repo.commit_candidate(a.scratch(ctx), a.parent_sha, a.cid, a.n,
                                    a.status.child_mean, a.summary)
    if harness_digest(ctx.repo.checkout(sha)) != harness_digest(a.scratch(ctx)):
        raise RuntimeError(f"{a.cid}: commit {sha} does not hold the validated files")
    ctx.store.record_commit(a.cid, sha)
    a.refresh(ctx)


def finish(ctx: RunContext, a: Attempt) -> None:
    s = a.status
    assert s is not None
    summary = a.summary or "-"
    if s.status == "invalid":
        summary = f"{summary} (invalid: {s.reason})"
    parent_score = s.parent_mean if s.parent_mean is not None else a.view.scores().get(a.parent)
    ctx.store.record_iteration(a.n, a.cid, a.parent, s.status, summary, parent_score,
                               s.child_mean)
    ctx.repo.remove_scratch(a.cid)
    ctx.repo.drop_export(a.cid)
    if s.status == "accepted":
        ctx.point_main()
    ctx.iteration_done(a.n, a.cid, s.status)
