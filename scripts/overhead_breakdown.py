#!/usr/bin/env python3
"""Where our process's CPU per LLM call goes (docs/performance.md, figure 3).

Runs the bench's overhead scenario (seed scoring against a sim-serve subprocess, latency 0, 5 and
then 25 validation papers) with timing wrappers around the functions below, and prints each one's
*exclusive* per-thread CPU (time.thread_time; nested wrapped calls are subtracted) as a marginal
per call between the two sizes, the median over --reps pairs. What no wrapper covers (other
threads, garbage collection, the main loop) is the unattributed rest. The store's rows are split
into the Python work before the writer's lock (`*_plan`), what each write finds stored (keys.py) and
the rest of its DuckDB statements (inserts, BEGIN, COMMIT).

    .venv/bin/python scripts/overhead_breakdown.py --reps 3
"""

from __future__ import annotations

import argparse
import collections
import functools
import importlib
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

TARGETS = [
    ("inner_loop.llm.openai_backend", "complete", "openai SDK + httpx (the HTTP call)"),
    ("inner_loop.llm.client", "LLMClient.send", "LLMClient: budgets, retries, accounting"),
    ("inner_loop.llm.client", "LLMClient._record", "LLMClient: the call record"),
    ("inner_loop.llm.client", "LLMClient.build_request", "LLMClient: build the request"),
    ("inner_loop.llm.episode_client", "EpisodeClient.send", "episode client: tag, slot, usage"),
    ("inner_loop.llm.openai_backend", "request_kwargs", "openai backend: the request body"),
    ("inner_loop.llm.openai_backend", "_to_response", "openai backend: the response"),
    ("inner_loop.llm.types", "valid_text", "valid_text (UTF-8 checks of records)"),
    ("evolve.store.calls", "CallBuffer.__call__", "call record: model_dump, buffer"),
    ("evolve.store.batch", "PreparedCall.of", "call record: canonical JSON (journal + blobs)"),
    ("evolve.store.journal", "CallJournal.write_line", "call journal: one line per call"),
    ("evolve.store.writer", "Store.record_prepared_calls", "DuckDB: llm_calls batches"),
    ("evolve.store.batch", "calls_plan", "call batch: rows, hashes, segments (Python)"),
    ("evolve.store.writer", "Store.record_episode", "DuckDB: episodes, rounds, evaluations"),
    ("evolve.store.batch", "episode_plan", "episode record: JSON, hashes, segments (Python)"),
    ("evolve.store.batch", "lookup", "store: what a write finds stored (in memory)"),
    ("evolve.store.db", "SnapshotPublisher.publish", "DuckDB: read snapshot for live readers"),
    ("inner_loop.sandbox.rpc", "ParentChannel.recv", "sandbox RPC: receive"),
    ("inner_loop.sandbox.rpc", "ParentChannel.send", "sandbox RPC: send"),
    ("inner_loop.dispatch", "Dispatcher.dispatch", "dispatcher (the episode's records)"),
    ("inner_loop.evaluation", "evaluate_solver", "protected evaluation"),
    ("inner_loop.runner", "run_episode", "episode runner"),
]

_acc: collections.Counter = collections.Counter()
_tls = threading.local()


def _wrap(label: str, fn):
    @functools.wraps(fn)
    def timed(*args, **kwargs):
        stack = getattr(_tls, "stack", None)
        if stack is None:
            stack = _tls.stack = []
        now = time.thread_time()
        if stack:
            _acc[stack[-1][0]] += now - stack[-1][1]
        stack.append([label, now])
        try:
            return fn(*args, **kwargs)
        finally:
            now = time.thread_time()
            name, t0 = stack.pop()
            _acc[name] += now - t0
            if stack:
                stack[-1][1] = now
    return timed


def _install() -> None:
    wrapped: dict[int, object] = {}
    for module, attr, label in TARGETS:
        try:
            mod = importlib.import_module(module)
            owner, name = (getattr(mod, attr.split(".")[0]), attr.split(".")[1]) \
                if "." in attr else (mod, attr)
            original = getattr(owner, name)
        except (ImportError, AttributeError):  # moved or renamed since: say so, time the rest
            print(f"(not found, not timed: {module}.{attr})", file=sys.stderr)
            continue
        setattr(owner, name, _wrap(label, original))
        if "." not in attr:
            wrapped[id(original)] = getattr(owner, name)
    # a function also bound by `from … import` in another module of ours: that name too
    for mod in list(sys.modules.values()):
        if getattr(mod, "__name__", "").startswith(("inner_loop", "evolve")):
            for key, value in list(vars(mod).items()):
                if id(value) in wrapped:
                    setattr(mod, key, wrapped[id(value)])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    _install()
    from evolve.bench import BenchSettings, scoring

    bs, out = BenchSettings(), collections.defaultdict(list)
    for rep in range(args.reps):
        got = {}
        for papers in bs.overhead_papers:
            with tempfile.TemporaryDirectory() as tmp:
                _acc.clear()
                got[papers] = (scoring(bs, Path(tmp), f"o{papers}", papers=papers, inflight=8,
                                       latency_ms=0.0, cap=64), dict(_acc))
        (small, sa), (big, ba) = got[bs.overhead_papers[0]], got[bs.overhead_papers[1]]
        calls = big["calls"] - small["calls"]
        total = (big["cpu_ms_per_call"] * big["calls"]
                 - small["cpu_ms_per_call"] * small["calls"]) / calls
        kids = (big["sandbox_cpu_ms_per_call"] * big["calls"]
                - small["sandbox_cpu_ms_per_call"] * small["calls"]) / calls
        parts = {k: (ba[k] - sa.get(k, 0.0)) * 1000 / calls for k in ba}
        out["TOTAL, this process"].append(total)
        out["sandboxed harness children (separate)"].append(kids)
        out["unattributed (other threads, GC, main loop)"].append(total - sum(parts.values()))
        for k, v in parts.items():
            out[k].append(v)
        print(f"pair {rep + 1}: {calls} marginal calls, {total:.2f} ms/call", file=sys.stderr)
    print("SIMULATED model world; ms of CPU per call, median over pairs (each pair's value)")
    for k, v in sorted(out.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"{statistics.median(v):7.3f}  {k}  {[round(x, 2) for x in v]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
