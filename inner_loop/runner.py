"""Running episodes: the trusted parent of the sandboxed harness (the agentic inner loop).

`run_episode` validates the harness, starts the confined child (`inner_loop.sandbox`), then serves
its RPC requests one by one through `Dispatcher` (inner_loop/dispatch.py), which is the ONLY
place that decides outcomes, from its own records. Whatever goes wrong on the harness's side — a
crash, a timeout, garbage on the pipe, a child that exits without finishing — becomes a recorded
failed episode; a runtime bug becomes status `runtime_error`. Nothing escapes `run_episode`
except KeyboardInterrupt.
"""

from __future__ import annotations

import subprocess
import time
import traceback
from pathlib import Path
from typing import Any

from inner_loop.thresholds import Rules, recorded_rules, thresholds_for
from inner_loop.config import Config
from inner_loop.dispatch import Dispatcher, EpisodeEnd
from inner_loop.episode import EpisodeRecord
from inner_loop.harness import Harness, HarnessInvalid, load_harness
from inner_loop.llm.episode_client import EpisodeClient
from inner_loop.llm.protocol import Client
from inner_loop.llm.types import BudgetExceeded
from inner_loop.papers import Paper
from inner_loop.sandbox.spawn import ChildProcess, Limits, start_child
from inner_loop.sandbox.bounds import KNOWN_OPS, MB, Bounds, LimitExceeded, Meter, Watchdog, \
    check_request, check_workdir
from inner_loop.sandbox.rpc import ChannelClosed, ChannelError, ChannelTimeout

CPU_SLACK_S = 10


def paper_payload(paper: Paper) -> dict[str, Any]:
    """`ctx.paper` (harness/README.md): id, title, abstract, sections, text."""
    return {"id": paper.id, "title": paper.title, "abstract": paper.abstract,
            "sections": [s.model_dump() for s in paper.sections], "text": paper.full_text}


def limits_for(config: Config) -> Limits:
    inner = config.inner_loop
    return Limits(timeout_s=inner.episode_timeout_s, memory_mb=inner.memory_mb,
                  cpu_s=int(inner.episode_timeout_s) + CPU_SLACK_S,
                  fsize_mb=min(64, inner.workdir_quota_mb))


def bounds_for(config: Config) -> Bounds:
    inner = config.inner_loop
    return Bounds(max_harness_calls=inner.max_harness_calls,
                  max_record_bytes=inner.max_record_mb * MB,
                  workdir_max_bytes=inner.workdir_quota_mb * MB,
                  workdir_max_files=inner.workdir_max_files)


def base_record(paper: Paper, config: Config, method: str, harness_version: str | None,
                 status: str, rules: Rules | None = None) -> dict[str, Any]:
    """The fields every EpisodeRecord of `paper` has; `rules`: the episode's (preset,
    thresholds), resolved once per episode (thresholds.thresholds_for)."""
    return {"paper_id": paper.id, "paper_title": paper.title, "method": method,
            "harness_version": harness_version, **recorded_rules(config, rules),
            "max_rounds": config.inner_loop.max_rounds,
            "status": status, "simulated": config.simulated}


def _serve(child: ChildProcess, dispatcher: Dispatcher, bounds: Bounds) -> None:
    """Answer the child's requests until the episode ends (EpisodeEnd) or the channel fails;
    every request is bounded (shape, counts, bytes) before the dispatcher sees it."""
    meter, workdir = Meter(bounds, KNOWN_OPS), str(child.workdir)
    while True:
        msg = child.channel.recv(child.deadline)
        check_request(msg, bounds.max_depth)
        meter.request(msg, child.channel.last_request_bytes)
        check_workdir(workdir, bounds)  # at every request too: writes between two watchdog ticks
        try:
            reply = dispatcher.dispatch(msg)
        except EpisodeEnd as end:
            if end.reply is not None:
                child.channel.send({"id": msg.get("id"), "reply": end.reply}, child.deadline)
            return
        meter.reply(child.channel.send({"id": msg.get("id"), "reply": reply}, child.deadline))


def _exit_error(child: ChildProcess, dispatcher: Dispatcher, exc: ChannelError) -> str:
    try:
        child.proc.wait(timeout=1.0)
    except subprocess.TimeoutExpired:
        pass  # still running: exit_description says so
    where = "before it was ready" if not dispatcher.confinement else "without finishing"
    return f"the harness process ended {where} ({child.exit_description()}): {exc}"


def _drive(child: ChildProcess, dispatcher: Dispatcher, timeout_s: float,
           bounds: Bounds) -> None:
    """Serve the child; every way it can fail is recorded on the dispatcher. A sandbox limit
    passed (by a request, or found by the watchdog, which kills the child) is the harness's."""
    watchdog = Watchdog(str(child.workdir), child.proc.pid, bounds).start()
    try:
        try:
            _serve(child, dispatcher, bounds)
        finally:
            watchdog.stop()  # before its reason is read
    except ChannelError as exc:
        _channel_failed(child, dispatcher, timeout_s, exc, watchdog.reason)
    except BudgetExceeded as exc:
        dispatcher.end("budget", f"budget exceeded: {exc}")


def _channel_failed(child: ChildProcess, dispatcher: Dispatcher, timeout_s: float,
                    exc: ChannelError, watchdog_reason: str | None) -> None:
    """Record why the channel failed; the watchdog's reason (it killed the child) comes first."""
    if watchdog_reason:
        dispatcher.end("harness_error", watchdog_reason)
    elif isinstance(exc, LimitExceeded):
        dispatcher.end("harness_error", str(exc))
    elif isinstance(exc, ChannelTimeout):
        dispatcher.end("timeout", f"episode timeout: the harness ran past {timeout_s:g}s")
    elif isinstance(exc, ChannelClosed):
        dispatcher.end("harness_error", _exit_error(child, dispatcher, exc))
    else:
        dispatcher.end("harness_error", f"protocol violation: {exc}")


def run_episode(paper: Paper, harness_dir: str | Path | Harness, *, config: Config, client: Client,
                method: str = "agentic", harness_version: str | None = None,
                workdir_root: str | Path, tag: str = "") -> EpisodeRecord:
    """One agentic episode of `paper` with the harness at `harness_dir` (never raises)."""
    t0 = time.monotonic()
    rules = thresholds_for(config)
    try:
        harness = harness_dir if isinstance(harness_dir, Harness) else load_harness(harness_dir)
    except HarnessInvalid as exc:
        return EpisodeRecord(**base_record(paper, config, method, harness_version,
                                            "harness_error", rules),
                             error=f"harness invalid: {exc}")
    version = harness_version or harness.digest
    eclient = EpisodeClient(client, tag or f"episode:{paper.id}")
    dispatcher = Dispatcher(paper, config=config, client=eclient, rules=rules)
    child: ChildProcess | None = None
    try:
        limits = limits_for(config)
        child = start_child(harness_dir=harness.root, entry=harness.manifest.harness.entry,
                            prompts=harness.prompt_table(), paper=paper_payload(paper),
                            max_rounds=config.inner_loop.max_rounds,
                            workdir_root=Path(workdir_root), limits=limits)
        _drive(child, dispatcher, limits.timeout_s, bounds_for(config))
    except ChannelError as exc:  # the child died before it read its init payload
        dispatcher.end("harness_error", f"the harness process did not start: {exc}")
    except Exception as exc:  # noqa: BLE001 — the episode boundary: a runtime bug is recorded
        dispatcher.end("runtime_error", f"{type(exc).__name__}: {exc}\n"
                       f"{traceback.format_exc()[-4000:]}")
    finally:
        if child is not None:
            child.close()
    record = dispatcher.record(base_record(paper, config, method, version, "exhausted", rules))
    record.duration_ms = (time.monotonic() - t0) * 1000.0
    if child is not None:
        record.harness_stdout = child.channel.stdout.text()
        record.harness_stderr = child.channel.stderr.text()
    return record
