"""Linux Landlock through raw syscalls (ctypes): a process confines itself, no root needed.

`abi_version()` asks the kernel which Landlock ABI it speaks (0 and a reason when none).
`restrict_self(...)` builds a ruleset that handles every filesystem right of that ABI (and, from
ABI 4, TCP bind/connect; from ABI 6, abstract unix sockets and signals outside the domain),
allows read+execute beneath the read-only paths, everything beneath the read-write paths, and
nothing else; then enforces it on the calling process and all its future children. Irreversible.
Stdlib only: it runs inside the sandboxed child before any harness code.
"""

from __future__ import annotations

import ctypes
import os
import sys

# Same numbers on x86_64 and aarch64 (the generic syscall table).
SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1 << 0
RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS = 38

# Filesystem access rights, by the ABI that introduced them.
FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_ABI1 = (1 << 13) - 1  # EXECUTE .. MAKE_SYM
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
# Rights that make sense on a file (a rule on a non-directory may only carry these).
FS_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV

NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1

READ_ONLY = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR


class LandlockError(OSError):
    """Landlock is present but building or enforcing the ruleset failed."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64),
                ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def abi_version() -> tuple[int, str]:
    """(ABI version, "") when Landlock can be used here, else (0, why not)."""
    if sys.platform != "linux":
        return 0, f"not Linux ({sys.platform})"
    if os.uname().machine not in ("x86_64", "aarch64", "arm64"):
        return 0, f"unsupported architecture {os.uname().machine}"
    libc = _libc()
    abi = libc.syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0),
                       ctypes.c_uint32(CREATE_RULESET_VERSION))
    if abi < 0:
        err = ctypes.get_errno()
        why = {38: "kernel built without Landlock (ENOSYS)",
               95: "Landlock disabled at boot (EOPNOTSUPP)"}.get(err, os.strerror(err))
        return 0, why
    return int(abi), ""


def handled_fs(abi: int) -> int:
    rights = FS_ABI1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def _add_path(libc: ctypes.CDLL, ruleset_fd: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return  # e.g. /lib64 on aarch64: nothing to allow
    try:
        if not os.path.isdir(path):
            access &= FS_FILE_RIGHTS
        attr = _PathBeneathAttr(allowed_access=access, parent_fd=fd)
        rc = libc.syscall(SYS_ADD_RULE, ctypes.c_int(ruleset_fd), ctypes.c_int(RULE_PATH_BENEATH),
                          ctypes.byref(attr), ctypes.c_uint32(0))
        if rc < 0:
            raise LandlockError(ctypes.get_errno(), f"landlock_add_rule {path}: "
                                f"{os.strerror(ctypes.get_errno())}")
    finally:
        os.close(fd)


def no_new_privs() -> None:
    """prctl(PR_SET_NO_NEW_PRIVS): required before Landlock or seccomp without privileges."""
    libc = _libc()
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise LandlockError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")


def restrict_self(abi: int, *, read_only: list[str], read_write: list[str],
                  extra: dict[str, int] | None = None) -> str:
    """Enforce the ruleset on this process; return the level, e.g. "landlock-abi7".

    read_only: read+execute beneath; read_write: every handled right beneath; extra: path → exact
    rights (e.g. /dev/null read+write). Anything not listed is denied; with ABI >= 4 all TCP
    bind/connect is denied (no network rules are added)."""
    libc = _libc()
    fs = handled_fs(abi)
    attr = _RulesetAttr(handled_access_fs=fs)
    size = 8
    if abi >= 4:
        attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP
        size = 16
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        size = 24
    ruleset_fd = libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size),
                              ctypes.c_uint32(0))
    if ruleset_fd < 0:
        raise LandlockError(ctypes.get_errno(), "landlock_create_ruleset: "
                            f"{os.strerror(ctypes.get_errno())}")
    try:
        for path in read_only:
            _add_path(libc, ruleset_fd, path, READ_ONLY & fs)
        for path in read_write:
            _add_path(libc, ruleset_fd, path, fs)
        for path, access in (extra or {}).items():
            _add_path(libc, ruleset_fd, path, access & fs)
        no_new_privs()
        if libc.syscall(SYS_RESTRICT_SELF, ctypes.c_int(ruleset_fd), ctypes.c_uint32(0)) < 0:
            raise LandlockError(ctypes.get_errno(), "landlock_restrict_self: "
                                f"{os.strerror(ctypes.get_errno())}")
    finally:
        os.close(ruleset_fd)
    return f"landlock-abi{abi}"
