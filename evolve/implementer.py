"""The implementer: a tool-using editing agent confined to a scratch worktree of the parent.

Tools (OpenAI function tools): list_files, read_file, write_file, replace_in_file, finish. Every
path is resolved inside the worktree: an empty, absolute or `..` path, a path through a symlink or
into `.git` is refused as an escape; a write outside the manifest's editable globs is refused as a
protected path. Refusals are returned to the model as `{"ok": false, "error": ...}` and recorded.
The loop runs at most `max_steps` model calls; without `finish` the edits so far stand. The
candidate's diff is taken from git afterwards, never from text the model typed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from inner_loop.harness import Manifest
from inner_loop.llm.types import Message, ToolSpec
from evolve.analyzer import Diagnosis, history_block, load_evolve_prompt

MAX_STEPS = 12

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


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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

    def protected_attempt(self) -> str | None:
        """The first path the implementer tried to write outside the editable globs, if any."""
        return self.refusals[0].path if self.refusals else None


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

    def resolve(self, path: Any, *, write: bool) -> tuple[str, Path]:
        if not isinstance(path, str) or not path.strip() or "\0" in path:
            raise _Refused("escape", "path must be a non-empty string")
        p = PurePosixPath(path)
        if "\\" in path or p.is_absolute() or ".." in p.parts or not p.parts:
            raise _Refused("escape", f"path {path!r} escapes the harness directory")
        if p.parts[0] == ".git":
            raise _Refused("escape", f"path {path!r} is inside .git")
        current = self.root
        for part in p.parts:
            current = current / part
            if current.is_symlink():
                raise _Refused("escape", f"path {path!r} goes through a symlink")
        if not current.resolve().is_relative_to(self.root.resolve()):
            raise _Refused("escape", f"path {path!r} escapes the harness directory")
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

    def write_file(self, path: Any, content: Any) -> dict[str, Any]:
        rel, full = self.resolve(path, write=True)
        if not isinstance(content, str):
            return {"ok": False, "error": "content must be a string"}
        if full.exists() and not full.is_file():
            return {"ok": False, "error": f"{rel} is not a regular file"}
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(content, encoding="utf-8")
        return {"ok": True, "path": rel, "bytes": len(content.encode("utf-8"))}

    def replace_in_file(self, path: Any, old: Any, new: Any) -> dict[str, Any]:
        rel, full = self.resolve(path, write=True)
        if not isinstance(old, str) or not isinstance(new, str) or not old:
            return {"ok": False, "error": "old must be a non-empty string and new a string"}
        if not full.is_file():
            return {"ok": False, "error": f"no such file: {rel}"}
        text = full.read_text(encoding="utf-8")
        count = text.count(old)
        if count != 1:
            return {"ok": False, "error": f"old occurs {count} times in {rel}; it must occur "
                                          "exactly once"}
        full.write_text(text.replace(old, new, 1), encoding="utf-8")
        return {"ok": True, "path": rel}

    def call(self, name: str, arguments: str) -> dict[str, Any]:
        """Run one tool call; bad arguments and refusals become `{"ok": false}` results."""
        try:
            args = json.loads(arguments or "{}")
        except json.JSONDecodeError as exc:
            return {"ok": False, "error": f"arguments are not valid JSON: {exc.msg}"}
        if not isinstance(args, dict):
            return {"ok": False, "error": "arguments must be a JSON object"}
        handlers = {"list_files": self.list_files, "read_file": self.read_file,
                    "write_file": self.write_file, "replace_in_file": self.replace_in_file}
        if name == "finish":
            return {"ok": True, "finished": True, "summary": str(args.get("summary", ""))}
        if name not in handlers:
            return {"ok": False, "error": f"unknown tool {name!r}; tools: {sorted(handlers)}"}
        try:
            return handlers[name](**args)
        except TypeError as exc:
            return {"ok": False, "error": f"bad arguments for {name}: {exc}"}
        except _Refused as exc:
            self.refusals.append(Refusal(tool=name, path=str(args.get("path")), kind=exc.kind,
                                         reason=exc.reason))
            return {"ok": False, "error": f"refused: {exc.reason}"}


def implementer_messages(diagnosis: Diagnosis, globs: Sequence[str],
                         history: Sequence[str]) -> list[Message]:
    user = (f"## Diagnosis\n{diagnosis.model_dump_json(indent=2)}\n\n"
            f"## Editable globs\n" + "\n".join(globs) + f"\n\n## History\n{history_block(history)}")
    return [Message(role="system", content=load_evolve_prompt("implementer")),
            Message(role="user", content=user)]


def _log_entry(name: str, arguments: str, result: dict[str, Any]) -> dict[str, Any]:
    try:
        path = json.loads(arguments or "{}").get("path")
    except (json.JSONDecodeError, AttributeError):
        path = None
    return {"tool": name, "path": path, "ok": result.get("ok"), "error": result.get("error")}


def run_implementer(client: Any, workspace: Workspace, diagnosis: Diagnosis,
                    history: Sequence[str], *, max_steps: int = MAX_STEPS,
                    tag: str = "") -> ImplementerResult:
    """Drive the agent until `finish`, a reply without tool calls, or `max_steps` model calls."""
    messages = implementer_messages(diagnosis, workspace.manifest.harness.editable, history)
    result = ImplementerResult()
    while result.steps < max_steps and not result.finished:
        response = client.complete("implementer", messages, tools=TOOLS,
                                   tag=f"{tag}:step{result.steps}")
        result.steps += 1
        messages.append(Message(role="assistant", content=response.content,
                                tool_calls=response.tool_calls or None))
        if not response.tool_calls:
            break
        for call in response.tool_calls:
            out = workspace.call(call.name, call.arguments)
            result.tool_log.append(_log_entry(call.name, call.arguments, out))
            messages.append(Message(role="tool", tool_call_id=call.id,
                                    content=json.dumps(out, ensure_ascii=False)))
            if call.name == "finish":
                result.finished, result.summary = True, out["summary"]
    result.refusals = list(workspace.refusals)
    return result
