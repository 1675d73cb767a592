"""The parent's side of the sandbox: spawn the confined child, and kill/close it.

`start_child(...)` spawns `inner_loop.sandbox.child` with a scrubbed environment (no API keys),
a fresh working dir, its own process group, the RPC on two inherited pipes, and sends it the
init payload (paper, prompts, limits, filesystem policy). The child confines itself (rlimits,
Landlock, seccomp) before any harness code runs; see README.md. The parent side decides nothing
here: `inner_loop.runner` reads requests from `ChildProcess.channel` and answers them.

Not imported by the package (the child imports the package too, and must not pay for the
modules only the parent needs): `from inner_loop.sandbox.spawn import start_child, ...`.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from inner_loop.sandbox import landlock, privileges
from inner_loop.sandbox.rpc import ChannelError, ParentChannel

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # .../inner_loop
BOOT_PATH = str(PACKAGE_DIR.parent)  # the directory that holds the inner_loop package
BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
        "from inner_loop.sandbox.child import main; raise SystemExit(main(sys.argv[2:]))")
# The child runs with -S (no `site`: processing the .pth files of an environment, an editable
# install's finder among them, costs a fresh interpreter ~20 ms of CPU per episode) and gets the
# parent's site-packages directories on sys.path explicitly, after the stdlib, as `site` would.
SITE_PACKAGES = [p for p in site.getsitepackages() if os.path.isdir(p)]

# Read-only system locations (only those that exist are added). /etc is deliberately not granted
# wholesale (it holds /etc/shadow and other secrets readable by root): only what a Python
# process needs from it. No part of /proc: /proc/self/net/unix would list every unix socket of
# the host (the network namespace is shared), /proc/self/environ and maps are nobody's business.
SYSTEM_READ_ONLY = ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin",
                    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
                    "/etc/mime.types", "/usr/share/zoneinfo"]
DEVICES = {"/dev/null": landlock.FS_READ_FILE | landlock.FS_WRITE_FILE,
           "/dev/zero": landlock.FS_READ_FILE,
           "/dev/urandom": landlock.FS_READ_FILE,
           "/dev/random": landlock.FS_READ_FILE}


@functools.cache
def _landlock_abi() -> int:
    return landlock.abi_version()[0]


@dataclass(frozen=True)
class Limits:
    timeout_s: float  # wall clock, enforced by the parent (kills the process group)
    memory_mb: int  # RLIMIT_AS
    cpu_s: int  # RLIMIT_CPU (soft; hard = soft + 5)
    fsize_mb: int = 64  # RLIMIT_FSIZE
    nofile: int = 256  # RLIMIT_NOFILE


def filesystem_policy(harness_dir: Path, workdir: Path) -> dict:
    """Landlock rules: read+execute beneath the harness, the Python install and the sandbox's own
    code; read-write beneath the working dir only; a few device files. The rest of the runtime
    (the simulated world, protected prompts, the repo around it) stays unreadable: the child has
    imported everything it needs before it confines itself."""
    read_only = [str(harness_dir), sys.prefix, sys.base_prefix, sys.exec_prefix,
                 sys.base_exec_prefix, str(Path(sys.executable).resolve().parent),
                 str(PACKAGE_DIR / "sandbox")]
    read_only += SYSTEM_READ_ONLY
    unique = list(dict.fromkeys(p for p in read_only if os.path.exists(p)))
    return {"read_only": unique, "read_write": [str(workdir)],
            "extra": {p: a for p, a in DEVICES.items() if os.path.exists(p)}}


def scrubbed_env(workdir: Path) -> dict[str, str]:
    """The child's whole environment: built from nothing, never copied from os.environ."""
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(workdir),
            "TMPDIR": str(workdir), "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUTF8": "1",
            # glibc reserves 64 MB of address space per thread arena; RLIMIT_AS counts it
            "MALLOC_ARENA_MAX": "2"}


class ChildProcess:
    """A running sandboxed child: its process, RPC channel, working dir and deadline."""

    def __init__(self, proc: subprocess.Popen, channel: ParentChannel, workdir: Path,
                 deadline: float, fds: list[int]):
        self.proc = proc
        self.channel = channel
        self.workdir = workdir
        self.deadline = deadline
        self._fds = fds

    def kill(self) -> None:
        """SIGKILL the child's whole process group (it cannot escape it: no fork, no setsid
        children) and reap it."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # already gone
        self.proc.wait()

    def exit_description(self) -> str:
        rc = self.proc.poll()
        if rc is None:
            return "still running"
        if rc < 0:
            return f"killed by {signal.Signals(-rc).name}"
        return f"exit code {rc}"

    def close(self) -> None:
        """Kill, reap, collect the last output, release the pipes and the working dir."""
        self.kill()
        self.channel.drain()
        self.channel.close()
        for fd in self._fds:
            os.close(fd)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        remove_workdir(self.workdir)


def remove_workdir(path: Path) -> None:
    """Remove an episode's working dir whatever its child did to it (a `chmod 000` directory
    is made removable first); a dir already gone is fine."""
    def retry(func, failed, _exc) -> None:
        os.chmod(os.path.dirname(failed), 0o700)
        if os.path.isdir(failed) and not os.path.islink(failed):
            os.chmod(failed, 0o700)
            shutil.rmtree(failed, onerror=retry)
        else:
            func(failed)

    try:
        shutil.rmtree(path, onerror=retry)
    except FileNotFoundError:
        return


def start_child(*, harness_dir: Path, entry: str, prompts: dict, paper: dict, max_rounds: int,
                workdir_root: Path, limits: Limits) -> ChildProcess:
    """Spawn the confined child and send it its init payload."""
    workdir_root.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="episode-", dir=workdir_root)).resolve()
    if os.geteuid() == 0 and _landlock_abi() == 0:
        # the child will run as uid 65534 with no Landlock: its working dir must be its own
        os.chown(workdir, privileges.UNPRIVILEGED, privileges.UNPRIVILEGED)
    req_r, req_w = os.pipe()  # child → parent: requests
    rep_r, rep_w = os.pipe()  # parent → child: replies
    try:
        proc = subprocess.Popen(
            [sys.executable, "-S", "-s", "-P", "-B", "-u", "-c", BOOT, BOOT_PATH, str(rep_r), str(req_w)],
            cwd=workdir, env=scrubbed_env(workdir), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(rep_r, req_w),
            close_fds=True, start_new_session=True,
        )
    finally:
        os.close(rep_r)
        os.close(req_w)
    assert proc.stdout is not None and proc.stderr is not None
    channel = ParentChannel(req_r, rep_w, proc.stdout.fileno(), proc.stderr.fileno())
    deadline = time.monotonic() + limits.timeout_s
    child = ChildProcess(proc, channel, workdir, deadline, [req_r, rep_w])
    init = {
        "boot_path": BOOT_PATH, "site_packages": SITE_PACKAGES,
        "harness_dir": str(harness_dir), "entry": entry,
        "workdir": str(workdir), "prompts": prompts, "paper": paper, "max_rounds": max_rounds,
        "limits": {"memory_mb": limits.memory_mb, "cpu_s": limits.cpu_s,
                   "fsize_mb": limits.fsize_mb, "nofile": limits.nofile},
        "policy": filesystem_policy(harness_dir, workdir),
    }
    try:
        channel.send({"init": init}, deadline)
    except ChannelError:
        child.close()
        raise
    return child
