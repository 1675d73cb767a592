"""The syscalls a sandboxed harness may make, by name and number, for x86_64 and aarch64.

What CPython needs to run pure-Python harness code that talks to the parent over inherited pipes:
files (beneath what Landlock allows), memory, signals to itself, threads, time, pipes and polling.
Everything not listed is denied by `seccomp.build_filter` (EPERM), among them every socket,
`execve`, `ptrace`, `perf_event_open`, `bpf`, `process_vm_readv/writev`, `pidfd_*`, `kcmp`,
`keyctl`/`add_key`, `mount`, `pivot_root`, `reboot`, `kexec_*`, module loading, `userfaultfd`,
`io_uring_*`, `memfd_create`, `setuid`-family calls, `chown`, `sched_setscheduler`, `wait4`.
A few are allowed only with arguments the filter checks (`ARG_CHECKED`, see seccomp.py).

Numbers come from the kernel's tables (arch/x86/entry/syscalls/syscall_64.tbl and
include/uapi/asm-generic/unistd.h, which aarch64 uses); `tests/test_sandbox_hostile.py` checks the
x86_64 ones against the C headers where those are installed. Stdlib-free data: the child imports it.
"""

X86_64 = {
    "read": 0, "write": 1, "open": 2, "close": 3, "stat": 4, "fstat": 5, "lstat": 6, "poll": 7,
    "lseek": 8, "mmap": 9, "mprotect": 10, "munmap": 11, "brk": 12, "rt_sigaction": 13,
    "rt_sigprocmask": 14, "rt_sigreturn": 15, "pread64": 17, "pwrite64": 18, "readv": 19,
    "writev": 20, "access": 21, "pipe": 22, "select": 23, "sched_yield": 24, "mremap": 25,
    "msync": 26, "mincore": 27, "madvise": 28, "dup": 32, "dup2": 33, "pause": 34,
    "nanosleep": 35, "getitimer": 36, "alarm": 37, "setitimer": 38, "getpid": 39, "exit": 60,
    "uname": 63, "fcntl": 72, "flock": 73, "fsync": 74, "fdatasync": 75, "truncate": 76,
    "ftruncate": 77, "getdents": 78, "getcwd": 79, "chdir": 80, "fchdir": 81, "rename": 82,
    "mkdir": 83, "rmdir": 84, "creat": 85, "link": 86, "unlink": 87, "symlink": 88,
    "readlink": 89, "chmod": 90, "fchmod": 91, "umask": 95, "gettimeofday": 96, "getrusage": 98,
    "sysinfo": 99, "times": 100, "getuid": 102, "getgid": 104, "geteuid": 107, "getegid": 108,
    "getppid": 110, "getpgrp": 111, "getgroups": 115, "getresuid": 118, "getresgid": 120,
    "getpgid": 121, "getsid": 124, "rt_sigpending": 127, "rt_sigtimedwait": 128,
    "rt_sigsuspend": 130, "sigaltstack": 131, "utime": 132, "statfs": 137, "fstatfs": 138,
    "capget": 125, "getpriority": 140, "arch_prctl": 158, "gettid": 186, "time": 201, "futex": 202,
    "sched_getaffinity": 204, "epoll_create": 213, "getdents64": 217, "set_tid_address": 218,
    "restart_syscall": 219, "fadvise64": 221, "clock_gettime": 228, "clock_getres": 229,
    "clock_nanosleep": 230, "exit_group": 231, "epoll_wait": 232, "epoll_ctl": 233,
    "utimes": 235, "openat": 257, "mkdirat": 258, "futimesat": 261, "newfstatat": 262,
    "unlinkat": 263, "renameat": 264, "linkat": 265, "symlinkat": 266, "readlinkat": 267,
    "fchmodat": 268, "faccessat": 269, "pselect6": 270, "ppoll": 271, "set_robust_list": 273,
    "utimensat": 280, "epoll_pwait": 281, "eventfd": 284, "fallocate": 285, "eventfd2": 290,
    "epoll_create1": 291, "dup3": 292, "pipe2": 293, "preadv": 295, "pwritev": 296,
    "getcpu": 309, "renameat2": 316, "getrandom": 318, "preadv2": 327, "pwritev2": 328,
    "statx": 332, "rseq": 334, "close_range": 436, "faccessat2": 439, "epoll_pwait2": 441,
    "futex_waitv": 449, "fchmodat2": 452,
}

AARCH64 = {
    "getcwd": 17, "eventfd2": 19, "capget": 90, "epoll_create1": 20, "epoll_ctl": 21, "epoll_pwait": 22,
    "dup": 23, "dup3": 24, "fcntl": 25, "flock": 32, "mkdirat": 34, "unlinkat": 35,
    "symlinkat": 36, "linkat": 37, "renameat": 38, "statfs": 43, "fstatfs": 44, "truncate": 45,
    "ftruncate": 46, "fallocate": 47, "faccessat": 48, "chdir": 49, "fchdir": 50, "fchmod": 52,
    "fchmodat": 53, "openat": 56, "close": 57, "pipe2": 59, "getdents64": 61, "lseek": 62,
    "read": 63, "write": 64, "readv": 65, "writev": 66, "pread64": 67, "pwrite64": 68,
    "preadv": 69, "pwritev": 70, "pselect6": 72, "ppoll": 73, "readlinkat": 78,
    "newfstatat": 79, "fstat": 80, "fsync": 82, "fdatasync": 83, "utimensat": 88, "exit": 93,
    "exit_group": 94, "set_tid_address": 96, "futex": 98, "set_robust_list": 99,
    "nanosleep": 101, "getitimer": 102, "setitimer": 103, "clock_gettime": 113,
    "clock_getres": 114, "clock_nanosleep": 115, "sched_getaffinity": 123, "sched_yield": 124,
    "restart_syscall": 128, "sigaltstack": 132, "rt_sigsuspend": 133, "rt_sigaction": 134,
    "rt_sigprocmask": 135, "rt_sigpending": 136, "rt_sigtimedwait": 137, "rt_sigreturn": 139,
    "getpriority": 141, "getresuid": 148, "getresgid": 150, "times": 153, "getpgid": 155,
    "getsid": 156, "getgroups": 158, "uname": 160, "getrusage": 165, "umask": 166,
    "getcpu": 168, "gettimeofday": 169, "getpid": 172, "getppid": 173, "getuid": 174,
    "geteuid": 175, "getgid": 176, "getegid": 177, "gettid": 178, "sysinfo": 179, "brk": 214,
    "munmap": 215, "mremap": 216, "mmap": 222, "fadvise64": 223, "mprotect": 226, "msync": 227,
    "mincore": 232, "madvise": 233, "renameat2": 276, "getrandom": 278, "preadv2": 286,
    "pwritev2": 287, "statx": 291, "rseq": 293, "close_range": 436, "faccessat2": 439,
    "epoll_pwait2": 441, "futex_waitv": 449, "fchmodat2": 452,
}

# Allowed only with the arguments seccomp.py checks.
ARG_CHECKED = {
    "x86_64": {"clone": 56, "clone3": 435, "ioctl": 16, "prctl": 157, "setpriority": 141,
               "kill": 62, "tgkill": 234, "prlimit64": 302},
    "aarch64": {"clone": 220, "clone3": 435, "ioctl": 29, "prctl": 167, "setpriority": 140,
                "kill": 129, "tgkill": 131, "prlimit64": 261},
}

ALLOWED = {"x86_64": X86_64, "aarch64": AARCH64}
