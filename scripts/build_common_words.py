"""Rebuild inner_loop/sim/common_words.txt: the simulated world's notion of "general vocabulary".

A word is common when it appears in at least 15% of the train + validation papers of the bundled
split (never the unassigned pool, which hides the held-out test set). Run from the repo root:
    python scripts/build_common_words.py
"""

import gzip
import json
import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORD = re.compile(r"[a-z][a-z\-]+")


def main() -> None:
    split = json.loads((ROOT / "splits" / "split_50_25.json").read_text())
    allowed = set(split["train"]) | set(split["validation"])
    df: Counter[str] = Counter()
    n = 0
    with gzip.open(ROOT / "splits" / "papers.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            paper = json.loads(line)
            if paper["id"] not in allowed:
                continue
            n += 1
            text = " ".join(s["text"] for s in paper["sections"]).lower()
            df.update(set(WORD.findall(text)))
    common = sorted(w for w, c in df.items() if c >= 0.15 * n and len(w) > 1)
    out = ROOT / "inner_loop" / "sim" / "common_words.txt"
    out.write_text("\n".join(common) + "\n", encoding="utf-8")
    print(f"{len(common)} common words from {n} train+validation papers -> {out}")


if __name__ == "__main__":
    main()
