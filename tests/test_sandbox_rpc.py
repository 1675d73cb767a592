"""The parent's end of the RPC never blocks past its deadline, whatever the child does; and the
pieces of the confinement (seccomp program, Landlock rights) are well formed."""

from __future__ import annotations

import os
import platform
import struct
import time

import pytest

from inner_loop.sandbox import landlock, seccomp
from inner_loop.sandbox.spawn import filesystem_policy, scrubbed_env
from inner_loop.sandbox.rpc import (
    MAX_LINE_BYTES, ChannelClosed, ChannelError, ChannelTimeout, ParentChannel, Tail,
)


@pytest.fixture
def pipes():
    """A ParentChannel over real pipes; the test plays the child with the other ends."""
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    channel = ParentChannel(req_r, rep_w, out_r, err_r)
    child = {"req": req_w, "rep": rep_r, "out": out_w, "err": err_w}
    yield channel, child
    channel.close()
    for fd in (req_r, rep_w, out_r, err_r, *child.values()):
        try:
            os.close(fd)
        except OSError:
            continue  # closed by the test


def _soon(seconds: float = 0.3) -> float:
    return time.monotonic() + seconds


def test_a_request_line_is_parsed(pipes) -> None:
    channel, child = pipes
    os.write(child["req"], b'{"id": 1, "op": "log", "args": {"text": "hi"}}\n')
    assert channel.recv(_soon()) == {"id": 1, "op": "log", "args": {"text": "hi"}}


def test_garbage_is_a_channel_error(pipes) -> None:
    channel, child = pipes
    os.write(child["req"], b"not json\n")
    with pytest.raises(ChannelError, match="garbage on the RPC pipe"):
        channel.recv(_soon())


def test_a_request_without_op_is_malformed(pipes) -> None:
    channel, child = pipes
    os.write(child["req"], b'[1, 2, 3]\n')
    with pytest.raises(ChannelError, match="malformed request"):
        channel.recv(_soon())


def test_silence_times_out(pipes) -> None:
    channel, _ = pipes
    t0 = time.monotonic()
    with pytest.raises(ChannelTimeout):
        channel.recv(_soon(0.2))
    assert time.monotonic() - t0 < 1.0


def test_closed_pipe_is_reported(pipes) -> None:
    channel, child = pipes
    os.close(child["req"])
    with pytest.raises(ChannelClosed):
        channel.recv(_soon())


def test_endless_line_is_refused(pipes) -> None:
    channel, child = pipes
    chunk = b"x" * 65536
    os.set_blocking(child["req"], False)
    with pytest.raises(ChannelError, match="over"):
        deadline = _soon(10)
        while True:  # keep the pipe full until the parent gives up on the line
            try:
                os.write(child["req"], chunk)
            except BlockingIOError:
                pass
            channel._pump(deadline)
    assert len(channel._buf) > MAX_LINE_BYTES


def test_a_child_that_never_reads_cannot_block_a_reply(pipes) -> None:
    channel, _ = pipes
    t0 = time.monotonic()
    with pytest.raises(ChannelTimeout):
        channel.send({"reply": "x" * (4 * 1024 * 1024)}, _soon(0.3))
    assert time.monotonic() - t0 < 2.0


def test_stdout_is_drained_while_waiting(pipes) -> None:
    channel, child = pipes
    os.write(child["out"], b"hello from the harness\n")
    os.write(child["req"], b'{"op": "done"}\n')
    channel.recv(_soon())
    channel.drain(0.05)
    assert channel.stdout.text() == "hello from the harness\n"


def test_tail_keeps_the_last_bytes() -> None:
    tail = Tail(limit=10)
    tail.add(b"0123456789")
    tail.add(b"abc")
    assert tail.text() == "3456789abc" and tail.total_bytes == 13


def test_environment_is_built_from_nothing(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-travel")
    env = scrubbed_env(tmp_path)
    assert "OPENAI_API_KEY" not in env and env["HOME"] == str(tmp_path)


def test_policy_reads_no_runtime_beyond_the_sandbox(tmp_path) -> None:
    policy = filesystem_policy(tmp_path / "h", tmp_path / "w")
    package = os.path.dirname(os.path.dirname(landlock.__file__))
    assert os.path.join(package, "sandbox") in policy["read_only"]
    assert package not in policy["read_only"] and "/etc" not in policy["read_only"]
    assert policy["read_write"] == [str(tmp_path / "w")]


def test_landlock_rights_grow_with_the_abi() -> None:
    assert landlock.handled_fs(1) == landlock.FS_ABI1
    assert landlock.handled_fs(3) & landlock.FS_TRUNCATE
    assert not landlock.handled_fs(4) & landlock.FS_IOCTL_DEV
    assert landlock.handled_fs(7) & landlock.FS_IOCTL_DEV


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_seccomp_program_is_well_formed(machine: str) -> None:
    code = seccomp.build_filter(machine, pid=4242)
    assert len(code) % 8 == 0 and len(code) // 8 < 4096  # BPF_MAXINSNS
    instructions = [struct.unpack("=HBBI", code[i:i + 8]) for i in range(0, len(code), 8)]
    for pos, (op, jt, jf, k) in enumerate(instructions):
        if op in (seccomp.JEQ_K, seccomp.JGE_K, seccomp.JSET_K):
            assert pos + 1 + max(jt, jf) < len(instructions)  # every jump lands inside
        if op == seccomp.JA:
            assert pos + 1 + k < len(instructions)
    assert instructions[-1][0] == seccomp.RET_K  # the program ends in a return
    assert instructions[-1][3] == seccomp.RET_ERRNO | seccomp.EPERM  # deny by default
    assert instructions[1][3] == seccomp.AUDIT_ARCH[machine]  # checks the architecture first


def test_landlock_is_reported_here() -> None:
    abi, why = landlock.abi_version()
    assert (abi > 0 and why == "") or (abi == 0 and why)
    if platform.system() != "Linux":
        assert abi == 0 and "not Linux" in why


def test_status_fields_parse_like_the_whole_status_file():
    """The child's cheap /proc/<pid>/status scan reads Uid and Threads as a full parse does."""
    from inner_loop.sandbox.child import _status_field

    def full_parse(text: str) -> dict[str, str]:
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)

    samples = [b"Name:\tpython\nUmask:\t0022\nUid:\t1000\t1000\t1000\t1000\nThreads:\t7\n",
               b"Name:\tx\nUid:\t0\t0\t0\t0\nGid:\t0\n", b"Name:\tweird\n"]
    if os.path.exists("/proc/self/status"):
        with open("/proc/self/status", "rb") as fh:
            samples.append(fh.read())
    for raw in samples:
        fields = full_parse(raw.decode())
        assert _status_field(raw, b"Uid") == (int(fields["Uid"].split()[0]) if "Uid" in fields
                                              else None)
        assert _status_field(raw, b"Threads") == (int(fields["Threads"].strip())
                                                  if "Threads" in fields else None)
