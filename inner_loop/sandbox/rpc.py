"""The RPC between the sandboxed child and the trusted parent: JSON lines over inherited pipes.

One request → one reply, strictly in turn. The child writes `{"id": n, "op": ..., "args": {...}}`
and blocks until the parent answers `{"id": n, "reply": ...}`. The first line on the parent→child
pipe is the episode's init payload `{"init": {...}}`. The harness's own stdout and stderr are not
part of the protocol: the parent drains them into bounded tails.

`ChildChannel` is the child side (blocking, stdlib only). `ParentChannel` is the parent side: it
multiplexes the request pipe with stdout/stderr and enforces a deadline on every wait, so a child
that floods, stalls or never reads can never block the parent past its deadline.
"""

from __future__ import annotations

import json
import os
import selectors
import time

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: the child must not pay for importing typing
if TYPE_CHECKING:
    from typing import Any

MAX_LINE_BYTES = 4 * 1024 * 1024  # one request line from the child
TAIL_BYTES = 20 * 1024


class ChannelError(Exception):
    """The child broke the protocol; the message says how (a recorded episode error)."""


class ChannelTimeout(ChannelError):
    """The deadline passed while waiting on the child."""


class ChannelClosed(ChannelError):
    """The child closed its end (it exited or closed the pipe)."""


def encode(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


class ChildChannel:
    """Child side: blocking line I/O on the two inherited pipe fds."""

    def __init__(self, read_fd: int, write_fd: int):
        self._r = os.fdopen(read_fd, "rb", buffering=0)
        self._w = os.fdopen(write_fd, "wb", buffering=0)
        self._buf = b""
        self._next_id = 0

    def _readline(self) -> bytes:
        while b"\n" not in self._buf:
            chunk = self._r.read(1 << 16)
            if not chunk:
                raise ChannelClosed("parent closed the pipe")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    def read_init(self) -> dict:
        return json.loads(self._readline())["init"]

    def call(self, op: str, **args: Any) -> Any:
        self._next_id += 1
        self._w.write(encode({"id": self._next_id, "op": op, "args": args}))
        reply = json.loads(self._readline())
        return reply.get("reply")


class Tail:
    """The last `limit` bytes of a stream, decoded leniently."""

    def __init__(self, limit: int = TAIL_BYTES):
        self.limit = limit
        self.data = bytearray()
        self.total_bytes = 0

    def add(self, chunk: bytes) -> None:
        self.total_bytes += len(chunk)
        self.data += chunk
        if len(self.data) > self.limit:
            del self.data[: len(self.data) - self.limit]

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


class ParentChannel:
    """Parent side: requests from `req_fd`, replies to `rep_fd`, stdout/stderr drained to tails."""

    def __init__(self, req_fd: int, rep_fd: int, stdout_fd: int, stderr_fd: int,
                 max_line_bytes: int = MAX_LINE_BYTES):
        self.req_fd, self.rep_fd = req_fd, rep_fd
        self.max_line_bytes = max_line_bytes
        self.last_request_bytes = 0  # the size of the line `recv` returned last
        self.stdout, self.stderr = Tail(), Tail()
        self._streams = {stdout_fd: self.stdout, stderr_fd: self.stderr}
        self._buf = bytearray()
        self._req_open = True
        os.set_blocking(rep_fd, False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(req_fd, selectors.EVENT_READ)
        for fd in self._streams:
            self._sel.register(fd, selectors.EVENT_READ)

    def _pump(self, deadline: float, want_write: bool = False) -> bool:
        """Wait until readable/writable data or the deadline; drain what is readable.
        Returns True when the reply pipe is writable (only when want_write)."""
        if want_write:
            self._sel.register(self.rep_fd, selectors.EVENT_WRITE)
        try:
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                raise ChannelTimeout("deadline passed")
            writable = False
            for key, _ in self._sel.select(timeout):
                fd = key.fd
                if fd == self.rep_fd:
                    writable = True
                    continue
                chunk = os.read(fd, 1 << 16)
                if fd == self.req_fd:
                    self._on_request_bytes(chunk)
                elif chunk:
                    self._streams[fd].add(chunk)
                else:
                    self._sel.unregister(fd)
            return writable
        finally:
            if want_write:
                self._sel.unregister(self.rep_fd)

    def _on_request_bytes(self, chunk: bytes) -> None:
        if not chunk:
            self._sel.unregister(self.req_fd)
            self._req_open = False
            return
        self._buf += chunk
        if b"\n" not in self._buf and len(self._buf) > self.max_line_bytes:
            raise ChannelError(f"malformed request: a line over {self.max_line_bytes:,} bytes")

    def recv(self, deadline: float) -> dict:
        """The next request; ChannelClosed at EOF, ChannelError on garbage, ChannelTimeout."""
        while b"\n" not in self._buf:
            if not self._req_open:
                raise ChannelClosed("the child closed the request pipe without a request")
            self._pump(deadline)
        idx = self._buf.index(b"\n")
        if idx > self.max_line_bytes:
            raise ChannelError(f"malformed request: a line over {self.max_line_bytes:,} bytes")
        line = bytes(self._buf[:idx])
        del self._buf[: idx + 1]
        self.last_request_bytes = len(line) + 1
        try:
            msg = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ChannelError(f"garbage on the RPC pipe: {line[:200]!r}") from None
        except RecursionError:  # the C decoder recurses once per nesting level
            raise ChannelError("malformed request: JSON nested too deep to decode") from None
        if not isinstance(msg, dict) or not isinstance(msg.get("op"), str) \
                or not isinstance(msg.get("args", {}), dict):
            raise ChannelError(f"malformed request: {line[:200]!r}")
        return msg

    def send(self, obj: Any, deadline: float) -> int:
        """Write one reply line; return its size in bytes."""
        data = memoryview(encode(obj))
        size = len(data)
        while data:
            if not self._pump(deadline, want_write=True):
                continue
            try:
                n = os.write(self.rep_fd, data)
            except BlockingIOError:
                continue
            except BrokenPipeError:
                raise ChannelClosed("the child closed the reply pipe") from None
            data = data[n:]
        return size

    def drain(self, seconds: float = 0.5) -> None:
        """After the child is gone: read what is left on stdout/stderr (bounded)."""
        deadline = time.monotonic() + seconds
        try:
            while len(self._sel.get_map()) > 0 and time.monotonic() < deadline:
                self._pump(deadline)
        except ChannelError:
            return  # the child is gone; leftover request bytes do not matter any more

    def close(self) -> None:
        self._sel.close()
