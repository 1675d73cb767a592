"""`run.lock`: only one process drives a run (or an `autodata evaluate` of it) at a time.

The lock file holds `{"pid", "start"}`: the owner's pid and the kernel's start time of that pid
(guards against pid reuse). A lock left by a dead process (kill -9) is stale and taken over.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from inner_loop.errors import UserError
from evolve.paths import LOCK_FILE


class RunHeld(UserError):
    """Another live process holds the run."""


def process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (guards against pid reuse), or None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def alive(pid: int, start: str | None) -> bool:
    """Whether `pid` is the live process that started at `start` (None: any)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return start is None or process_start(pid) in (None, start)


class RunLock:
    """`run.lock` holding `{"pid", "start"}`; a lock of a dead process is stale and replaced."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_FILE
        self.held = False

    def acquire(self) -> None:
        me = {"pid": os.getpid(), "start": process_start(os.getpid())}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._clear_if_stale()
                continue
            with os.fdopen(fd, "w") as fh:
                json.dump(me, fh)
            self.held = True
            return
        raise RunHeld(f"could not take the lock {self.path}")

    def _clear_if_stale(self) -> None:
        try:
            owner = json.loads(self.path.read_text() or "{}")
        except FileNotFoundError:
            return
        except json.JSONDecodeError:
            owner = {}
        pid = owner.get("pid")
        if isinstance(pid, int) and pid != os.getpid() and alive(pid, owner.get("start")):
            raise RunHeld(f"run {self.path.parent} is held by another process (pid {pid}); "
                          f"wait for it to end or stop it first")
        self.path.unlink(missing_ok=True)

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
