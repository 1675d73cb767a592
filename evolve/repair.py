"""Repair, never delete: the harness repo of a run with recorded candidates is made whole again.

DuckDB records the commit sha of every accepted candidate (`commits`) after its git commit and
ref exist, so it is the authority on what `refs/autodata/candidates/*` must hold. A power loss or
a hand edit can break single files of `harness/.git`; `open_harness` (called by `drive` under the
run lock, before reconcile) repairs them:

- `HEAD` empty, garbage or elsewhere    rewritten to `ref: refs/heads/main`
- a loose ref empty or garbage            set aside, then recreated from DuckDB
- `packed-refs` truncated or garbage      its unreadable lines set aside, the refs recreated
- a candidate ref on the wrong commit     moved back to the commit DuckDB recorded
- `refs/heads/main` missing or dangling   pointed at the seed (the run points it at the best)
- `index` deleted or unreadable           rebuilt from `main`
- `config` missing                        rewritten (a plain non-bare repository)

Damaged files are moved to `harness/.git/autodata-damaged/`, never deleted. When an object a
recorded candidate needs is missing (its commit, a tree or a blob of it), or `.git` is gone, the
run is refused with one line naming what is missing and how to recover; nothing is rewritten.
A run folder with no recorded candidate may still be initialised from the seed harness.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import git
from pydantic import BaseModel, ConfigDict, Field

from evolve.changes import run_git
from evolve.repo import REF_PREFIX, SEED_ID, HarnessRepo
from inner_loop.errors import UserError

if TYPE_CHECKING:
    from evolve.store import Store

_SHA = re.compile(r"^[0-9a-f]{40}$")
_PACKED = re.compile(r"^(?:# pack-refs with:.*|[0-9a-f]{40} refs/\S+|\^[0-9a-f]{40})$")
_CONFIG = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
DAMAGED = "autodata-damaged"


class RepairRefused(UserError):
    """The repo lacks what DuckDB recorded; resume would lose history, so it stops."""


class RepairReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    set_aside: list[str] = Field(default_factory=list)  # damaged files moved to autodata-damaged/
    head_fixed: bool = False
    restored_refs: list[str] = Field(default_factory=list)  # recreated or moved back from DuckDB
    main_fixed: bool = False
    index_rebuilt: bool = False
    config_fixed: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.set_aside or self.head_fixed or self.restored_refs or self.main_fixed
                    or self.index_rebuilt or self.config_fixed)


def recorded_commits(store: "Store") -> dict[str, str]:
    """candidate_id -> commit sha of every accepted candidate DuckDB holds (the seed included)."""
    return {r["candidate_id"]: r["commit_sha"]
            for r in store.query("SELECT candidate_id, commit_sha FROM commits ORDER BY candidate_id")}


def open_harness(run_dir: Path, store: "Store", seed_dir: str | Path, run_id: str
                 ) -> tuple[HarnessRepo, RepairReport]:
    """The run's harness repo, repaired from DuckDB; made from the seed only when DuckDB has
    no recorded candidate (a new run, or a crash during its first init)."""
    dot_git = Path(run_dir).absolute() / "harness" / ".git"
    report = RepairReport()
    recorded = recorded_commits(store)
    if dot_git.is_dir():
        fix_files(dot_git, report)
    if not recorded and not store.query("SELECT 1 FROM candidates LIMIT 1"):
        return HarnessRepo.init(run_dir, seed_dir, run_id), report
    if not dot_git.is_dir():
        raise RepairRefused(
            f"{dot_git} is missing but DuckDB records {len(recorded)} accepted candidate(s); "
            f"restore harness/.git from a backup to resume (the run is not re-initialised)")
    repo = HarnessRepo(run_dir)
    check_objects(repo, recorded)
    restore_refs(repo, recorded, report)
    return repo, report


def _set_aside(dot_git: Path, path: Path, report: RepairReport) -> None:
    dest = dot_git / DAMAGED / f"{path.relative_to(dot_git).as_posix().replace('/', '_')}.{time.time_ns()}"
    dest.parent.mkdir(exist_ok=True)
    path.rename(dest)
    report.set_aside.append(path.relative_to(dot_git).as_posix())


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("ascii")
    except (OSError, UnicodeDecodeError):
        return None


def fix_files(dot_git: Path, report: RepairReport) -> None:
    """File-level repairs git itself cannot do (it refuses to start on an empty HEAD or a
    truncated packed-refs)."""
    head = dot_git / "HEAD"
    text = _read(head) if head.exists() else ""
    if text != "ref: refs/heads/main\n":  # harness/ always has main checked out
        if head.exists():
            _set_aside(dot_git, head, report)
        head.write_text("ref: refs/heads/main\n")
        report.head_fixed = True
    if not (dot_git / "config").is_file():
        (dot_git / "config").write_text(_CONFIG)
        report.config_fixed = True
    packed = dot_git / "packed-refs"
    if packed.exists():
        text = _read(packed)
        lines = (text or "").split("\n")
        good = [ln for ln in lines[:-1] if _PACKED.match(ln)] if text else []
        if text is None or lines[-1] != "" or len(good) != len(lines) - 1:
            _set_aside(dot_git, packed, report)
            packed.write_text("".join(ln + "\n" for ln in good if not ln.startswith("#")))
    refs = dot_git / "refs"
    for path in sorted(p for p in refs.rglob("*") if p.is_file()) if refs.is_dir() else []:
        text = _read(path)
        if text is None or not (_SHA.match(text.strip()) or text.startswith("ref: refs/")):
            _set_aside(dot_git, path, report)


def check_objects(repo: HarnessRepo, recorded: dict[str, str]) -> None:
    """Every object of every recorded commit is present, or one line says which is missing."""
    g = repo._git
    for candidate_id, sha in sorted(recorded.items()):
        try:
            run_git(g, "rev-list", "--objects", "--quiet", sha)  # walks commit, trees and blobs
        except git.GitCommandError as exc:
            what = "its commit" if _missing_commit(g, sha) else "an object of its files"
            raise RepairRefused(
                f"{repo.path}/.git lacks {what} ({sha[:12]}) of accepted candidate {candidate_id} "
                f"recorded in DuckDB ({_first_line(exc)}); restore harness/.git from a backup "
                f"or a clone to resume (nothing was changed)") from None


def _missing_commit(g: git.Git, sha: str) -> bool:
    try:
        run_git(g, "cat-file", "-e", sha + "^{commit}")
        return False
    except git.GitCommandError:
        return True


def _first_line(exc: git.GitCommandError) -> str:
    lines = [ln.strip() for ln in str(exc.stderr or exc).splitlines() if ln.strip()]
    return (lines[0] if lines else "git failed").strip("'").removeprefix("stderr: ").strip("'")


def restore_refs(repo: HarnessRepo, recorded: dict[str, str], report: RepairReport) -> None:
    """Candidate refs to the recorded shas; `main` to a commit that exists; the index back."""
    g = repo._git
    for candidate_id, sha in sorted(recorded.items()):
        if repo.ref_sha(candidate_id) != sha:
            g.update_ref(REF_PREFIX + candidate_id, sha)
            report.restored_refs.append(candidate_id)
    try:
        g.rev_parse("--verify", "-q", "refs/heads/main^{commit}")
    except git.GitCommandError:
        g.update_ref("refs/heads/main", recorded.get(SEED_ID) or repo.seed_sha)
        report.main_fixed = True
    index = repo.path / ".git" / "index"
    if not index.is_file() or report.main_fixed or report.head_fixed or not _index_ok(g):
        if index.exists() and not _index_ok(g):
            _set_aside(repo.path / ".git", index, report)
        run_git(g, "reset", "-q", "--hard", "refs/heads/main")
        report.index_rebuilt = True


def _index_ok(g: git.Git) -> bool:
    try:
        run_git(g, "ls-files", "--stage")
        return True
    except git.GitCommandError:
        return False
