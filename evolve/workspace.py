"""The implementer's workspace: its tools over one scratch worktree of the parent harness.

Tools (OpenAI function tools, `TOOLS`): list_files, read_file, write_file, replace_in_file,
finish. Every path is resolved inside the worktree: an empty, absolute or `..` path, a path
through a symlink or into `.git` is refused as an escape; a write outside the manifest's editable
globs is refused as a protected path. Refusals are returned to the model as
`{"ok": false, "error": ...}` and recorded (`Workspace.refusals`). Whatever the model writes never
raises out of a tool: arguments over MAX_ARGUMENT_CHARS or nested too deeply, a name the OS
refuses (a component over 255 bytes), a name or content that is not UTF-8 (a lone surrogate), a
file over MAX_FILE_BYTES, more than MAX_FILES files or MAX_TOTAL_BYTES in all: each is an
`{"ok": false}` result the model sees, and the run goes on. The agent that calls these tools is
`evolve/implementer.py`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from inner_loop.harness import MAX_FILE_BYTES, MAX_FILES, MAX_TOTAL_BYTES, Manifest
from inner_loop.llm.types import ToolSpec
from inner_loop.strict import Strict

MAX_ARGUMENT_CHARS = 4 * MAX_FILE_BYTES  # a tool call's arguments (JSON text) at most
MAX_NAME_BYTES = 255  # one path component (NAME_MAX)
MAX_PATH_CHARS = 1024
SUMMARY_CHARS = 2000

_PATH = {"path": {"type": "string", "description": "relative to the harness root"}}
TOOLS: list[ToolSpec] = [
    ToolSpec(name="list_files", description="List every harness file with its size and "
             "whether it is editable.", parameters={"type": "object", "properties": {}}),
    ToolSpec(name="read_file", description="Read one harness file.",
             parameters={"type": "object", "properties": _PATH, "required": ["path"]}),
    ToolSpec(name="write_file", description="Replace the whole content of an editable file.",
             parameters={"type": "object", "properties": {**_PATH, "content": {"type": "string"}},
                         "required": ["path", "content"]}),
    ToolSpec(name="replace_in_file", description="Replace the single occurrence of `old` with "
             "`new` in an editable file.",
             parameters={"type": "object", "properties": {
                 **_PATH, "old": {"type": "string"}, "new": {"type": "string"}},
                 "required": ["path", "old", "new"]}),
    ToolSpec(name="finish", description="End the edit with a one-line summary.",
             parameters={"type": "object", "properties": {"summary": {"type": "string"}},
                         "required": ["summary"]}),
]


class Refusal(Strict):
    tool: str
    path: str
    kind: Literal["escape", "protected"]
    reason: str


class BadToolCall(Exception):
    """A tool call the model got wrong (not a security refusal): `{"ok": false, "error": ...}`."""


def _show(text: Any) -> str:
    """A model-written name as quoted in a result: repr, at most 200 chars of it."""
    return repr(text[:200] if isinstance(text, str) else text)


def clean_text(text: str) -> str:
    """`text` as valid UTF-8 (lone surrogates replaced): what may be sent back or stored."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadToolCall(f"{what} is not valid UTF-8 text (a lone surrogate at index "
                          f"{exc.start})") from None


def parse_arguments(arguments: Any) -> dict[str, Any]:
    """A tool call's arguments as a dict; BadToolCall for anything else (never RecursionError
    or MemoryError: oversized text is refused before it is parsed)."""
    if not isinstance(arguments, str):
        raise BadToolCall("arguments must be a JSON object")
    if len(arguments) > MAX_ARGUMENT_CHARS:
        raise BadToolCall(f"arguments too long: {len(arguments)} chars > {MAX_ARGUMENT_CHARS}")
    try:
        args = json.loads(arguments or "{}")
    except json.JSONDecodeError as exc:
        raise BadToolCall(f"arguments are not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise BadToolCall("arguments are nested too deeply") from None
    if not isinstance(args, dict):
        raise BadToolCall("arguments must be a JSON object")
    return args


class _Refused(Exception):
    def __init__(self, kind: Literal["escape", "protected"], reason: str):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def list_harness_files(root: Path, manifest: Manifest) -> list[tuple[str, bool]]:
    """(relative path, editable) of every file under root except `.git/`, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not (Path(dirpath) == root and d == ".git"))
        for name in filenames:
            rel = (Path(dirpath) / name).relative_to(root).as_posix()
            out.append((rel, manifest.is_editable(rel)))
    return sorted(out)


class Workspace:
    """The implementer's tools over one scratch worktree; records every refusal."""

    def __init__(self, root: Path, manifest: Manifest):
        self.root = Path(root).absolute()
        self.manifest = manifest
        self.refusals: list[Refusal] = []
        self._sizes: dict[str, int] | None = None  # relpath -> bytes, once a write asks

    def resolve(self, path: Any, *, write: bool) -> tuple[str, Path]:
        if not isinstance(path, str) or not path.strip() or "\0" in path:
            raise _Refused("escape", "path must be a non-empty string")
        p = PurePosixPath(path)
        if "\\" in path or p.is_absolute() or ".." in p.parts or not p.parts:
            raise _Refused("escape", f"path {_show(path)} escapes the harness directory")
        if ".git" in p.parts:
            raise _Refused("escape", f"path {_show(path)} is inside .git")
        _utf8(path, "path")
        if len(path) > MAX_PATH_CHARS or any(len(x.encode()) > MAX_NAME_BYTES for x in p.parts):
            raise BadToolCall(f"path too long: at most {MAX_NAME_BYTES} bytes per name and "
                       f"{MAX_PATH_CHARS} chars in all")
        if any(ord(c) < 32 or c == "\x7f" for c in path):
            raise BadToolCall("path holds a control character")
        current = self.root
        for part in p.parts:
            current = current / part
            if current.is_symlink():
                raise _Refused("escape", f"path {_show(path)} goes through a symlink")
        if not current.resolve().is_relative_to(self.root.resolve()):
            raise _Refused("escape", f"path {_show(path)} escapes the harness directory")
        rel = p.as_posix()
        if write and not self.manifest.is_editable(rel):
            raise _Refused("protected", f"{rel} is protected (editable globs: "
                                        f"{', '.join(self.manifest.harness.editable)})")
        return rel, current

    def list_files(self) -> dict[str, Any]:
        files = [{"path": rel, "size": (self.root / rel).stat().st_size, "editable": editable}
                 for rel, editable in list_harness_files(self.root, self.manifest)]
        return {"ok": True, "files": files}

    def read_file(self, path: Any) -> dict[str, Any]:
        rel, full = self.resolve(path, write=False)
        if not full.is_file():
            return {"ok": False, "error": f"no such file: {rel}"}
        try:
            return {"ok": True, "path": rel, "content": full.read_text(encoding="utf-8")}
        except UnicodeDecodeError:
            return {"ok": False, "error": f"{rel} is not UTF-8 text"}

    def _room(self, full: Path, data: bytes) -> None:
        """BadToolCall unless `data` may replace `full`: file size, file count and total size."""
        if len(data) > MAX_FILE_BYTES:
            raise BadToolCall(f"content too large: {len(data)} bytes > {MAX_FILE_BYTES}")
        if b"\0" in data:
            raise BadToolCall("content holds a NUL byte (binary files are not allowed)")
        if self._sizes is None:  # this workspace is the scratch's only writer
            self._sizes = {rel: (self.root / rel).lstat().st_size
                           for rel, _ in list_harness_files(self.root, self.manifest)}
        sizes = self._sizes
        rel = full.relative_to(self.root).as_posix()
        if rel not in sizes and len(sizes) >= MAX_FILES:
            raise BadToolCall(f"too many files: a harness holds at most {MAX_FILES}")
        total = sum(sizes.values()) - sizes.get(rel, 0) + len(data)
        if total > MAX_TOTAL_BYTES:
            raise BadToolCall(f"harness too large: {total} bytes in all > {MAX_TOTAL_BYTES}")

    def _write(self, full: Path, data: bytes) -> None:
        full.write_bytes(data)
        if self._sizes is not None:
            self._sizes[full.relative_to(self.root).as_posix()] = len(data)

    def write_file(self, path: Any, content: Any) -> dict[str, Any]:
        rel, full = self.resolve(path, write=True)
        if not isinstance(content, str):
            return {"ok": False, "error": "content must be a string"}
        if full.exists() and not full.is_file():
            return {"ok": False, "error": f"{rel} is not a regular file"}
        data = _utf8(content, "content")
        self._room(full, data)
        full.parent.mkdir(parents=True, exist_ok=True)
        self._write(full, data)
        return {"ok": True, "path": rel, "bytes": len(data)}

    def replace_in_file(self, path: Any, old: Any, new: Any) -> dict[str, Any]:
        rel, full = self.resolve(path, write=True)
        if not isinstance(old, str) or not isinstance(new, str) or not old:
            return {"ok": False, "error": "old must be a non-empty string and new a string"}
        if not full.is_file():
            return {"ok": False, "error": f"no such file: {rel}"}
        try:
            text = full.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            return {"ok": False, "error": f"{rel} is not UTF-8 text"}
        count = text.count(old)
        if count != 1:
            return {"ok": False, "error": f"old occurs {count} times in {rel}; it must occur "
                                          "exactly once"}
        data = _utf8(text.replace(old, new, 1), "new")
        self._room(full, data)
        self._write(full, data)
        return {"ok": True, "path": rel}

    def call(self, name: str, arguments: str) -> dict[str, Any]:
        """Run one tool call; bad arguments, refusals and anything the file system refuses
        become `{"ok": false}` results (never an exception)."""
        try:
            args = parse_arguments(arguments)
        except BadToolCall as exc:
            return {"ok": False, "error": str(exc)}
        handlers = {"list_files": self.list_files, "read_file": self.read_file,
                    "write_file": self.write_file, "replace_in_file": self.replace_in_file}
        if name == "finish":
            summary = clean_text(str(args.get("summary", "")))[:SUMMARY_CHARS]
            return {"ok": True, "finished": True, "summary": summary}
        if name not in handlers:
            return {"ok": False, "error": f"unknown tool {_show(name)}; tools: {sorted(handlers)}"}
        try:
            return handlers[name](**args)
        except TypeError as exc:
            return {"ok": False, "error": f"bad arguments for {name}: {exc}"}
        except _Refused as exc:
            self.refusals.append(Refusal(tool=name, path=clean_text(str(args.get("path"))[:200]),
                                         kind=exc.kind, reason=exc.reason))
            return {"ok": False, "error": f"refused: {exc.reason}"}
        except BadToolCall as exc:
            return {"ok": False, "error": str(exc)}
        except OSError as exc:  # e.g. ENAMETOOLONG, ENOSPC, EISDIR
            return {"ok": False, "error": f"{name} failed: {exc.strerror or exc}"}
