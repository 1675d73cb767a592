"""A harness directory: its manifest (`harness.toml`), validation and prompt rendering.

A harness is untrusted data. `load_harness(dir)` checks it completely before anything runs it:
manifest present and valid; every declared prompt file exists, is UTF-8 text, and uses only its
declared `string.Template` variables; every `.py` file compiles (without being imported); no
symlinks, no path escaping the directory, no file over 256 KB, no binary file. Any problem raises
`HarnessInvalid` with a one-line reason. `harness_digest(dir)` is the content address of a harness
(its version when it is not in git).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import string
import tomllib
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from inner_loop.roles import HARNESS_ROLES

MANIFEST = "harness.toml"
MAX_FILE_BYTES = 256 * 1024


class HarnessInvalid(ValueError):
    """The harness cannot be run; the message is one line saying why."""


class PromptRenderError(ValueError):
    """A harness prompt was rendered with a missing or an undeclared variable."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _relative_path(value: str) -> str:
    p = PurePosixPath(value)
    if not value or p.is_absolute() or "\\" in value or ".." in p.parts:
        raise ValueError(f"{value!r} must be a relative path inside the harness directory")
    return value


class HarnessSection(Strict):
    entry: str = "agent.py"
    editable: list[str] = Field(default_factory=lambda: ["prompts/*.md", "*.py"])

    @field_validator("entry")
    @classmethod
    def _entry(cls, v: str) -> str:
        if not v.endswith(".py"):
            raise ValueError("entry must be a .py file")
        return _relative_path(v)

    @field_validator("editable")
    @classmethod
    def _globs(cls, v: list[str]) -> list[str]:
        return [_relative_path(g) for g in v]


class PromptSpec(Strict):
    file: str
    role: str
    variables: list[str] = Field(default_factory=list)

    @field_validator("file")
    @classmethod
    def _file(cls, v: str) -> str:
        return _relative_path(v)

    @field_validator("role")
    @classmethod
    def _role(cls, v: str) -> str:
        if v not in HARNESS_ROLES:
            raise ValueError(f"role {v!r} is not a harness role {list(HARNESS_ROLES)}")
        return v


class Manifest(Strict):
    harness: HarnessSection = Field(default_factory=HarnessSection)
    prompts: dict[str, PromptSpec] = Field(default_factory=dict)

    def is_editable(self, relpath: str) -> bool:
        """Whether `relpath` (POSIX, relative) matches an editable glob, segment by segment."""
        parts = PurePosixPath(relpath).parts
        for glob in self.harness.editable:
            gparts = PurePosixPath(glob).parts
            if len(gparts) == len(parts) and all(
                fnmatch.fnmatchcase(p, g) for p, g in zip(parts, gparts)
            ):
                return True
        return False


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


def _walk_files(root: Path) -> list[Path]:
    """Every file under root except `.git/`; a symlink anywhere is invalid."""
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        if here == root:  # .git: a directory, or a file in a worktree checkout
            dirnames[:] = [d for d in dirnames if d != ".git"]
            filenames = [f for f in filenames if f != ".git"]
        for name in sorted(dirnames) + sorted(filenames):
            path = here / name
            if path.is_symlink():
                raise HarnessInvalid(f"symlink not allowed: {path.relative_to(root)}")
            if name in filenames:
                if not path.is_file():
                    raise HarnessInvalid(f"not a regular file: {path.relative_to(root)}")
                files.append(path)
    return sorted(files)


def _check_file(root: Path, path: Path) -> bytes:
    rel = path.relative_to(root).as_posix()
    size = path.stat().st_size
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
    return data


def _parse_manifest(root: Path) -> Manifest:
    path = root / MANIFEST
    if not path.is_file():
        raise HarnessInvalid(f"manifest missing: {MANIFEST} not found in {root}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return Manifest.model_validate(data)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise HarnessInvalid(f"{MANIFEST}: invalid TOML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(top level)"
        raise HarnessInvalid(f"{MANIFEST}: {where}: {first['msg']}") from None


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
    if not root.is_dir():
        raise HarnessInvalid(f"harness directory not found: {root}")
    if root.is_symlink():
        raise HarnessInvalid(f"harness directory is a symlink: {root}")
    manifest = _parse_manifest(root)
    contents = {p.relative_to(root).as_posix(): _check_file(root, p) for p in _walk_files(root)}
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
