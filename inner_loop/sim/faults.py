"""The loopback sim server's fault injection (server.py), for testing clients.

With probability `fault_rate` a request gets one of `faults` instead of its answer. The decision
is a pure function of sha256(fault_seed, n, request body) where n counts how often this exact
body was seen before — so one request's retries draw fresh decisions and can succeed, and a rerun
with the same seed and the same request sequence injects the same faults. Faults: 429 (with
Retry-After), 500, 503, timeout (no answer for `timeout_sleep_s`, then the connection closes —
set it above the client timeout), reset (TCP RST), bad_json (200 with a non-JSON body), truncated
(the JSON cut in half; a stream cut half-way, without its end), empty_choices (`choices: []`).
"""

from __future__ import annotations

import hashlib
import socket
import struct
import threading
from collections import Counter
from typing import Any

from inner_loop.sim.wire import WireError

FAULTS: tuple[str, ...] = ("429", "500", "503", "timeout", "reset", "bad_json", "truncated",
                           "empty_choices")


def parse_faults(text: str) -> tuple[str, ...]:
    faults = tuple(f.strip() for f in text.split(",") if f.strip())
    unknown = [f for f in faults if f not in FAULTS]
    if unknown or not faults:
        raise ValueError(f"unknown fault(s) {unknown or text!r}; choose from {','.join(FAULTS)}")
    return faults


class FaultPlan:
    """Decides faults from (fault_seed, body, nth sighting of this body); thread-safe.
    `options`: the server's SimServerOptions (fault_rate, faults, fault_seed)."""

    def __init__(self, options: Any):
        self.options = options
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def decide(self, body: bytes) -> str | None:
        o = self.options
        if o.fault_rate <= 0 or not o.faults:
            return None
        body_id = hashlib.sha256(body).hexdigest()
        with self._lock:
            nth = self._seen[body_id]
            self._seen[body_id] += 1
        h = hashlib.sha256(f"{o.fault_seed}:{nth}:{body_id}".encode()).digest()
        if int.from_bytes(h[:8], "big") / 2**64 >= o.fault_rate:
            return None
        return o.faults[int.from_bytes(h[8:16], "big") % len(o.faults)]


def inject(handler: Any, fault: str) -> bool:
    """Send `fault` on the server's request `handler`; True when the request is finished (no
    real answer follows), False for truncated / empty_choices (built from the real answer)."""
    opts = handler.server.options
    if fault == "429":
        err = WireError(429, "simulated rate limit", "rate_limit_error", code="rate_limit_exceeded")
        handler._send_json(429, err.body(), {"Retry-After": f"{opts.retry_after_s:g}"})
    elif fault in ("500", "503"):
        handler._send_json(int(fault), WireError(int(fault), f"simulated server error {fault}",
                                                 "server_error").body())
    elif fault == "timeout":
        handler.server.stopping.wait(opts.timeout_sleep_s)
        handler.close_connection = True
    elif fault == "reset":
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.close_connection = True
    elif fault == "bad_json":
        handler._send(200, b"<html>simulated bad gateway page, not JSON</html>",
                      content_type="text/html")
    else:
        return False
    return True
