"""The sandbox that runs harness code: a confined child process and the parent's end of its RPC.

`start_child(...)` spawns `inner_loop.sandbox.child` with a scrubbed environment (no API keys),
a fresh working dir, its own process group, the RPC on two inherited pipes, and sends it the
init payload (paper, prompts, limits, filesystem policy). The child confines itself (rlimits,
Landlock, seccomp) before any harness code runs; see README.md. The parent side decides nothing
here: `inner_loop.runner` reads requests from `ChildProcess.channel` and answers them.

Stdlib only (the child imports this package too). The parent's side lives in `spawn.py` and is
re-exported here lazily: importing the package, as every child does before it runs a line of
harness code, must not import subprocess, tempfile, shutil, pathlib or dataclasses (together
~40 ms of CPU per episode in a fresh interpreter).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: the child must not pay for importing typing
if TYPE_CHECKING:
    from inner_loop.sandbox.spawn import (  # noqa: F401
        BOOT, BOOT_PATH, DEVICES, PACKAGE_DIR, SYSTEM_READ_ONLY, ChildProcess, Limits,
        filesystem_policy, scrubbed_env, start_child,
    )

_SPAWN = frozenset({"BOOT", "BOOT_PATH", "DEVICES", "PACKAGE_DIR", "SYSTEM_READ_ONLY",
                    "ChildProcess", "Limits", "filesystem_policy", "scrubbed_env", "start_child"})


def __getattr__(name: str) -> object:
    if name in _SPAWN:
        from inner_loop.sandbox import spawn

        return getattr(spawn, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
