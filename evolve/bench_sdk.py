"""The bare `openai` client's CPU per call (`autodata bench`'s yardstick, evolve/bench_figures.py).

Run as `python -m evolve.bench_sdk BASE_URL CALLS THREADS` with the request body as JSON on stdin;
prints one JSON object. Imports nothing of the project: the process holds the SDK and this loop.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import openai

def sdk_loop(base_url: str, body: dict[str, Any], calls: int, threads: int,
             warmup: int = 3) -> dict[str, Any]:
    """The bare client in this process: CPU seconds per call over `calls` identical requests."""
    client = openai.OpenAI(base_url=base_url, api_key="not-needed", max_retries=0, timeout=60)
    per = max(1, calls // threads)
    ready = threading.Barrier(threads + 1)
    done = threading.Barrier(threads + 1)

    def worker() -> None:
        for _ in range(warmup):  # connection set up, lazy imports: not per-call cost
            client.chat.completions.create(**body)
        ready.wait()
        for _ in range(per):
            client.chat.completions.create(**body)
        done.wait()

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    ready.wait()
    cpu0, t0 = time.process_time(), time.perf_counter()
    done.wait()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    n = per * threads
    return {"calls": n, "threads": threads, "prompt_chars": len(json.dumps(body["messages"])),
            "cpu_ms_per_call": 1000 * cpu / n, "wall_s": wall}


def main(argv: list[str]) -> int:
    base_url, calls, threads = argv[0], int(argv[1]), int(argv[2])
    body = json.loads(sys.stdin.read())
    print(json.dumps(sdk_loop(base_url, body, calls, threads)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
