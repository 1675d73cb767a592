"""The implementer: a tool-using editing agent confined to a scratch worktree of the parent.

Tools (OpenAI function tools): list_files, read_file, write_file, replace_in_file, finish. Every
path is resolved inside the worktree: an empty, absolute or `..` path, a path through a symlink or
into `.git` is refused as an escape; a write outside the manifest's editable globs is refused as a
protected path. Refusals are returned to the model as `{"ok": false, "error": ...}` and recorded.
Whatever the model writes never raises out of a tool: arguments over MAX_ARGUMENT_CHARS or nested
too deeply, a name the OS refuses (a component over 255 bytes), a name or content that is not
UTF-8 (a lone surrogate), a file over MAX_FILE_BYTES, more than MAX_FILES files or MAX_TOTAL_BYTES
in all: each is an `{"ok": false}` result the model sees, and the run goes on.
The loop runs at most `max_steps` model calls; without `finish` the edits so far stand. An
endpoint that rejects the conversation the model has grown (a 4xx such as a context overflow,
`RequestRejected`) ends the loop the same way, its message in `stopped`; a rejection of the very
first request is the endpoint's, not the model's, and propagates. The candidate's diff is taken
from git afterwards, never from text the model typed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import Field

from inner_loop.formats import DIAGNOSIS, EDITABLE_GLOBS, HISTORY, sections
from inner_loop.harness import MAX_FILE_BYTES, MAX_FILES, MAX_TOTAL_BYTES, Manifest
from inner_loop.llm import Client
from inner_loop.llm.types import Message, RequestRejected, ToolCall, ToolSpec
from inner_loop.strict import Strict
from evolve.analyzer import Diagnosis, history_block, load_evolve_prompt

MAX_STEPS = 12
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


class ImplementerResult(Strict):
    summary: str = ""
    finished: bool = False
    steps: int = 0
    refusals: list[Refusal] = Field(default_factory=list)
    tool_log: list[dict[str, Any]] = Field(default_factory=list)
    stopped: str | None = None  # the endpoint rejected the conversation (RequestRejected)


class _Bad(Exception):
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
        raise _Bad(f"{what} is not valid UTF-8 text (a lone surrogate at index {exc.start})") \
            from None


def parse_arguments(arguments: Any) -> dict[str, Any]:
    """A tool call's arguments as a dict; _Bad for anything else (never RecursionError or
    MemoryError: oversized text is refused before it is parsed)."""
    if not isinstance(arguments, str):
        raise _Bad("arguments must be a JSON object")
    if len(arguments) > MAX_ARGUMENT_CHARS:
        raise _Bad(f"arguments too long: {len(arguments)} chars > {MAX_ARGUMENT_CHARS}")
    try:
        args = json.loads(arguments or "{}")
    except json.JSONDecodeError as exc:
        raise _Bad(f"arguments are not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise _Bad("arguments are nested too deeply") from None
    if not isinstance(args, dict):
        raise _Bad("arguments must be a JSON object")
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
            raise _Bad(f"path too long: at most {MAX_NAME_BYTES} bytes per name and "
                       f"{MAX_PATH_CHARS} chars in all")
        if any(ord(c) < 32 or c == "\x7f" for c in path):
            raise _Bad("path holds a control character")
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
        """_Bad unless `data` may replace `full`: file size, file count and total size."""
        if len(data) > MAX_FILE_BYTES:
            raise _Bad(f"content too large: {len(data)} bytes > {MAX_FILE_BYTES}")
        if b"\0" in data:
            raise _Bad("content holds a NUL byte (binary files are not allowed)")
        if self._sizes is None:  # this workspace is the scratch's only writer
            self._sizes = {rel: (self.root / rel).lstat().st_size
                           for rel, _ in list_harness_files(self.root, self.manifest)}
        sizes = self._sizes
        rel = full.relative_to(self.root).as_posix()
        if rel not in sizes and len(sizes) >= MAX_FILES:
            raise _Bad(f"too many files: a harness holds at most {MAX_FILES}")
        total = sum(sizes.values()) - sizes.get(rel, 0) + len(data)
        if total > MAX_TOTAL_BYTES:
            raise _Bad(f"harness too large: {total} bytes in all > {MAX_TOTAL_BYTES}")

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
        except _Bad as exc:
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
        except _Bad as exc:
            return {"ok": False, "error": str(exc)}
        except OSError as exc:  # e.g. ENAMETOOLONG, ENOSPC, EISDIR
            return {"ok": False, "error": f"{name} failed: {exc.strerror or exc}"}


def implementer_messages(diagnosis: Diagnosis, globs: Sequence[str],
                         history: Sequence[str]) -> list[Message]:
    user = sections([(DIAGNOSIS, diagnosis.model_dump_json(indent=2)),
                     (EDITABLE_GLOBS, "\n".join(globs)), (HISTORY, history_block(history))])
    return [Message(role="system", content=load_evolve_prompt("implementer")),
            Message(role="user", content=user)]


def _log_entry(name: str, arguments: str, result: dict[str, Any]) -> dict[str, Any]:
    try:
        path = parse_arguments(arguments).get("path")
    except _Bad:
        path = None
    return {"tool": clean_text(str(name))[:200],
            "path": clean_text(path)[:MAX_PATH_CHARS] if isinstance(path, str) else None,
            "ok": result.get("ok"), "error": result.get("error")}


def _echo(content: str | None, calls: list[ToolCall]) -> Message:
    """The model's turn as it goes back to the endpoint: valid UTF-8 (a lone surrogate the
    model wrote would make the next request unsendable)."""
    return Message(role="assistant", content=clean_text(content) if content else content,
                   tool_calls=[c.model_copy(update={"name": clean_text(c.name),
                                                    "arguments": clean_text(c.arguments)})
                               for c in calls] or None)


def run_implementer(client: Client, workspace: Workspace, diagnosis: Diagnosis,
                    history: Sequence[str], *, max_steps: int = MAX_STEPS,
                    tag: str = "") -> ImplementerResult:
    """Drive the agent until `finish`, a reply without tool calls, or `max_steps` model calls."""
    messages = implementer_messages(diagnosis, workspace.manifest.harness.editable, history)
    result = ImplementerResult()
    while result.steps < max_steps and not result.finished:
        try:
            response = client.complete("implementer", messages, tools=TOOLS,
                                       tag=f"{tag}:step{result.steps}")
        except RequestRejected as exc:
            if result.steps == 0:  # our own first request: the endpoint's fault, not the model's
                raise
            result.stopped = " ".join(clean_text(str(exc)).split())[:300]
            break
        result.steps += 1
        messages.append(_echo(response.content, response.tool_calls))
        if not response.tool_calls:
            break
        for call in response.tool_calls:
            out = workspace.call(call.name, call.arguments)
            result.tool_log.append(_log_entry(call.name, call.arguments, out))
            messages.append(Message(role="tool", tool_call_id=clean_text(call.id),
                                    content=clean_text(json.dumps(out, ensure_ascii=False))))
            if call.name == "finish":
                result.finished, result.summary = True, out["summary"]
    result.refusals = list(workspace.refusals)
    return result
