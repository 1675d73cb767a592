"""`autodata sim-serve`: the simulated model world as a loopback OpenAI-compatible server."""

from __future__ import annotations

import argparse
import sys

from inner_loop.errors import UserError
from inner_loop.sim.memory import load_memory
from inner_loop.sim.server import FAULTS, SimServer, parse_faults


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sim-serve",
        help="serve the simulated model world over an OpenAI-compatible HTTP API",
        description="Serve POST /v1/chat/completions (n, stream with tool-call deltas and "
        "stream_options.include_usage, response_format json_object/json_schema honoured or a 400), "
        "GET /v1/models and /v1/models/{id} for the models sim-<role>, with OpenAI's 4xx error "
        "object for every malformed request, optional latency and deterministic fault injection. "
        "Every answer is labelled simulated (system_fingerprint 'autodata-sim'). Runs until Ctrl-C.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="default 8765; 0 picks a free port")
    p.add_argument("--latency-ms", type=float, default=0.0,
                   help="time to answer each request, the simulator's own work included")
    p.add_argument("--fault-rate", type=float, default=0.0,
                   help="probability that a request gets a fault instead of its answer")
    p.add_argument("--faults", default=",".join(FAULTS),
                   help=f"comma-separated subset of {','.join(FAULTS)}")
    p.add_argument("--fault-seed", type=int, default=0)
    p.add_argument("--timeout-sleep-s", type=float, default=10.0,
                   help="how long a 'timeout' fault holds a request (set above the client timeout)")
    p.add_argument("--retry-after-s", type=float, default=1.0, help="Retry-After sent with 429")
    p.add_argument("--prefix-cache-tokens", type=int, default=4_000_000,
                   help="emulated automatic prefix caching (usage only): tokens the cache holds "
                   "(default 4,000,000; 0 turns it off)")
    p.add_argument("--prefix-block-tokens", type=int, default=16, help="cache block size (vLLM's 16)")
    p.add_argument("--cached-usage", choices=("openai", "moonshot"), default="openai",
                   help="report cached tokens as prompt_tokens_details.cached_tokens (OpenAI, vLLM) "
                   "or top-level cached_tokens (Moonshot)")
    p.add_argument("--verbose", action="store_true", help="log every request on stderr")
    p.set_defaults(func=sim_serve)


def sim_serve(args: argparse.Namespace) -> int:
    try:
        faults = parse_faults(args.faults)
    except ValueError as exc:
        raise UserError(f"--faults: {exc}") from None
    if not 0.0 <= args.fault_rate <= 1.0:
        raise UserError(f"--fault-rate must be in [0, 1], got {args.fault_rate}")
    if args.prefix_cache_tokens < 0 or args.prefix_block_tokens < 1:
        raise UserError("--prefix-cache-tokens must be >= 0 and --prefix-block-tokens >= 1, got "
                        f"{args.prefix_cache_tokens} and {args.prefix_block_tokens}")
    try:
        server = SimServer(
            args.host, args.port, verbose=args.verbose, latency_ms=args.latency_ms,
            fault_rate=args.fault_rate, faults=faults, fault_seed=args.fault_seed,
            timeout_sleep_s=args.timeout_sleep_s, retry_after_s=args.retry_after_s,
            prefix_cache={"capacity_tokens": args.prefix_cache_tokens,
                          "block_tokens": args.prefix_block_tokens, "usage_shape": args.cached_usage},
        )
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc}") from None

    load_memory()  # the solvers' memory (a few seconds): built before the first request waits
    print(f"sim-serve: SIMULATED model world at {server.base_url} "
          f"(models sim-<role>; fault_rate={args.fault_rate}); Ctrl-C stops", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("sim-serve: stopped", file=sys.stderr)
    finally:
        server.stop()
    return 0
