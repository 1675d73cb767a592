"""The hostile-harness suite: what harness code tries, run as whoever runs the tests (CI: root).

`tests/fixtures/harnesses/probe` runs the attacks the paper's abstract names and logs each
outcome; every episode goes through the real runner, the real sandbox and the simulated world.
A secret planted in the parent's environment must appear in no record. The seccomp program is
also run through a small classic-BPF interpreter here, for both architectures.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import struct
from pathlib import Path

import pytest

from inner_loop.config import load_config
from inner_loop.episode import EpisodeRecord
from inner_loop.llm.client import LLMClient
from inner_loop.papers import Paper, Section
from inner_loop.runner import run_episode
from inner_loop.sandbox import landlock, seccomp
from inner_loop.sandbox.bounds import Bounds, check_request, workdir_usage
from inner_loop.sandbox.rpc import ChannelError
from inner_loop.sandbox.syscalls import ALLOWED, ARG_CHECKED

PROBE = Path(__file__).parent / "fixtures" / "harnesses" / "probe"
SECRET = "sk-PLANTED-hostile-suite-7731"
X86 = os.uname().machine == "x86_64"
LANDLOCK_ABI, _ = landlock.abi_version()
x86_only = pytest.mark.skipif(not X86, reason="the probe's syscall numbers are x86_64's")
ROOT = os.geteuid() == 0


def _episode(tmp_path: Path, probes: str, *sets: str, section: str = "none") -> EpisodeRecord:
    os.environ["OPENAI_API_KEY"] = os.environ["MOONSHOT_API_KEY"] = SECRET
    try:
        harness = tmp_path / "harness"
        shutil.copytree(PROBE, harness)
        config = load_config(None, ["inner_loop.episode_timeout_s=30", *sets])
        paper = Paper(id="test:probe", title="Probe", abstract=probes,
                      sections=[Section(heading="Target", text=section)])
        record = run_episode(paper, harness, config=config, client=LLMClient(config),
                             workdir_root=tmp_path / "work")
    finally:
        del os.environ["OPENAI_API_KEY"], os.environ["MOONSHOT_API_KEY"]
    assert SECRET not in record.model_dump_json()  # in no record, whatever the probe did
    assert not list((tmp_path / "work").iterdir())  # the working dir is gone
    return record


def _outcomes(record: EpisodeRecord) -> dict[str, str]:
    return dict(e["text"].split(": ", 1) for e in record.transcript
                if e["op"] == "log" and ": " in e["text"])


@pytest.fixture(scope="module")
def attacks(tmp_path_factory) -> tuple[EpisodeRecord, dict[str, str]]:
    """One episode running every probe that does not end the episode."""
    tmp = tmp_path_factory.mktemp("attacks")
    host_socket = str(tmp / "host.sock")  # a pathname socket outside the sandbox, like docker.sock
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(host_socket)
    server.listen(1)
    try:
        record = _episode(tmp, "perf_parent bpf_map ptrace_parent vm_read_parent pidfd_parent "
                          "reboot misc nice kill_parent sockets unix_connect proc_parent "
                          "proc_self_net proc_list privileges environment", section=host_socket)
    finally:
        server.close()
    return record, _outcomes(record)


@x86_only
@pytest.mark.parametrize("probe", ["perf_parent", "bpf_map", "ptrace_parent", "vm_read_parent",
                                   "reboot", "kill_parent", "unix_connect"])
def test_kernel_attack_is_denied(attacks, probe: str) -> None:
    assert attacks[1][probe] == "DENIED EPERM"


@x86_only
def test_pidfds_and_the_rest_of_the_kernel_surface_are_denied(attacks) -> None:
    outcomes = attacks[1]
    assert outcomes["pidfd_parent"] == "DENIED EPERM / getfd DENIED EPERM"
    assert "ALLOWED" not in outcomes["misc"] and outcomes["misc"].count("=DENIED") == 12


def test_no_socket_of_any_family(attacks) -> None:
    assert attacks[1]["sockets"] == ("unix=DENIED inet=DENIED inet6=DENIED netlink=DENIED "
                                     "socketpair=DENIED")


def test_nice_may_go_up_never_below_zero(attacks) -> None:
    assert attacks[1]["nice"] == "below0=DENIED EPERM up=ALLOWED"


@pytest.mark.skipif(LANDLOCK_ABI == 0, reason="file reads are confined by Landlock")
def test_proc_of_other_processes_and_the_host_socket_list_are_unreadable(attacks) -> None:
    outcomes = attacks[1]
    assert outcomes["proc_parent"].count("DENIED") == 3
    assert outcomes["proc_self_net"].startswith("DENIED")
    assert outcomes["proc_list"].startswith("DENIED")


@x86_only
def test_every_capability_is_dropped(attacks) -> None:
    text = attacks[1]["privileges"]
    assert "capget=0 eff=0,0 prm=0,0 inh=0,0" in text
    if ROOT:  # as root: uid/gid 65534, no groups, an empty bounding set
        assert "uid=(65534, 65534, 65534) gid=(65534, 65534, 65534) groups=[]" in text
        assert text.endswith("bounding=0")


def test_the_confinement_says_what_holds(attacks) -> None:
    confinement = attacks[0].confinement
    assert "seccomp-allowlist" in confinement and "nocaps" in confinement
    if ROOT:
        assert "uid65534" in confinement
    if LANDLOCK_ABI:
        assert confinement.startswith(f"landlock-abi{LANDLOCK_ABI}+")


def test_the_environment_holds_no_secret(attacks) -> None:
    env = attacks[1]["environment"]
    assert "KEY" not in env and SECRET not in env


@pytest.mark.parametrize("probe, sets, reason", [
    ("fill_files", ["inner_loop.workdir_max_files=50"], "sandbox limit: working-dir entries"),
    ("fill_bytes", ["inner_loop.workdir_quota_mb=2"], "sandbox limit: working-dir size"),
    ("rpc_logs", [], "sandbox limit: log bytes"),
    ("rpc_unknown", [], "sandbox limit: unknown requests 21 > 20"),
    ("llm_flood", ["inner_loop.max_harness_calls=5"], "sandbox limit: harness-role calls"),
    ("rpc_deep", [], "malformed request: JSON nested too deep"),
    ("rpc_nested", [], "malformed request: JSON nested deeper than 64"),
    ("rpc_surrogate", [], "malformed request: a string that is not Unicode text"),
    ("rpc_big", [], "malformed request: a line over 4,194,304 bytes"),
])
def test_a_resource_attack_is_the_harnesss_failure(tmp_path: Path, probe: str, sets: list[str],
                                                   reason: str) -> None:
    record = _episode(tmp_path, probe, *sets)
    assert record.status == "harness_error"  # the harness's failure, never runtime_error
    assert reason in record.error and "\n" not in record.error
    assert probe not in _outcomes(record)  # stopped before the probe finished


def test_deep_json_inside_strings_is_the_harnesss_problem(tmp_path: Path) -> None:
    """A tool result the simulated orchestrator parses and an example the protected parser reads,
    each 100,000 levels deep: an invalid example and an ignored tool result, never runtime_error."""
    record = _episode(tmp_path, "sim_deep")
    assert record.status == "exhausted"
    assert "evaluate=invalid example: invalid JSON: nested too deep" in _outcomes(record)["sim_deep"]


def test_a_long_op_name_is_malformed() -> None:
    from inner_loop.sandbox.bounds import KNOWN_OPS, Meter

    with pytest.raises(ChannelError, match="op name of 1,000"):
        Meter(Bounds(), KNOWN_OPS).request({"op": "x" * 1000}, 1000)


def test_request_shape_checks_are_iterative() -> None:
    deep: object = "leaf"
    for _ in range(50_000):  # far past the recursion limit: the check must not recurse
        deep = {"k": [deep]}
    with pytest.raises(ChannelError, match="deeper than 64"):
        check_request(deep, 64)
    check_request({"a": [{"b": "ok"}] * 100}, 64)


def test_workdir_usage_counts_hidden_and_sparse_entries(tmp_path: Path) -> None:
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    for i in range(5):
        (hidden / f"f{i}").write_bytes(b"x" * 10_000)
    with open(tmp_path / "sparse", "wb") as fh:
        fh.truncate(1 << 30)  # 1 GB apparent size, no blocks: counted as what it occupies
    hidden.chmod(0)
    entries, used = workdir_usage(str(tmp_path), 100, 1 << 40)
    assert entries == 7 and 50_000 <= used < 1 << 20


# --- the seccomp program, interpreted -------------------------------------------------------

def _run_bpf(code: bytes, nr: int, arch: int, args: tuple[int, ...] = ()) -> int:
    """A classic-BPF interpreter for the opcodes build_filter emits."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, *(list(args) + [0] * (6 - len(args))))
    insns = [struct.unpack("=HBBI", code[i:i + 8]) for i in range(0, len(code), 8)]
    pc, acc = 0, 0
    while True:
        op, jt, jf, k = insns[pc]
        if op == seccomp.LD_W_ABS:
            acc = struct.unpack_from("<I", data, k)[0]
        elif op == seccomp.RET_K:
            return k
        elif op == seccomp.JA:
            pc += k
        else:
            hit = {seccomp.JEQ_K: acc == k, seccomp.JGE_K: acc >= k,
                   seccomp.JSET_K: bool(acc & k)}[op]
            pc += jt if hit else jf
        pc += 1


DENY, ALLOW = seccomp.RET_ERRNO | seccomp.EPERM, seccomp.RET_ALLOW


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_the_filter_allows_exactly_the_allowlist(machine: str) -> None:
    arch, pid = seccomp.AUDIT_ARCH[machine], 777
    code = seccomp.build_filter(machine, pid)
    allowed = set(ALLOWED[machine].values())
    checked = set(ARG_CHECKED[machine].values())
    for nr in range(0, 600):
        verdict = _run_bpf(code, nr, arch)
        if nr in allowed:
            assert verdict == ALLOW, nr
        elif nr not in checked:
            assert verdict == DENY, nr
    assert _run_bpf(code, 0, 0x40000003) == DENY  # i386 ABI on the same kernel
    assert _run_bpf(code, ALLOWED[machine]["read"], arch) == ALLOW


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_argument_checks(machine: str) -> None:
    arch, pid, nr = seccomp.AUDIT_ARCH[machine], 777, ARG_CHECKED[machine]
    code = seccomp.build_filter(machine, pid)

    def verdict(name: str, *args: int) -> int:
        return _run_bpf(code, nr[name], arch, args)

    assert verdict("clone", 0x3D0F00) == ALLOW  # pthread_create's flags (CLONE_THREAD)
    assert verdict("clone", 0x01200011) == DENY  # fork's flags
    assert verdict("clone3") == seccomp.RET_ERRNO | seccomp.ENOSYS
    assert verdict("kill", pid, 9) == ALLOW and verdict("kill", 1, 9) == DENY
    assert verdict("tgkill", pid, pid + 1, 9) == ALLOW and verdict("tgkill", 1, 1, 9) == DENY
    assert verdict("prlimit64", 0) == ALLOW and verdict("prlimit64", 1) == DENY
    assert verdict("setpriority", 0, 0, 5) == ALLOW
    assert verdict("setpriority", 0, 0, (-5) & 0xFFFFFFFF) == DENY
    assert verdict("setpriority", 0, 1, 5) == DENY  # another process
    assert verdict("ioctl", 1, 0x5401) == ALLOW  # TCGETS
    assert verdict("ioctl", 1, 0x5412) == DENY  # TIOCSTI: typing into a terminal
    assert verdict("prctl", 16) == ALLOW and verdict("prctl", 4) == DENY  # SET_DUMPABLE


@pytest.mark.skipif(not os.path.exists("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
                    reason="no x86_64 kernel headers here")
def test_x86_64_numbers_match_the_kernel_headers() -> None:
    text = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h").read_text()
    headers = {m[0]: int(m[1]) for m in re.findall(r"#define __NR_(\w+) (\d+)", text)}
    for name, number in {**ALLOWED["x86_64"], **ARG_CHECKED["x86_64"]}.items():
        if name in headers:  # headers older than the kernel may lack the newest calls
            assert headers[name] == number, name


def test_stale_and_booby_trapped_workdirs_are_removed(tmp_path: Path) -> None:
    """What a killed run leaves: episode dirs, each holding a `chmod 000` dir and a read-only
    file; resume removes the run's whole `work/` with remove_workdir, the rest of the folder
    stays; a dir already gone is fine."""
    from inner_loop.sandbox.spawn import remove_workdir

    root = tmp_path / "work"
    for i in range(3):
        trap = root / f"episode-{i}" / "trap"
        trap.mkdir(parents=True)
        (trap / "f").write_text("x")
        (trap / "f").chmod(0o400)
        trap.chmod(0)
    (tmp_path / "keep.txt").write_text("not a work dir")
    remove_workdir(root)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
    remove_workdir(tmp_path / "absent")
