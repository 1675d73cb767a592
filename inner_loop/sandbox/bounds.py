"""What one sandboxed episode may use, enforced by the parent while the episode runs.

Every byte the child sends is hostile input. `check_request` bounds the shape of each decoded
request (nesting depth, strings that are not Unicode text); `Meter` counts what an episode has
used (harness-role calls, log entries and bytes, unknown ops, the bytes kept for its record);
`workdir_usage` measures the working dir from `lstat` (disk blocks, entries), stopping as soon as
a cap is passed. Exceeding any of them raises `LimitExceeded`, which the runner records as the
harness's failure (`harness_error`, "sandbox limit: ...") and the child is killed. Stdlib only.
"""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass

from inner_loop.sandbox.rpc import ChannelError

MB = 1024 * 1024
MAX_OP_CHARS = 64
KNOWN_OPS = frozenset({"ready", "llm", "evaluate", "submit", "log", "done", "crash"})  # api.py


class LimitExceeded(ChannelError):
    """The harness used more than an episode may; the message says what, in one line."""


@dataclass(frozen=True)
class Bounds:
    max_depth: int = 64  # JSON nesting of one request
    max_harness_calls: int = 400  # llm + evaluate requests
    max_log_entries: int = 500
    max_log_bytes: int = 1 * MB
    max_unknown_ops: int = 20
    max_record_bytes: int = 32 * MB  # request + reply bytes, what the episode record keeps
    workdir_max_bytes: int = 256 * MB
    workdir_max_files: int = 2000


def check_request(value: object, max_depth: int) -> None:
    """Raise ChannelError when `value` nests deeper than `max_depth` or holds a string that is
    not valid Unicode text (a lone surrogate from a `\\ud800` escape). Iterative: no recursion."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ChannelError("malformed request: a string that is not Unicode text "
                                   "(lone surrogate)") from None
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth > max_depth:
            raise ChannelError(f"malformed request: JSON nested deeper than {max_depth} levels")
        children = list(item.items()) if isinstance(item, dict) else [(None, v) for v in item]
        for key, child in children:
            if key is not None:
                stack.append((key, depth))
            stack.append((child, depth + 1))


class Meter:
    """What one episode has used so far; `request`/`reply` raise LimitExceeded past a cap."""

    def __init__(self, bounds: Bounds, known_ops: frozenset[str]):
        self.bounds, self.known_ops = bounds, known_ops
        self.harness_calls = self.log_entries = self.log_bytes = self.unknown_ops = 0
        self.record_bytes = 0

    def request(self, msg: dict, nbytes: int) -> None:
        b, op = self.bounds, msg.get("op")
        if len(op) > MAX_OP_CHARS:
            raise ChannelError(f"malformed request: an op name of {len(op):,} characters")
        self._record(nbytes)
        if op in ("llm", "evaluate"):
            self.harness_calls += 1
            _cap("harness-role calls and evaluations", self.harness_calls, b.max_harness_calls)
        elif op == "log":
            self.log_entries += 1
            self.log_bytes += nbytes
            _cap("log entries", self.log_entries, b.max_log_entries)
            _cap("log bytes", self.log_bytes, b.max_log_bytes)
        elif op not in self.known_ops:
            self.unknown_ops += 1
            _cap("unknown requests", self.unknown_ops, b.max_unknown_ops)

    def reply(self, nbytes: int) -> None:
        self._record(nbytes)

    def _record(self, nbytes: int) -> None:
        self.record_bytes += nbytes
        _cap("episode record bytes", self.record_bytes, self.bounds.max_record_bytes)


def _cap(what: str, used: int, cap: int) -> None:
    if used > cap:
        raise LimitExceeded(f"sandbox limit: {what} {used:,} > {cap:,}")


def workdir_usage(root: str, max_files: int, max_bytes: int) -> tuple[int, int]:
    """(entries, bytes on disk) beneath `root`, from lstat, never following links; stops early
    once a cap is passed. An entry the parent cannot list is made listable first (a harness may
    `chmod 000` a directory to hide what it holds)."""
    entries = used = 0
    stack = [root]
    while stack and entries <= max_files and used <= max_bytes:
        path = stack.pop()
        try:
            it = os.scandir(path)
        except PermissionError:
            os.chmod(path, 0o700)
            it = os.scandir(path)
        except (FileNotFoundError, NotADirectoryError):
            continue  # removed while we looked
        with it:
            for entry in it:
                entries += 1
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                used += max(st.st_blocks * 512, 0)
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
    return entries, used


def check_workdir(root: str, bounds: Bounds) -> None:
    entries, used = workdir_usage(root, bounds.workdir_max_files, bounds.workdir_max_bytes)
    _cap("working-dir entries", entries, bounds.workdir_max_files)
    if used > bounds.workdir_max_bytes:
        raise LimitExceeded(f"sandbox limit: working-dir size {used / MB:,.1f} MB > "
                            f"{bounds.workdir_max_bytes / MB:,.0f} MB")


class Watchdog:
    """A thread that checks the working dir every `interval_s` while the episode runs, also while
    the parent is busy in a model call or an evaluation, and kills the child's process group on
    the first cap passed; `reason` then says which."""

    def __init__(self, workdir: str, pgid: int, bounds: Bounds, interval_s: float = 0.25):
        self.workdir, self.pgid, self.bounds, self.interval_s = workdir, pgid, bounds, interval_s
        self.reason: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-watchdog", daemon=True)

    def start(self) -> "Watchdog":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                check_workdir(self.workdir, self.bounds)
            except LimitExceeded as exc:
                self.reason = str(exc)
            except OSError as exc:  # e.g. the dir vanished under us: say so, stop watching
                self.reason = f"sandbox limit: working dir unreadable ({exc.strerror})"
            if self.reason:
                try:
                    os.killpg(self.pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass  # already gone
                return
