"""The seccomp-BPF allowlist (ctypes): deny every syscall a harness does not need.

Why beside Landlock, rlimits and the dropped privileges: Landlock confines paths and TCP, not the
rest of the kernel's surface. The allowlist (`syscalls.py`) is what CPython needs to run
pure-Python code that reaches the world only through its inherited RPC pipes; anything else
answers EPERM: every socket (of any family: no UDP, netlink, unix sockets to the host's daemons),
execve, ptrace, perf_event_open, bpf, process_vm_readv/writev, pidfd_*, kcmp, keyctl, mount,
pivot_root, reboot, kexec, module loading, userfaultfd, io_uring, memfd_create, setuid-family.

Allowed only with checked arguments: clone with CLONE_THREAD (threads, no processes); clone3
answers ENOSYS so the C library falls back to clone, whose flags the filter can read; ioctl for
a few terminal/fd requests (isatty, FIONREAD, FIO(N)CLEX, FIONBIO, TIOCGWINSZ); prctl for a few
read-only options and thread names; kill/tgkill and prlimit64 only on this process; setpriority
only on this process and only to a nice value >= 0. Syscalls of a foreign ABI (i386 `int 0x80`,
x32) are denied. Stdlib only: it runs inside the sandboxed child before any harness code.
Irreversible, inherited by threads.
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys

from inner_loop.sandbox.syscalls import ALLOWED, ARG_CHECKED

PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000
EPERM, ENOSYS = 1, 38
CLONE_THREAD = 0x00010000
X32_SYSCALL_BIT = 0x40000000
# BPF opcodes
LD_W_ABS, JA, JEQ_K, JGE_K, JSET_K, RET_K = 0x20, 0x05, 0x15, 0x35, 0x45, 0x06
# offsets in struct seccomp_data: nr (int), arch (u32), ip (u64), args[6] (u64, little endian)
OFF_NR, OFF_ARCH = 0, 4
IOCTLS = (0x5401, 0x5413, 0x541B, 0x5421, 0x5450, 0x5451)  # TCGETS TIOCGWINSZ FIONREAD FIONBIO
#                                                            FIONCLEX FIOCLEX
PRCTLS = (3, 15, 16, 21, 23, 39)  # GET_DUMPABLE SET/GET_NAME GET_SECCOMP CAPBSET_READ GET_NNP
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
GROUP = 200  # allowlist checks per block, so every jump to its RET ALLOW fits in 8 bits


def _machine() -> str:
    machine = os.uname().machine
    return "aarch64" if machine == "arm64" else machine


class SeccompError(OSError):
    """The filter could not be installed."""


def available() -> tuple[bool, str]:
    if sys.platform != "linux":
        return False, f"not Linux ({sys.platform})"
    if _machine() not in AUDIT_ARCH:
        return False, f"no syscall table for {os.uname().machine}"
    return True, ""


def _arg(n: int) -> int:
    return 16 + 8 * n  # the low 32 bits of args[n]


def _assemble(program: list) -> bytes:
    """Resolve labels: items are (code, k, jt, jf) with jt/jf (or k of a JA) an int or a label
    name, or a label (a str). Raises ValueError when a conditional jump does not fit 8 bits."""
    labels, pos = {}, 0
    for item in program:
        if isinstance(item, str):
            labels[item] = pos
        else:
            pos += 1
    out, pos = [], 0
    for item in program:
        if isinstance(item, str):
            continue
        code, k, jt, jf = item
        jt = labels[jt] - pos - 1 if isinstance(jt, str) else jt
        jf = labels[jf] - pos - 1 if isinstance(jf, str) else jf
        k = labels[k] - pos - 1 if isinstance(k, str) else k
        if not (0 <= jt <= 255 and 0 <= jf <= 255):
            raise ValueError(f"BPF jump out of range at instruction {pos}")
        out.append(struct.pack("=HBBI", code, jt, jf, k))
        pos += 1
    return b"".join(out)


def _one_of(values: tuple[int, ...] | list[int]) -> list:
    """After a load: allow when the accumulator is one of `values`, else deny."""
    prog = [(JEQ_K, v, "allow", 0) for v in values[:-1]]
    return prog + [(JEQ_K, values[-1], "allow", "deny")]


def _checked_args(pid: int) -> list:
    """The blocks of the argument-checked syscalls (labels `c_<name>`)."""
    return [
        "c_clone", (LD_W_ABS, _arg(0), 0, 0), (JSET_K, CLONE_THREAD, "allow", "deny"),
        "c_ioctl", (LD_W_ABS, _arg(1), 0, 0), *_one_of(IOCTLS),
        "c_prctl", (LD_W_ABS, _arg(0), 0, 0), *_one_of(PRCTLS),
        "c_self", (LD_W_ABS, _arg(0), 0, 0), *_one_of([pid]),
        "c_prlimit64", (LD_W_ABS, _arg(0), 0, 0), *_one_of([0, pid]),
        "c_setpriority", (LD_W_ABS, _arg(0), 0, 0), (JEQ_K, 0, 0, "deny"),  # PRIO_PROCESS
        (LD_W_ABS, _arg(1), 0, 0), (JEQ_K, 0, "prio", 0), (JEQ_K, pid, "prio", "deny"),
        "prio", (LD_W_ABS, _arg(2), 0, 0), (JGE_K, 0x80000000, "deny", "allow"),  # nice < 0
    ]


def build_filter(machine: str, pid: int) -> bytes:
    """The filter for `machine`, with `pid` the process it is installed on."""
    checked = ARG_CHECKED[machine]
    prog: list = [(LD_W_ABS, OFF_ARCH, 0, 0), (JEQ_K, AUDIT_ARCH[machine], 0, "deny"),
                  (LD_W_ABS, OFF_NR, 0, 0)]
    if machine == "x86_64":
        prog.append((JGE_K, X32_SYSCALL_BIT, "deny", 0))
    prog.append((JEQ_K, checked["clone3"], "enosys", 0))
    for name in ("clone", "ioctl", "prctl", "prlimit64", "setpriority"):
        prog.append((JEQ_K, checked[name], f"c_{name}", 0))
    prog += [(JEQ_K, checked["kill"], "c_self", 0), (JEQ_K, checked["tgkill"], "c_self", 0),
             (JA, "chain", 0, 0), *_checked_args(pid),
             "allow", (RET_K, RET_ALLOW, 0, 0),
             "deny", (RET_K, RET_ERRNO | EPERM, 0, 0),
             "enosys", (RET_K, RET_ERRNO | ENOSYS, 0, 0), "chain"]
    numbers = sorted(set(ALLOWED[machine].values()))
    for block, start in enumerate(range(0, len(numbers), GROUP)):
        prog += [(JEQ_K, nr, f"ok{block}", 0) for nr in numbers[start:start + GROUP]]
        prog += [(JA, f"next{block}", 0, 0), f"ok{block}", (RET_K, RET_ALLOW, 0, 0),
                 f"next{block}"]
    prog.append((RET_K, RET_ERRNO | EPERM, 0, 0))
    return _assemble(prog)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install() -> str:
    """Install the filter on this process (needs no_new_privs first); return its name."""
    ok, why = available()
    if not ok:
        raise SeccompError(why)
    code = build_filter(_machine(), os.getpid())
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _SockFprog(len=len(code) // 8, filter=ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise SeccompError(err, f"prctl(PR_SET_SECCOMP): errno {err}")
    return "seccomp-allowlist"
