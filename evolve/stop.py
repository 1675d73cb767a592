"""Graceful stop on SIGTERM and SIGINT (what `kill`, systemd, Slurm, Docker and Ctrl-C send).

While `drive` holds a run, the first signal stops the work the way a spent budget does: the LLM
client refuses every later call (BudgetExceeded), so no new episode or iteration starts and the
episodes in flight end unrecorded (a resume runs them again); `drive` then flushes the buffered
call rows, records the run event `stopped` with detail `signal: SIGTERM` (or SIGINT), releases
the lock and raises RunInterrupted, which the CLI prints as one line and exits 143 (130).
A second signal exits at once (os._exit): the lock is then stale and the WAL is replayed, as
after SIGKILL; `autodata resume` continues either way.

The handler only assigns attributes (no lock, no logging): it may run while the main thread
holds any lock of ours.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any, Protocol

from inner_loop.llm.client import LLMClient


class Stoppable(Protocol):
    """What a signal stops: the run's client (no new model call) and the run's stop reason."""

    client: LLMClient
    stop_reason: str | None

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class RunInterrupted(Exception):
    """The run was stopped by a signal and is resumable."""

    def __init__(self, signum: int, run_dir: str):
        self.signum, self.run_dir = signum, run_dir
        self.exit_code = 128 + signum
        super().__init__(f"stopped by {signal.Signals(signum).name}: no new work started, the "
                         f"work in flight is left to resume; `autodata resume {run_dir}` continues "
                         f"the run")


class Stopper:
    """Installs the handlers for SIGINT and SIGTERM (main thread only) for a `with` block."""

    def __init__(self, run_dir: str):
        self.run_dir = run_dir
        self.signum: int | None = None
        self.ctx: Stoppable | None = None
        self._old: dict[int, Any] = {}

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.signum is not None:
            os.write(2, f"autodata: {signal.Signals(signum).name} again: exiting now; "
                        f"`autodata resume {self.run_dir}` continues the run\n".encode())
            os._exit(128 + signum)
        self.signum = signum
        if self.ctx is not None:
            self._stop(self.ctx)

    def _stop(self, ctx: Stoppable) -> None:
        ctx.client.accounting.stop(f"stopped by {self.name}")
        if ctx.stop_reason is None:
            ctx.stop_reason = f"signal: {self.name}"

    def attach(self, ctx: Stoppable) -> None:
        """The run's context: a signal from now on stops its client (one before, at once)."""
        self.ctx = ctx
        if self.signum is not None:
            self._stop(ctx)

    def __enter__(self) -> "Stopper":
        if threading.current_thread() is threading.main_thread():
            self._old = {s: signal.signal(s, self._handle) for s in SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._old.items():
            signal.signal(signum, handler)
        self._old = {}
