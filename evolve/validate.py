"""Validate a candidate before any validation paper is spent on it.

`check_tree` runs first, on the scratch folder before git hashes anything: from `lstat` only, no
symlink, hard link or special file, no file name that is not UTF-8, at most MAX_FILES files and
MAX_TOTAL_BYTES in all (a 1 GB sparse file or 5,000 files never reach git).
Then, in order: git's changed paths are not empty ("no change"), none escapes the directory, the
manifest is neither deleted nor renamed, every changed path matches the parent manifest's editable
globs and is not `always_protected` (manifest, .gitignore, .gitattributes, .gitmodules, .git/),
no added or modified file is a symlink, binary or over 256 KB, `load_harness` passes, the tree is
not the tree of an earlier candidate (`same_tree`), git would hand out exactly these files for
it (`archive_reason`: no attribute such as `export-ignore` changes a checkout), and a quick
smoke episode (one train paper, `max_rounds=1`) runs without a harness error. The first failure
is the candidate's `invalid` reason, one line whatever the input; `None` means valid. After an
accepted candidate is committed, the loop checks the commit's files are the validated files.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from inner_loop.episode import EpisodeRecord
from inner_loop.harness import (
    MANIFEST, MAX_FILE_BYTES, HarnessInvalid, Manifest, always_protected, harness_digest,
    load_harness, walk_files,
)
from evolve.repo import ChangedPath, HarnessRepo


def check_tree(root: Path) -> str | None:
    """Why the candidate's folder may not reach git (from lstat only), or None."""
    try:
        walk_files(Path(root).absolute())
    except HarnessInvalid as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot read the candidate's files: {exc.strerror or exc}"
    return None


def _escapes(path: str) -> bool:
    p = PurePosixPath(path)
    return not path or p.is_absolute() or "\\" in path or ".." in p.parts


def _path_reason(change: ChangedPath, manifest: Manifest) -> str | None:
    for path in (change.path, change.old_path):
        if path is not None and _escapes(path):
            return f"path escapes the harness directory: {path}"
    if change.letter == "D" and change.path == MANIFEST:
        return f"manifest deleted: {MANIFEST}"
    if change.letter in "RC" and MANIFEST in (change.path, change.old_path):
        return f"manifest renamed: {change.old_path} -> {change.path}"
    for path in (change.path, change.old_path):
        if path is not None and (always_protected(path) or not manifest.is_editable(path)):
            return f"protected path changed: {path}"
    return None


def _file_reason(root: Path, change: ChangedPath) -> str | None:
    """Git's view of the new blob (mode, size, binary) and the file on disk must both be clean."""
    if change.letter == "D":
        return None
    full = root / change.path
    if change.symlink or full.is_symlink():
        return f"symlink not allowed: {change.path}"
    if change.submodule or not full.is_file():
        return f"not a regular file: {change.path}"
    size = max(change.size_bytes or 0, full.stat().st_size)
    if size > MAX_FILE_BYTES:
        return f"file too large: {change.path} ({size} bytes > {MAX_FILE_BYTES})"
    if change.binary or b"\0" in full.read_bytes():
        return f"binary file not allowed: {change.path}"
    return None


def check_changes(root: Path, manifest: Manifest, changes: Sequence[ChangedPath]) -> str | None:
    """The reason the diff is not acceptable, or None. `changes` are git's changed paths in the
    scratch worktree `root` (HarnessRepo.changed_paths); `manifest` is the PARENT's manifest."""
    if not changes:
        return "no change"
    for change in changes:
        try:
            reason = _path_reason(change, manifest) or _file_reason(Path(root), change)
        except OSError as exc:  # e.g. a name the OS refuses
            reason = f"cannot read {change.path[:80]!r}: {exc.strerror or exc}"
        if reason:
            return reason
    try:
        load_harness(root)
    except HarnessInvalid as exc:
        return f"harness does not load: {exc}"
    return None


def archive_reason(repo: HarnessRepo, tree: Path, tree_sha: str) -> str | None:
    """The files git hands out for `tree_sha` (its attributes applied, as every checkout of a
    commit of it) must be the files validated in `tree`: else a commit is not the candidate."""
    archived = repo.checkout(tree_sha)
    try:
        if harness_digest(archived) != harness_digest(tree):
            return "the committed files would differ from the validated files (git attributes?)"
    finally:
        shutil.rmtree(archived, ignore_errors=True)
    return None


def same_tree(tree_sha: str, earlier: dict[str, str]) -> str | None:
    """`earlier`: tree sha -> the earlier candidate with that tree. A duplicate is invalid before
    any episode is spent on it."""
    other = earlier.get(tree_sha)
    return f"same tree as {other}" if other is not None else None


SMOKE_FAILURES = {"harness_error": "harness error", "timeout": "timeout"}


def smoke_reason(record: EpisodeRecord) -> str | None:
    """Why a smoke episode shows a broken harness (it crashed or hung), or None when it ran."""
    what = SMOKE_FAILURES.get(record.status)
    if what is None:
        return None
    return f"smoke episode: {what}: {' '.join(str(record.error or '').split())[:300]}"
