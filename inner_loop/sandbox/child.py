"""The sandboxed child: confine this process, then run the harness's `run_episode(ctx)`.

Started by `inner_loop.sandbox.spawn.start_child` with a scrubbed environment, a fresh working dir and
two inherited pipe fds (argv). Order matters and is the whole point:
  1. read the init payload (paper, prompts, limits, the filesystem policy) from the parent;
  2. rlimits (address space, CPU, file size, open files, core, processes);
  3. drop every privilege (capabilities; as root, uid/gid 65534: privileges.py);
  4. no_new_privs, Landlock (when the kernel has it), the seccomp allowlist;
  5. tell the parent the confinement level (`ready`), only then import the harness entry module.
Nothing the child says after step 5 is trusted by the parent. Stdlib only.
"""

from __future__ import annotations

import importlib
import os
import sys

from inner_loop.sandbox import landlock, privileges, seccomp
from inner_loop.sandbox.api import Context
from inner_loop.sandbox.rpc import ChildChannel

MB = 1024 * 1024
NPROC_MARGIN = 32
# Started as root the child runs as uid 65534, which every concurrent episode shares: a fixed cap
# (seccomp denies fork anyway; this bounds a fork bomb where seccomp is unavailable).
UNPRIVILEGED_NPROC = 512


def _status_field(status: bytes, name: bytes) -> int | None:
    """The first number of line `name:` of a /proc/<pid>/status text (None when absent)."""
    at = status.find(b"\n" + name + b":")
    if at < 0:
        return None
    fields = status[at + len(name) + 2:].split(None, 1)
    return int(fields[0]) if fields else None


def _tasks_of_uid(uid: int) -> int | None:
    """How many tasks (threads count for RLIMIT_NPROC) this uid runs now; None without /proc.
    Reads each /proc/<pid>/status as bytes and finds the two lines it needs: every episode
    pays for this scan of every process on the machine."""
    total = 0
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return None
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status", "rb") as fh:
                status = fh.read()
        except OSError:
            continue  # the process exited while we looked
        if _status_field(status, b"Uid") == uid:
            threads = _status_field(status, b"Threads")
            total += 1 if threads is None else threads
    return total


def _set(resource_mod, which: int, value: int) -> None:
    _soft, hard = resource_mod.getrlimit(which)
    if hard != resource_mod.RLIM_INFINITY:
        value = min(value, hard)
    resource_mod.setrlimit(which, (value, value))


def set_rlimits(limits: dict) -> None:
    import resource

    _set(resource, resource.RLIMIT_AS, int(limits["memory_mb"]) * MB)
    cpu_s = int(limits["cpu_s"])
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    cpu_hard = cpu_s + 5 if hard == resource.RLIM_INFINITY else min(cpu_s + 5, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (min(cpu_s, cpu_hard), cpu_hard))
    _set(resource, resource.RLIMIT_FSIZE, int(limits["fsize_mb"]) * MB)
    _set(resource, resource.RLIMIT_CORE, 0)
    _set(resource, resource.RLIMIT_NOFILE, int(limits["nofile"]))
    if os.geteuid() == 0:
        _set(resource, resource.RLIMIT_NPROC, UNPRIVILEGED_NPROC)
        return
    tasks = _tasks_of_uid(os.getuid())
    if tasks is not None:
        _set(resource, resource.RLIMIT_NPROC, tasks + NPROC_MARGIN)


def confine(init: dict) -> str:
    """Apply every confinement available here; return the level in words."""
    set_rlimits(init["limits"])
    policy = init["policy"]
    parts, notes = [], []
    abi, why = landlock.abi_version()
    privilege = privileges.drop(keep_fs_root=abi > 0) if sys.platform == "linux" else ""
    if abi > 0:
        parts.append(landlock.restrict_self(
            abi, read_only=policy["read_only"], read_write=policy["read_write"],
            extra={path: int(access) for path, access in policy["extra"].items()}))
    else:
        notes.append(f"landlock unavailable: {why}")
    ok, why = seccomp.available()
    if ok:
        if abi == 0:
            landlock.no_new_privs()
        parts.append(seccomp.install())
    else:
        notes.append(f"seccomp unavailable: {why}")
    if privilege:
        parts.append(privilege)
    else:
        notes.append(f"privileges kept: not Linux ({sys.platform})")
    level = "+".join(parts + ["rlimits"]) if parts else "rlimits-only"
    return f"{level} ({'; '.join(notes)})" if notes else level


def _entry_module(entry: str) -> str:
    return entry[: -len(".py")].replace("/", ".")


def _traceback_text() -> str:
    """The current exception's traceback. `traceback` is imported only here, on a crash: every
    episode would otherwise pay for it (and for linecache, tokenize, textwrap) at startup."""
    try:
        import traceback

        return traceback.format_exc()[-8000:]
    except BaseException:  # noqa: BLE001 — e.g. the harness broke sys.path or the import system
        return ""


def main(argv: list[str]) -> int:
    channel = ChildChannel(int(argv[0]), int(argv[1]))
    init = channel.read_init()
    boot_path = init["boot_path"]
    try:
        level = confine(init)
    except (OSError, ValueError) as exc:  # fail closed: never run harness code unconfined
        channel.call("crash", error=f"sandbox setup failed: {exc}", traceback="")
        return 3
    sys.path[:] = [init["harness_dir"]] + [p for p in sys.path if p != boot_path]
    sys.path += [p for p in init.get("site_packages", []) if p not in sys.path]  # -S: see spawn
    channel.call("ready", confinement=level)
    ctx = Context(channel, init)
    try:
        module = importlib.import_module(_entry_module(init["entry"]))
        result = module.run_episode(ctx)
    except BaseException as exc:  # noqa: BLE001 — the harness's failure is data for the parent
        channel.call("crash", error=f"{type(exc).__name__}: {exc}"[:2000],
                     traceback=_traceback_text())
        return 1
    channel.call("done", result=repr(result)[:2000])
    return 0
