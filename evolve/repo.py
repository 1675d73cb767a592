"""The harness git repo of a run: `<run_dir>/harness/` (see evolve/store/README.md, "Harness repo").

- The seed harness is the root commit, ref `refs/autodata/candidates/seed`.
- Each accepted candidate is one commit whose parent is its parent candidate's commit, with
  trailers Autodata-Run / -Iteration / -Parent / -Candidate / -Validation-Pass-Rate, and a ref
  `refs/autodata/candidates/<candidate_id>`. Rejected and invalid diffs live only in DuckDB.
- Branch `main` (harness/'s checked-out files) is the best accepted candidate (`point_main`).
- Implementers edit a scratch worktree `<run_dir>/scratch/<candidate_id>/` detached at the parent;
  the candidate diff is what git sees there (`git add -A`, `git diff --cached <parent>`).
- Episodes run on `checkout(sha)`: a plain export under `<run_dir>/checkouts/<sha>/`; a candidate
  not yet committed runs on `export(candidate_id, scratch)`, a clean copy of its files (no .git)
  under `<run_dir>/candidates/<candidate_id>/`.
- After a crash, evolve/reconcile.py makes git agree with DuckDB. Git runs with the user's
  global and system config off (evolve/changes.py), so results do not depend on them.
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import tempfile
import threading
from pathlib import Path

import git

from inner_loop.errors import UserError
from inner_loop.strict import Strict
from evolve.changes import ChangedPath, changed_paths, git_at, run_git
from evolve.paths import RunPaths

REF_PREFIX = "refs/autodata/candidates/"
SEED_ID = "seed"
ZERO_SHA = "0" * 40
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TRAILER = re.compile(r"^([A-Za-z0-9-]+): (.*)$")


class CandidateCommit(Strict):
    candidate_id: str
    commit_sha: str
    parent_sha: str | None
    parent_id: str | None
    iteration: int
    run_id: str | None
    pass_rate: float | None
    trailers: dict[str, str]


def check_candidate_id(candidate_id: str) -> str:
    if not _ID.match(candidate_id) or candidate_id.endswith(".lock") or ".." in candidate_id:
        raise ValueError(f"candidate id not usable as a git ref and folder name: {candidate_id!r}")
    return candidate_id


def parse_trailers(message: str) -> dict[str, str]:
    """`Key: value` lines of the message's last paragraph."""
    last = message.strip().split("\n\n")[-1]
    found = [_TRAILER.match(line.strip()) for line in last.splitlines()]
    return {m.group(1): m.group(2).strip() for m in found if m}


class HarnessRepo:
    """One run's harness repo. Share one instance per process: its lock serialises git writes."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir).absolute()  # git runs in other dirs: relative paths break
        self.paths = RunPaths(self.run_dir)
        self.path = self.paths.harness
        self._git = git_at(self.path)
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
        run_git(repo._git, "init", "-q", "--initial-branch=main")
        run_git(repo._git, "add", "-A")
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
        return parse_trailers(run_git(self._git, "log", "-1", "--format=%B", commit_sha))

    def candidate_refs(self) -> dict[str, str]:
        """candidate_id -> commit sha of every ref under refs/autodata/candidates/."""
        out = self._git.for_each_ref("--format=%(refname) %(objectname)", REF_PREFIX)
        pairs = (line.split(" ") for line in out.splitlines() if line)
        return {ref[len(REF_PREFIX):]: sha for ref, sha in pairs}

    def accepted_commits(self) -> list[CandidateCommit]:
        """Every commit reachable from a candidate ref, with its trailers, in iteration order."""
        text = run_git(self._git, "log", "--format=%H%x1f%P%x1f%B%x1e", "--glob=" + REF_PREFIX.rstrip("/"))
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
        return self.paths.scratch / check_candidate_id(candidate_id)

    def scratch(self, parent_sha: str, candidate_id: str, diff: str | None = None) -> Path:
        """A fresh worktree detached at `parent_sha` for the implementer; with `diff`, re-applied
        (resume rebuilds a proposed candidate's files from its recorded diff)."""
        path = self.scratch_path(candidate_id)
        with self._lock:
            self.remove_scratch(candidate_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            run_git(self._git, "worktree", "add", "-q", "--detach", str(path), parent_sha)
        if diff:
            self._apply(git_at(path), diff, "--index")
        return path

    def remove_scratch(self, candidate_id: str) -> bool:
        path = self.scratch_path(candidate_id)
        with self._lock:
            existed = path.exists()
            if existed:
                try:
                    run_git(self._git, "worktree", "remove", "--force", "--force", str(path))
                except git.GitCommandError:
                    shutil.rmtree(path)
            run_git(self._git, "worktree", "prune")
            return existed

    def stage(self, scratch: Path) -> None:
        """`git add -A` in the scratch, then drop ignored files: the folder is exactly the candidate."""
        g = git_at(scratch)
        run_git(g, "add", "-A")
        run_git(g, "clean", "-q", "-f", "-d", "-X")

    def diff(self, scratch: Path) -> str:
        """The candidate diff against its parent (the scratch's HEAD), as git computes it."""
        self.stage(scratch)
        return run_git(git_at(scratch), "diff", "--cached", "-M", "--no-color", "--no-ext-diff", "HEAD")

    def staged_tree(self, scratch: Path) -> str:
        """The tree sha of the scratch's files as a commit of them would hold them."""
        self.stage(scratch)
        return git_at(scratch).write_tree()

    def changed_paths(self, scratch: Path) -> list[ChangedPath]:
        """What git sees changed in the scratch against its parent (evolve/changes.py)."""
        self.stage(scratch)
        return changed_paths(git_at(scratch))

    def checkout(self, commit_sha: str) -> Path:
        """The files of a commit under `<run_dir>/checkouts/<sha>/` (no .git), made once."""
        dest = self.paths.checkouts / commit_sha
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

    def export(self, candidate_id: str, tree: Path) -> Path:
        """A clean copy of a candidate's files (no .git) under candidates/, for its episodes."""
        dest = self.paths.candidates / check_candidate_id(candidate_id)
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(tree, dest, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        return dest

    def drop_export(self, candidate_id: str) -> None:
        shutil.rmtree(self.paths.candidates / check_candidate_id(candidate_id),
                      ignore_errors=True)

    # -- writing -------------------------------------------------------------------------------

    def _apply(self, g: git.Git, diff: str, *flags: str) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".patch", delete=False, encoding="utf-8") as f:
            f.write(diff)
        try:
            run_git(g, "apply", *flags, f.name)
        finally:
            os.unlink(f.name)

    def _tree_from(self, source: Path | str, parent_sha: str) -> str:
        if isinstance(source, Path):
            head = git_at(source).rev_parse("HEAD")
            if head != parent_sha:
                raise ValueError(f"scratch {source} is at {head}, not the parent {parent_sha}")
            self.stage(source)
            return git_at(source).write_tree()
        with tempfile.TemporaryDirectory() as tmp:
            g = git_at(self.path, GIT_INDEX_FILE=str(Path(tmp) / "index"))
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
            run_git(self._git, "reset", "-q", "--hard", commit_sha)
