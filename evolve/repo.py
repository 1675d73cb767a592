"""The harness git repo of a run: `<run_dir>/harness/` (see evolve/store/README.md, "Harness repo").

- The seed harness is the root commit, ref `refs/autodata/candidates/seed`.
- Each accepted candidate is one commit whose parent is its parent candidate's commit, with
  trailers Autodata-Run / -Iteration / -Parent / -Candidate / -Validation-Pass-Rate, and a ref
  `refs/autodata/candidates/<candidate_id>`. Rejected and invalid diffs live only in DuckDB.
- Branch `main` (the checked-out files of harness/) points at the best accepted candidate:
  the runner calls `point_main` after decisions.
- Implementers edit a scratch worktree `<run_dir>/scratch/<candidate_id>/` detached at the parent;
  the candidate diff is what git sees there (`git add -A`, `git diff --cached <parent>`).
- Episodes run on `checkout(sha)`: a plain export under `<run_dir>/checkouts/<sha>/`.
Git runs with the user's global and system config switched off, so results do not depend on them.
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import git
from pydantic import BaseModel, ConfigDict, Field

from inner_loop.errors import UserError

if TYPE_CHECKING:
    from evolve.store import Store

REF_PREFIX = "refs/autodata/candidates/"
SEED_ID = "seed"
ZERO_SHA = "0" * 40
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TRAILER = re.compile(r"^([A-Za-z0-9-]+): (.*)$")
_GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "autodata", "GIT_AUTHOR_EMAIL": "autodata@localhost",
    "GIT_COMMITTER_NAME": "autodata", "GIT_COMMITTER_EMAIL": "autodata@localhost",
}
_STATUS = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed", "C": "copied", "T": "type_changed"}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChangedPath(Strict):
    """One path git reports changed between the parent commit and the staged scratch tree."""

    path: str
    old_path: str | None = None  # renames and copies
    status: Literal["added", "modified", "deleted", "renamed", "copied", "type_changed"]
    letter: str  # git's status letter: A M D R C T
    old_mode: str  # git modes: 100644 file, 100755 executable, 120000 symlink, 160000 submodule
    new_mode: str
    symlink: bool
    submodule: bool
    binary: bool  # git numstat reports "-" (git's own binary detection)
    size_bytes: int | None  # size of the new blob; None for deletions
    added_lines: int | None
    deleted_lines: int | None


class CandidateCommit(Strict):
    candidate_id: str
    commit_sha: str
    parent_sha: str | None
    parent_id: str | None
    iteration: int
    run_id: str | None
    pass_rate: float | None
    trailers: dict[str, str]


class ReconcileReport(Strict):
    seed_recorded: bool = False
    completed: list[str] = Field(default_factory=list)  # committing + ref: completed to accepted
    recommitted: list[str] = Field(default_factory=list)  # committing, no ref: committed again
    restored_refs: list[str] = Field(default_factory=list)  # accepted, ref lost: ref recreated
    deleted_refs: list[str] = Field(default_factory=list)  # ref without a committing event
    removed_scratch: list[str] = Field(default_factory=list)


def check_candidate_id(candidate_id: str) -> str:
    if not _ID.match(candidate_id) or candidate_id.endswith(".lock") or ".." in candidate_id:
        raise ValueError(f"candidate id not usable as a git ref and folder name: {candidate_id!r}")
    return candidate_id


def parse_trailers(message: str) -> dict[str, str]:
    """`Key: value` lines of the message's last paragraph."""
    last = message.strip().split("\n\n")[-1]
    found = [_TRAILER.match(line.strip()) for line in last.splitlines()]
    return {m.group(1): m.group(2).strip() for m in found if m}


def _git(cwd: Path, **extra_env: str) -> git.Git:
    g = git.Git(str(cwd))
    g.update_environment(**_GIT_ENV, **extra_env)
    return g


def _raw(g: git.Git, *args: str) -> str:
    """Run git and return stdout exactly (no stripping: diffs keep their final newline)."""
    return g.execute(["git", *args], strip_newline_in_stdout=False)


def _parse_raw(text: str) -> list[tuple[str, str, str, str, str | None, str]]:
    """`git diff --raw -z --no-abbrev` -> (old_mode, new_mode, new_sha, letter, old_path, path)."""
    tokens, out, i = text.split("\0"), [], 0
    while i < len(tokens) and tokens[i].startswith(":"):
        old_mode, new_mode, _old_sha, new_sha, status = tokens[i][1:].split(" ")
        if status[0] in "RC":
            out.append((old_mode, new_mode, new_sha, status[0], tokens[i + 1], tokens[i + 2]))
            i += 3
        else:
            out.append((old_mode, new_mode, new_sha, status[0], None, tokens[i + 1]))
            i += 2
    return out


def _parse_numstat(text: str) -> dict[str, tuple[int | None, int | None]]:
    """`git diff --numstat -z` -> path -> (added, deleted); None for binary files."""
    tokens, out, i = text.split("\0"), {}, 0
    while i < len(tokens) and tokens[i]:
        added, deleted, path = tokens[i].split("\t", 2)
        if path == "":
            path, i = tokens[i + 2], i + 3
        else:
            i += 1
        out[path] = (None if added == "-" else int(added), None if deleted == "-" else int(deleted))
    return out


class HarnessRepo:
    """One run's harness repo. Share one instance per process: its lock serialises git writes."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir).absolute()  # git runs in other dirs: relative paths break
        self.path = self.run_dir / "harness"
        self._git = _git(self.path)
        self._lock = threading.RLock()

    @classmethod
    def open(cls, run_dir: str | Path) -> "HarnessRepo":
        repo = cls(run_dir)
        if not (repo.path / ".git").exists() or repo.ref_sha(SEED_ID) is None:
            raise UserError(f"{repo.path}: not an autodata harness repo (no seed commit)")
        return repo

    @classmethod
    def init(cls, run_dir: str | Path, seed_dir: str | Path, run_id: str) -> "HarnessRepo":
        """Copy the seed harness into `<run_dir>/harness/` and commit it as the root commit.

        Idempotent: a repo that already has its seed ref is opened as is; a half-made one
        (crash during init: no ref yet) is made again. A repo holding refs is never deleted
        (evolve/repair.py repairs it from DuckDB)."""
        repo = cls(run_dir)
        if (repo.path / ".git").exists() and repo.ref_sha(SEED_ID) is not None:
            return repo
        dot_git = repo.path / ".git"
        if (dot_git / "packed-refs").exists() or any(
                p.is_file() for p in (dot_git / "refs").rglob("*")):
            raise UserError(f"{repo.path}: a harness repo with refs but no readable seed ref; "
                            f"not re-initialised (restore harness/.git from a backup)")
        if not Path(seed_dir).is_dir():
            raise UserError(f"seed harness not found: {seed_dir}")
        shutil.rmtree(repo.path, ignore_errors=True)
        shutil.copytree(seed_dir, repo.path, symlinks=True,
                        ignore=shutil.ignore_patterns(".git", "__pycache__", "*.pyc"))
        _raw(repo._git, "init", "-q", "--initial-branch=main")
        _raw(repo._git, "add", "-A")
        tree = repo._git.write_tree()
        message = f"Seed harness\n\nAutodata-Run: {run_id}\nAutodata-Candidate: {SEED_ID}\n"
        sha = repo._git.commit_tree(tree, "-m", message)
        repo._git.update_ref("refs/heads/main", sha)
        repo._git.update_ref(REF_PREFIX + SEED_ID, sha, ZERO_SHA)
        return repo

    # -- reading -------------------------------------------------------------------------------

    def ref_sha(self, candidate_id: str) -> str | None:
        try:
            return self._git.rev_parse("--verify", "-q", REF_PREFIX + candidate_id + "^{commit}")
        except git.GitCommandError:
            return None

    @property
    def seed_sha(self) -> str:
        sha = self.ref_sha(SEED_ID)
        if sha is None:
            raise UserError(f"{self.path}: no seed commit")
        return sha

    @property
    def run_id(self) -> str | None:
        return self.trailers(self.seed_sha).get("Autodata-Run")

    def main_sha(self) -> str:
        return self._git.rev_parse("refs/heads/main")

    def tree_sha(self, commit_sha: str) -> str:
        """The tree's content address: two commits with the same files have the same tree sha."""
        return self._git.rev_parse(commit_sha + "^{tree}")

    def trailers(self, commit_sha: str) -> dict[str, str]:
        return parse_trailers(_raw(self._git, "log", "-1", "--format=%B", commit_sha))

    def candidate_refs(self) -> dict[str, str]:
        """candidate_id -> commit sha of every ref under refs/autodata/candidates/."""
        out = self._git.for_each_ref("--format=%(refname) %(objectname)", REF_PREFIX)
        pairs = (line.split(" ") for line in out.splitlines() if line)
        return {ref[len(REF_PREFIX):]: sha for ref, sha in pairs}

    def accepted_commits(self) -> list[CandidateCommit]:
        """Every commit reachable from a candidate ref, with its trailers, in iteration order."""
        text = _raw(self._git, "log", "--format=%H%x1f%P%x1f%B%x1e", "--glob=" + REF_PREFIX.rstrip("/"))
        commits = []
        for entry in filter(str.strip, text.split("\x1e")):
            sha, parents, body = entry.strip("\n").split("\x1f")
            t = parse_trailers(body)
            rate = t.get("Autodata-Validation-Pass-Rate")
            commits.append(CandidateCommit(
                candidate_id=t.get("Autodata-Candidate", ""), commit_sha=sha,
                parent_sha=parents.split()[0] if parents else None, parent_id=t.get("Autodata-Parent"),
                iteration=int(t.get("Autodata-Iteration", "0")), run_id=t.get("Autodata-Run"),
                pass_rate=float(rate) if rate else None, trailers=t,
            ))
        return sorted(commits, key=lambda c: (c.iteration, c.candidate_id))

    # -- scratch worktrees ---------------------------------------------------------------------

    def scratch_path(self, candidate_id: str) -> Path:
        return self.run_dir / "scratch" / check_candidate_id(candidate_id)

    def scratch(self, parent_sha: str, candidate_id: str, diff: str | None = None) -> Path:
        """A fresh worktree detached at `parent_sha` for the implementer; with `diff`, re-applied
        (resume rebuilds a proposed candidate's files from its recorded diff)."""
        path = self.scratch_path(candidate_id)
        with self._lock:
            self.remove_scratch(candidate_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            _raw(self._git, "worktree", "add", "-q", "--detach", str(path), parent_sha)
        if diff:
            self._apply(_git(path), diff, "--index")
        return path

    def remove_scratch(self, candidate_id: str) -> bool:
        path = self.scratch_path(candidate_id)
        with self._lock:
            existed = path.exists()
            if existed:
                try:
                    _raw(self._git, "worktree", "remove", "--force", "--force", str(path))
                except git.GitCommandError:
                    shutil.rmtree(path)
            _raw(self._git, "worktree", "prune")
            return existed

    def stage(self, scratch: Path) -> None:
        """`git add -A` in the scratch, then drop ignored files: the folder is exactly the candidate."""
        g = _git(scratch)
        _raw(g, "add", "-A")
        _raw(g, "clean", "-q", "-f", "-d", "-X")

    def diff(self, scratch: Path) -> str:
        """The candidate diff against its parent (the scratch's HEAD), as git computes it."""
        self.stage(scratch)
        return _raw(_git(scratch), "diff", "--cached", "-M", "--no-color", "--no-ext-diff", "HEAD")

    def staged_tree(self, scratch: Path) -> str:
        """The tree sha of the scratch's files as a commit of them would hold them."""
        self.stage(scratch)
        return _git(scratch).write_tree()

    def changed_paths(self, scratch: Path) -> list[ChangedPath]:
        self.stage(scratch)
        g = _git(scratch)
        raw = _parse_raw(_raw(g, "diff", "--cached", "-M", "--raw", "-z", "--no-abbrev", "HEAD"))
        numstat = _parse_numstat(_raw(g, "diff", "--cached", "-M", "--numstat", "-z", "HEAD"))
        out = []
        for old_mode, new_mode, new_sha, letter, old_path, path in raw:
            added, deleted = numstat.get(path, (None, None))
            size = None if letter == "D" or new_mode == "160000" else int(g.cat_file("-s", new_sha))
            mode = old_mode if letter == "D" else new_mode
            out.append(ChangedPath(
                path=path, old_path=old_path, status=_STATUS[letter], letter=letter, old_mode=old_mode,
                new_mode=new_mode, symlink=mode == "120000", submodule=mode == "160000",
                binary=path in numstat and added is None, size_bytes=size,
                added_lines=added, deleted_lines=deleted,
            ))
        return out

    def checkout(self, commit_sha: str) -> Path:
        """The files of a commit under `<run_dir>/checkouts/<sha>/` (no .git), made once."""
        dest = self.run_dir / "checkouts" / commit_sha
        if dest.is_dir():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{commit_sha}.", dir=dest.parent))
        with tempfile.TemporaryFile() as archive:
            git.Repo(self.path).archive(archive, treeish=commit_sha, format="tar")
            archive.seek(0)
            with tarfile.open(fileobj=archive) as tar:
                tar.extractall(tmp, filter="data")
        try:
            os.rename(tmp, dest)
        except OSError:  # another thread made it first
            shutil.rmtree(tmp)
        return dest

    # -- writing -------------------------------------------------------------------------------

    def _apply(self, g: git.Git, diff: str, *flags: str) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".patch", delete=False, encoding="utf-8") as f:
            f.write(diff)
        try:
            _raw(g, "apply", *flags, f.name)
        finally:
            os.unlink(f.name)

    def _tree_from(self, source: Path | str, parent_sha: str) -> str:
        if isinstance(source, Path):
            head = _git(source).rev_parse("HEAD")
            if head != parent_sha:
                raise ValueError(f"scratch {source} is at {head}, not the parent {parent_sha}")
            self.stage(source)
            return _git(source).write_tree()
        with tempfile.TemporaryDirectory() as tmp:
            g = _git(self.path, GIT_INDEX_FILE=str(Path(tmp) / "index"))
            g.read_tree(parent_sha)
            if source.strip():
                self._apply(g, source, "--cached")
            return g.write_tree()

    def commit_candidate(self, source: Path | str, parent_sha: str, candidate_id: str, iteration: int,
                         score: float | None, summary: str = "") -> str:
        """Commit an accepted candidate (from its scratch, or its recorded diff) on its parent.

        Idempotent: when the candidate's ref exists (on the same parent) its sha is returned."""
        check_candidate_id(candidate_id)
        with self._lock:
            existing = self.ref_sha(candidate_id)
            if existing is not None:
                if self._git.rev_parse(existing + "^") != parent_sha:
                    raise ValueError(f"ref of {candidate_id} exists on another parent")
                return existing
            parent_id = self.trailers(parent_sha).get("Autodata-Candidate")
            if parent_id is None:
                raise ValueError(f"parent {parent_sha} is not a candidate commit")
            tree = self._tree_from(source, parent_sha)
            rate = "n/a" if score is None else f"{score:.4f}"
            subject = f"{candidate_id}: {summary}" if summary else f"Candidate {candidate_id}"
            message = (f"{subject.splitlines()[0][:200]}\n\nAutodata-Run: {self.run_id}\n"
                       f"Autodata-Iteration: {iteration}\nAutodata-Parent: {parent_id}\n"
                       f"Autodata-Candidate: {candidate_id}\nAutodata-Validation-Pass-Rate: {rate}\n")
            sha = self._git.commit_tree(tree, "-p", parent_sha, "-m", message)
            self._git.update_ref(REF_PREFIX + candidate_id, sha, ZERO_SHA)
            return sha

    def delete_ref(self, candidate_id: str) -> None:
        with self._lock:
            self._git.update_ref("-d", REF_PREFIX + candidate_id)

    def point_main(self, commit_sha: str) -> None:
        """Move `main` (and harness/'s files) to an accepted candidate, normally the best one."""
        with self._lock:
            _raw(self._git, "reset", "-q", "--hard", commit_sha)

    def reconcile(self, store: "Store") -> ReconcileReport:
        """Make git agree with DuckDB after a crash. DuckDB's `committing` event is written BEFORE
        the commit and `accepted` (with the commits row) AFTER it, so:
        - a ref whose attempt is `committing` is completed to accepted (record_commit);
        - a `committing` attempt without a ref is committed again from its recorded diff;
        - a ref whose attempt never reached `committing` (or is unknown) is deleted;
        - an `accepted` attempt whose ref is gone gets the ref back (its commit must exist);
        - scratch worktrees are removed (resume rebuilds them from recorded diffs);
        - `main` that points at no candidate ref goes back to the seed."""
        report = ReconcileReport()
        with self._lock:
            report.removed_scratch = self._remove_all_scratch()
            if SEED_ID not in store.attempt_states():
                report.seed_recorded = store.record_seed(self.seed_sha)
            self._reconcile_refs(store, report)
            self._reconcile_rows(store, report)
            refs = self.candidate_refs()
            if self.main_sha() not in refs.values():
                self.point_main(refs[SEED_ID])
        return report

    def _remove_all_scratch(self) -> list[str]:
        root = self.run_dir / "scratch"
        removed = [p.name for p in sorted(root.iterdir())] if root.is_dir() else []
        for name in removed:
            if not self.remove_scratch(name) and (root / name).exists():
                shutil.rmtree(root / name)
        _raw(self._git, "worktree", "prune")
        return removed

    def _reconcile_refs(self, store: "Store", report: ReconcileReport) -> None:
        states = store.attempt_states()
        rows = {s.candidate_id: s for s in store.candidate_statuses()}
        for candidate_id, sha in sorted(self.candidate_refs().items()):
            state = states.get(candidate_id)
            if state == "accepted":
                if rows[candidate_id].commit_sha != sha:
                    raise UserError(f"{self.path}: ref of {candidate_id} is {sha}, DuckDB says "
                                    f"{rows[candidate_id].commit_sha}; the run folder was changed by hand")
            elif state == "committing":
                store.record_commit(candidate_id, sha)
                report.completed.append(candidate_id)
            else:
                self.delete_ref(candidate_id)
                report.deleted_refs.append(candidate_id)

    def _reconcile_rows(self, store: "Store", report: ReconcileReport) -> None:
        refs = self.candidate_refs()
        for row in store.candidate_statuses():  # iteration order: parents before children
            if row.candidate_id in refs or row.state not in ("committing", "accepted"):
                continue
            if row.state == "accepted":
                try:
                    self._git.update_ref(REF_PREFIX + row.candidate_id, row.commit_sha, ZERO_SHA)
                except git.GitCommandError:
                    raise UserError(f"{self.path}: commit {row.commit_sha} of accepted candidate "
                                    f"{row.candidate_id} is missing from the repo") from None
                report.restored_refs.append(row.candidate_id)
            else:
                diff = store.get_blob(row.diff_blob) if row.diff_blob else ""
                sha = self.commit_candidate(diff, refs[row.parent_id], row.candidate_id, row.iteration,
                                            row.child_mean, row.summary or "")
                store.record_commit(row.candidate_id, sha)
                report.recommitted.append(row.candidate_id)
            refs[row.candidate_id] = self.ref_sha(row.candidate_id)  # type: ignore[assignment]
