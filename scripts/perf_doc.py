#!/usr/bin/env python3
"""Fill docs/performance.md's figures from an `autodata bench --json` file (and, optionally,
a `scripts/overhead_breakdown.py` output): the numbers in the doc are the measured ones. A
figure is written where the doc has its marker (`SAT`, or `<!--SAT-->…<!--/-->` once filled);
the keys are those of `figures` below (the bench's `figures` object, issue 19).

    .venv/bin/python scripts/perf_doc.py BENCH.json [BREAKDOWN.txt]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from evolve.commands.bench import table

DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"


def main() -> int:
    data = json.loads(Path(sys.argv[1]).read_text())
    text = DOC.read_text()
    sat, ovh, eco = data["rows"][0], data["rows"][1], data["economy"]
    scale = {s["name"]: s for s in data["scaling"]}
    papers = [s for n, s in scale.items() if n.startswith("papers_")]
    inflight = [s for n, s in scale.items() if n.startswith("inflight_")]
    fig = data.get("figures") or {}
    figures = {
        "SAT": f"{fig.get('saturation', sat['calls_per_s'] / sat['ideal_calls_per_s']):.2f}",
        "SEED_SAT": f"{fig.get('seed_saturation') or 0:.2f}",
        "SDK_MS": f"{fig.get('sdk_ms_per_call') or 0:.1f}",
        "SDK_RATIO": f"{fig.get('overhead_ratio_to_sdk') or 0:.2f}",
        "KIDS_RATIO": f"{fig.get('sandbox_ratio_to_sdk') or 0:.2f}",
        "USD_RATIO": f"{fig.get('usd_ratio') or 0:.2f}",
        "STORE_BYTES": f"{(fig.get('store_bytes_per_episode') or 0) / 1000:,.0f} kB",
        "CALLS": f"{eco['calls_ratio']:.2f}", "TOKENS": f"{eco['tokens_ratio']:.2f}",
        "OVH": f"{ovh['cpu_ms_per_call']:.1f}", "KIDS": f"{ovh['sandbox_cpu_ms_per_call']:.1f}",
        "SCALE_PAPERS": ", ".join(f"{s['scoring_s']:.1f} s" for s in papers),
        "SCALE_INFLIGHT": ", ".join(f"{s['scoring_s']:.1f} s" for s in inflight),
    }
    block = "```\n" + table(data) + "\n```"
    text = re.sub(r"(## Latest run\n\n)(?:RESULTS_TABLE|```\n.*?\n```)", lambda m: m.group(1) + block,
                  text, flags=re.S)
    for key, value in figures.items():
        text = re.sub(rf"<!--{key}-->[^<]*<!--/-->|\b{key}\b", f"<!--{key}-->{value}<!--/-->", text)
    if len(sys.argv) > 2:
        rows = Path(sys.argv[2]).read_text().strip().splitlines()
        block = "\n".join("   " + line for line in ["```text", *rows, "```"])  # in a list item
        text = re.sub(r"^ *(?:BREAKDOWN|```text\n.*?\n *```)", lambda m: block, text,
                      count=1, flags=re.S | re.M)
    DOC.write_text(text)
    (DOC.parent / "performance.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
