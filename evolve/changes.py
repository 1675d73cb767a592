"""Git as the outer loop runs it, and a candidate's changes as git reports them.

Git runs with the user's global and system config switched off (`_git`), so results do not
depend on them. `changed_paths` turns `git diff --cached --raw -z` and `--numstat -z` of a staged
scratch worktree against its HEAD (the parent) into `ChangedPath` rows: what evolve/validate.py
checks and DuckDB records (`proposals.changed_paths_json`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import git

from inner_loop.strict import Strict

_GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "autodata", "GIT_AUTHOR_EMAIL": "autodata@localhost",
    "GIT_COMMITTER_NAME": "autodata", "GIT_COMMITTER_EMAIL": "autodata@localhost",
}
_STATUS = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed", "C": "copied", "T": "type_changed"}


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


def git_at(cwd: Path, **extra_env: str) -> git.Git:
    g = git.Git(str(cwd))
    g.update_environment(**_GIT_ENV, **extra_env)
    return g


def run_git(g: git.Git, *args: str) -> str:
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


def changed_paths(g: git.Git) -> list[ChangedPath]:
    """The staged changes of the worktree `g` runs in, against its HEAD."""
    raw = _parse_raw(run_git(g, "diff", "--cached", "-M", "--raw", "-z", "--no-abbrev", "HEAD"))
    numstat = _parse_numstat(run_git(g, "diff", "--cached", "-M", "--numstat", "-z", "HEAD"))
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
