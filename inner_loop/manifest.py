"""The harness manifest (`harness.toml`): entry module, editable globs, prompts; and the paths
no manifest can make editable.

`parse_manifest(text)` reads the TOML strictly (unknown keys, a path escaping the harness, a
role that is not a harness role: `HarnessInvalid`, one line). `Manifest.is_editable(path)` is
the one answer to "may a candidate change this file?" (evolve's implementer and validation ask
it); `always_protected` paths are never editable, whatever the globs say.
"""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import PurePosixPath

from pydantic import Field, ValidationError, field_validator

from inner_loop.roles import HARNESS_ROLES
from inner_loop.strict import Strict, first_error

MANIFEST = "harness.toml"
GIT_CONTROL_FILES = frozenset({".gitignore", ".gitattributes", ".gitmodules"})


def always_protected(relpath: str) -> bool:
    """The manifest, git's control files (at any depth) and anything under `.git`."""
    parts = PurePosixPath(relpath).parts
    return (relpath == MANIFEST or not parts or ".git" in parts
            or parts[-1] in GIT_CONTROL_FILES)


class HarnessInvalid(ValueError):
    """The harness cannot be run; the message is one line saying why."""


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
        """Whether `relpath` (POSIX, relative) matches an editable glob, segment by segment;
        never for an `always_protected` path."""
        if always_protected(relpath):
            return False
        parts = PurePosixPath(relpath).parts
        for glob in self.harness.editable:
            gparts = PurePosixPath(glob).parts
            if len(gparts) == len(parts) and all(
                fnmatch.fnmatchcase(p, g) for p, g in zip(parts, gparts)
            ):
                return True
        return False


def parse_manifest(text: str) -> Manifest:
    """The manifest in `text` (TOML), or HarnessInvalid naming the first problem."""
    try:
        return Manifest.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise HarnessInvalid(f"{MANIFEST}: invalid TOML: {exc}") from None
    except (RecursionError, MemoryError):
        raise HarnessInvalid(f"{MANIFEST}: invalid TOML: nested too deeply") from None
    except ValidationError as exc:
        raise HarnessInvalid(f"{MANIFEST}: {first_error(exc)}") from None
