"""A small seccomp-BPF filter (ctypes): no new processes, no non-unix sockets, no io_uring.

Why beside Landlock and rlimits: RLIMIT_NPROC is not enforced for root, so a fork bomb run as
root would exhaust the machine's PIDs; and Landlock restricts TCP only (not UDP). Harness code
needs neither processes nor sockets: it reaches the world through the RPC pipes.

Denied with EPERM: fork, vfork, clone without CLONE_THREAD (threads stay allowed), socket() for
any family but AF_UNIX, io_uring_setup, syscalls of a foreign ABI (i386 `int 0x80`, x32).
clone3 answers ENOSYS so the C library falls back to clone, whose flags the filter can read.
Stdlib only: it runs inside the sandboxed child before any harness code. Irreversible.
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys

PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000
EPERM, ENOSYS = 1, 38
CLONE_THREAD, AF_UNIX = 0x00010000, 1
X32_SYSCALL_BIT = 0x40000000
# BPF opcodes
LD_W_ABS, JEQ_K, JGE_K, JSET_K, RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
# offsets in struct seccomp_data: nr (int), arch (u32), ip (u64), args[6] (u64, little endian)
OFF_NR, OFF_ARCH, OFF_ARG0_LO = 0, 4, 16

ARCHES = {
    # machine: (AUDIT_ARCH, {name: nr})
    "x86_64": (0xC000003E, {"fork": 57, "vfork": 58, "clone": 56, "clone3": 435,
                            "socket": 41, "io_uring_setup": 425}),
    "aarch64": (0xC00000B7, {"clone": 220, "clone3": 435, "socket": 198,
                             "io_uring_setup": 425}),
}
ARCHES["arm64"] = ARCHES["aarch64"]


class SeccompError(OSError):
    """The filter could not be installed."""


def available() -> tuple[bool, str]:
    if sys.platform != "linux":
        return False, f"not Linux ({sys.platform})"
    if os.uname().machine not in ARCHES:
        return False, f"no syscall table for {os.uname().machine}"
    return True, ""


def _assemble(program: list) -> bytes:
    """Resolve labels: items are (code, k, jt, jf), jt/jf ints or label names, or a label."""
    labels, pos = {}, 0
    for item in program:
        if isinstance(item, str):
            labels[item] = pos
        else:
            pos += 1
    out, pos = b"", 0
    for item in program:
        if isinstance(item, str):
            continue
        code, k, jt, jf = item
        jt = labels[jt] - pos - 1 if isinstance(jt, str) else jt
        jf = labels[jf] - pos - 1 if isinstance(jf, str) else jf
        out += struct.pack("=HBBI", code, jt, jf, k)
        pos += 1
    return out


def build_filter(machine: str) -> bytes:
    audit_arch, nr = ARCHES[machine]
    prog: list = [(LD_W_ABS, OFF_ARCH, 0, 0), (JEQ_K, audit_arch, 0, "deny"),
                  (LD_W_ABS, OFF_NR, 0, 0)]
    if machine == "x86_64":
        prog.append((JGE_K, X32_SYSCALL_BIT, "deny", 0))
    for name in ("fork", "vfork", "io_uring_setup"):
        if name in nr:
            prog.append((JEQ_K, nr[name], "deny", 0))
    prog += [
        (JEQ_K, nr["clone3"], "enosys", 0),
        (JEQ_K, nr["socket"], "socket", 0),
        (JEQ_K, nr["clone"], "clone", 0),
        (RET_K, RET_ALLOW, 0, 0),
        "socket", (LD_W_ABS, OFF_ARG0_LO, 0, 0), (JEQ_K, AF_UNIX, "allow", "deny"),
        "clone", (LD_W_ABS, OFF_ARG0_LO, 0, 0), (JSET_K, CLONE_THREAD, "allow", "deny"),
        "allow", (RET_K, RET_ALLOW, 0, 0),
        "deny", (RET_K, RET_ERRNO | EPERM, 0, 0),
        "enosys", (RET_K, RET_ERRNO | ENOSYS, 0, 0),
    ]
    return _assemble(prog)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install() -> str:
    """Install the filter on this process (needs no_new_privs first); return "seccomp"."""
    ok, why = available()
    if not ok:
        raise SeccompError(why)
    code = build_filter(os.uname().machine)
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _SockFprog(len=len(code) // 8, filter=ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise SeccompError(err, f"prctl(PR_SET_SECCOMP): errno {err}")
    return "seccomp"
