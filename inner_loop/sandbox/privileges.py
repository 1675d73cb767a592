"""Drop every privilege before harness code runs (ctypes, stdlib only, irreversible).

Started as root (CI, Docker, cloud boxes), the child would otherwise keep nearly every capability
and share the parent's uid: ptrace-class access to the parent (perf_event_open, /proc/<pid>/mem),
signals to every root process, writes to any root-owned file Landlock does not cover. So, as root:

1. drop the whole capability bounding set (needs CAP_SETPCAP, which root still has here) and
   clear the ambient set;
2. switch real, effective and saved uid and gid to `UNPRIVILEGED` (65534, "nobody") with no
   supplementary groups. Every process-to-process check (signals, ptrace, perf, prlimit, /proc of
   other processes) now sees an unprivileged stranger to the parent;
3. with Landlock active, set the *filesystem* uid/gid back to 0 for the one purpose of reading the
   Python install and the harness through their owner bits (a Python under /root, mode 0700, is
   the common case); Landlock alone decides which paths that covers, and no capability is left to
   override file permissions. Without Landlock the filesystem ids stay 65534 too;
4. clear the permitted, effective and inheritable sets (capset) and verify in /proc/self/status
   that all five sets are empty and the ids are what was asked; any difference fails closed.

Not root: capabilities are cleared the same way (an unprivileged process holds none anyway); the
bounding set cannot be dropped without CAP_SETPCAP, and no_new_privs (set before Landlock and
seccomp) makes it unusable: execve cannot gain privileges (and seccomp denies execve).
"""

from __future__ import annotations

import ctypes
import os

UNPRIVILEGED = 65534
PR_SET_KEEPCAPS, PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 8, 24, 47, 4
CAP_SETGID, CAP_SETUID = 6, 7
CAP_VERSION_3 = 0x20080522
CAP_SETS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")


class PrivilegeError(OSError):
    """A privilege could not be dropped: the child must not run harness code."""


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _capset(libc: ctypes.CDLL, bits: int) -> None:
    """Effective = permitted = `bits` (caps 0..31), inheritable empty, caps 32..63 empty."""
    header = _CapHeader(version=CAP_VERSION_3, pid=0)
    data = (_CapData * 2)(_CapData(bits, bits, 0), _CapData(0, 0, 0))
    if libc.capset(ctypes.byref(header), data) != 0:
        raise PrivilegeError(ctypes.get_errno(), f"capset: {os.strerror(ctypes.get_errno())}")


def _prctl(libc: ctypes.CDLL, *args: int) -> None:
    if libc.prctl(*[ctypes.c_ulong(a) for a in args], *[ctypes.c_ulong(0)] * (5 - len(args))):
        err = ctypes.get_errno()
        raise PrivilegeError(err, f"prctl{args}: {os.strerror(err)}")


def status() -> dict[str, str]:
    """The capability sets and ids of this process, from /proc/self/status."""
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in CAP_SETS or key in ("Uid", "Gid", "Groups"):
                out[key] = value.strip()
    return out


def _drop_bounding(libc: ctypes.CDLL) -> None:
    with open("/proc/sys/kernel/cap_last_cap") as fh:
        last = int(fh.read())
    for cap in range(last + 1):
        _prctl(libc, PR_CAPBSET_DROP, cap)


def _become_unprivileged(libc: ctypes.CDLL, keep_fs_root: bool) -> None:
    _prctl(libc, PR_SET_KEEPCAPS, 1)  # keep CAP_SETUID/SETGID across setresuid, for step 3
    os.setgroups([])
    os.setresgid(UNPRIVILEGED, UNPRIVILEGED, UNPRIVILEGED)
    os.setresuid(UNPRIVILEGED, UNPRIVILEGED, UNPRIVILEGED)
    if keep_fs_root:
        _capset(libc, (1 << CAP_SETGID) | (1 << CAP_SETUID))
        libc.setfsgid(0)
        libc.setfsuid(0)
    _prctl(libc, PR_SET_KEEPCAPS, 0)


def _verify(expect_uid: str, expect_gid: str, was_root: bool) -> None:
    """Every set empty (the bounding set too when it could be dropped), the ids as asked."""
    now = status()
    held = [k for k in CAP_SETS if k in now and int(now[k], 16) != 0
            and (k != "CapBnd" or was_root)]
    if held:
        raise PrivilegeError(f"capabilities still held: {', '.join(held)}")
    if now.get("Uid", "").split() != expect_uid.split() or \
            now.get("Gid", "").split() != expect_gid.split():
        raise PrivilegeError(f"ids after the switch: Uid {now.get('Uid')} Gid {now.get('Gid')}")


def drop(keep_fs_root: bool) -> str:
    """Drop every privilege of this (single-threaded) process; return the level in words,
    e.g. "nocaps+uid65534(fsuid0)". `keep_fs_root`: Landlock will confine file access."""
    libc = _libc()
    root = os.geteuid() == 0
    if root:
        _drop_bounding(libc)
    _prctl(libc, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    if root:
        _become_unprivileged(libc, keep_fs_root)
    _capset(libc, 0)
    uid, gid = os.getresuid(), os.getresgid()
    fs = "0" if root and keep_fs_root else str(uid[0])
    fsg = "0" if root and keep_fs_root else str(gid[0])
    _verify(" ".join([*map(str, uid), fs]), " ".join([*map(str, gid), fsg]), root)
    if not root:
        return f"nocaps+uid{uid[0]}"
    return f"nocaps+uid{UNPRIVILEGED}" + ("(fsuid0)" if keep_fs_root else "")
