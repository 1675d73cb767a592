"""A harness directory: its manifest (`harness.toml`), validation and prompt rendering.

A harness is untrusted data. `load_harness(dir)` checks it completely before anything runs it:
manifest present and valid; every declared prompt file exists, is UTF-8 text, and uses only its
declared `string.Template` variables; every `.py` file compiles (without being imported); no
symlinks, hard links or special files, no path escaping the directory, no file name that is not
UTF-8, at most MAX_FILES files and MAX_TOTAL_BYTES in all (counted from `lstat` before any file is
read), no file over 256 KB, no binary file. Any problem raises `HarnessInvalid` with a one-line
reason, whatever the input (a 5,000-deep expression, a name the OS refuses, an unreadable file).
`harness_digest(dir)` is the content address of a harness (its version when it is not in git).

`always_protected` (manifest.py): the manifest, git's own control files and anything under `.git` are never
editable, whatever the manifest's globs say (a candidate could otherwise widen its descendants'
globs or make git commit other files than the ones validated).
"""

from __future__ import annotations

import hashlib
import os
import stat
import string
from pathlib import Path

from inner_loop.manifest import (  # noqa: F401 — the manifest's names, as harness users know them
    GIT_CONTROL_FILES, MANIFEST, HarnessInvalid, HarnessSection, Manifest, PromptSpec,
    always_protected, parse_manifest,
)

MAX_FILE_BYTES = 256 * 1024
MAX_FILES = 256  # files in a harness (the seed has 9)
MAX_TOTAL_BYTES = 4 * 1024 * 1024  # all files together


class PromptRenderError(ValueError):
    """A harness prompt was rendered with a missing or an undeclared variable."""


class Harness:
    """A validated harness: its directory, manifest, prompt templates and content digest."""

    def __init__(self, root: Path, manifest: Manifest, templates: dict[str, string.Template],
                 digest: str):
        self.root = root
        self.manifest = manifest
        self.templates = templates
        self.digest = digest

    @property
    def entry(self) -> Path:
        return self.root / self.manifest.harness.entry

    def render(self, name: str, **variables: str) -> str:
        """Render prompt `name` with strict substitution: missing or undeclared → error."""
        if name not in self.templates:
            raise PromptRenderError(f"unknown prompt {name!r}; declared: {sorted(self.templates)}")
        unknown = sorted(set(variables) - set(self.manifest.prompts[name].variables))
        if unknown:
            raise PromptRenderError(f"prompt {name!r}: undeclared variables {unknown}")
        try:
            return self.templates[name].substitute(variables)
        except KeyError as exc:
            raise PromptRenderError(f"prompt {name!r}: missing variable {exc.args[0]!r}") from None

    def prompt_table(self) -> dict[str, dict]:
        """What the sandboxed child needs to render prompts: name → {text, variables, role}."""
        return {
            name: {"text": self.templates[name].template, "variables": spec.variables,
                   "role": spec.role}
            for name, spec in self.manifest.prompts.items()
        }


def _rel(root: Path, path: Path) -> str:
    rel = path.relative_to(root).as_posix()
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise HarnessInvalid(f"file name is not UTF-8: {rel!r}") from None
    return rel


def walk_files(root: Path) -> list[Path]:
    """Every file under root except `.git/`, checked from `lstat` before anything is read: no
    symlink, hard link or special file, at most MAX_FILES files and MAX_TOTAL_BYTES in all."""
    files: list[Path] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=_walk_error):
        here = Path(dirpath)
        if here == root:  # .git: a directory, or a file in a worktree checkout
            dirnames[:] = [d for d in dirnames if d != ".git"]
            filenames = [f for f in filenames if f != ".git"]
        for name in sorted(dirnames) + sorted(filenames):
            path = here / name
            rel = _rel(root, path)
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                raise HarnessInvalid(f"symlink not allowed: {rel}")
            if name not in filenames:
                continue
            if not stat.S_ISREG(st.st_mode):
                raise HarnessInvalid(f"not a regular file: {rel}")
            if st.st_nlink > 1:
                raise HarnessInvalid(f"hard link not allowed: {rel} ({st.st_nlink} links)")
            total += st.st_size
            files.append(path)
            if len(files) > MAX_FILES:
                raise HarnessInvalid(f"too many files: more than {MAX_FILES}")
            if total > MAX_TOTAL_BYTES:
                raise HarnessInvalid(f"harness too large: more than {MAX_TOTAL_BYTES} bytes")
    return sorted(files)


def _walk_error(exc: OSError) -> None:
    raise exc


def _check_file(root: Path, path: Path) -> bytes:
    rel = path.relative_to(root).as_posix()
    size = path.lstat().st_size
    if size > MAX_FILE_BYTES:
        raise HarnessInvalid(f"file too large: {rel} ({size} bytes > {MAX_FILE_BYTES})")
    data = path.read_bytes()
    if b"\0" in data:
        raise HarnessInvalid(f"binary file not allowed: {rel}")
    if path.suffix == ".py":
        try:
            compile(data, rel, "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise HarnessInvalid(f"{rel}:{exc.lineno}: does not compile: {exc.msg}") from None
        except ValueError as exc:
            raise HarnessInvalid(f"{rel}: does not compile: {exc}") from None
        except (RecursionError, MemoryError, OverflowError) as exc:  # a 5,000-deep expression
            raise HarnessInvalid(f"{rel}: does not compile: nested too deeply for the compiler "
                                 f"({type(exc).__name__})") from None
    return data


def _parse_manifest(root: Path) -> Manifest:
    path = root / MANIFEST
    if path.is_symlink() or not path.is_file():
        raise HarnessInvalid(f"manifest missing: {MANIFEST} not found in {root}")
    if path.lstat().st_size > MAX_FILE_BYTES:
        raise HarnessInvalid(f"file too large: {MANIFEST}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise HarnessInvalid(f"{MANIFEST}: invalid TOML: {exc}") from None
    return parse_manifest(text)


def _load_template(name: str, spec: PromptSpec, contents: dict[str, bytes]) -> string.Template:
    if spec.file not in contents:
        raise HarnessInvalid(f"prompt {name!r}: file {spec.file} not found")
    try:
        text = contents[spec.file].decode("utf-8")
    except UnicodeDecodeError:
        raise HarnessInvalid(f"prompt {name!r}: {spec.file} is not UTF-8 text") from None
    template = string.Template(text)
    if not template.is_valid():
        raise HarnessInvalid(
            f"prompt {name!r}: {spec.file} has an invalid placeholder (write $$ for a literal $)")
    unknown = sorted(set(template.get_identifiers()) - set(spec.variables))
    if unknown:
        raise HarnessInvalid(
            f"prompt {name!r}: {spec.file} uses undeclared variables {unknown} "
            f"(declared: {spec.variables})")
    return template


def _digest(items: list[tuple[str, bytes]]) -> str:
    h = hashlib.sha256()
    for rel, data in sorted(items):
        h.update(rel.encode("utf-8") + b"\0" + str(len(data)).encode() + b"\0" + data)
    return h.hexdigest()


def load_harness(directory: str | Path) -> Harness:
    """Validate the harness at `directory` completely; raise HarnessInvalid(reason) if it is not."""
    root = Path(directory).absolute()
    try:
        return _load(root)
    except OSError as exc:  # a name the OS refuses, an unreadable file or folder
        where = f" {Path(exc.filename).name[:80]!r}" if exc.filename else ""
        raise HarnessInvalid(f"cannot read{where}: {exc.strerror or exc}") from None


def _load(root: Path) -> Harness:
    if not root.is_dir():
        raise HarnessInvalid(f"harness directory not found: {root}")
    if root.is_symlink():
        raise HarnessInvalid(f"harness directory is a symlink: {root}")
    files = walk_files(root)  # lstat checks of every file before any is read
    manifest = _parse_manifest(root)
    contents = {p.relative_to(root).as_posix(): _check_file(root, p) for p in files}
    if manifest.harness.entry not in contents:
        raise HarnessInvalid(f"entry {manifest.harness.entry} not found")
    templates = {name: _load_template(name, spec, contents)
                 for name, spec in manifest.prompts.items()}
    return Harness(root, manifest, templates, _digest(list(contents.items())))


def harness_digest(directory: str | Path) -> str:
    """sha256 over the sorted (path, content) of every file except `.git/`."""
    root = Path(directory).absolute()
    items = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        if here == root:
            dirnames[:] = [d for d in dirnames if d != ".git"]
            filenames = [f for f in filenames if f != ".git"]
        for name in dirnames + filenames:
            path = here / name
            if path.is_symlink():
                data = b"symlink:" + os.readlink(path).encode()
            elif name in filenames:
                data = path.read_bytes()
            else:
                continue
            items.append((path.relative_to(root).as_posix(), data))
    return _digest(items)
