"""The simulated solvers' memory: what the "pretrained" models have read.

Real solvers have read much of arXiv; the simulated ones have "read" a fixed knowledge corpus
(by default the bundled 150 papers, `splits/papers.jsonl.gz`). This is the sim's equivalent of
model weights: static, identical in every process and behind HTTP, never written by a run.
Recall is per fact and per sample (see solver.py): a memory is not a lookup of the answer.
"""

from __future__ import annotations

import gzip
import json
import math
import threading
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from inner_loop.sim.facts import Fact, facts_of
from inner_loop.sim.text import coverage


def paper_markdown(paper: dict) -> str:
    """The same Markdown layout as Paper.full_text: `# title`, `## Abstract`, `## <heading>`."""
    parts = [f"# {paper.get('title', '')}"]
    if paper.get("abstract"):
        parts.append(f"## Abstract\n{paper['abstract']}")
    parts += [f"## {s['heading']}\n{s['text']}" for s in paper.get("sections", [])]
    return "\n\n".join(parts)


@dataclass(frozen=True)
class Memory:
    papers: tuple[tuple[str, tuple[Fact, ...], frozenset[str]], ...]  # (id, facts, rare terms)
    idf: dict[str, float]

    def weight(self, terms: set[str], default: float) -> float:
        """Summed idf of `terms`, in sorted order and rounded: a set's iteration order follows
        the process's hash seed, and float sums in another order could break ties differently."""
        return round(sum(self.idf.get(t, default) for t in sorted(terms)), 9)

    def best_paper(self, query_rare: set[str]) -> tuple[Fact, ...]:
        best, best_score = (), 0.0
        for _, facts, rare in self.papers:
            score = self.weight(query_rare & rare, 0.0)
            if score > best_score:
                best, best_score = facts, score
        return best if best_score >= 3.0 else ()

    def stated_in(self, context_terms: set[str], query_rare: set[str]) -> list[Fact]:
        """The paper's facts the context itself states (>= 80% of their terms are in it)."""
        return [f for f in self.best_paper(query_rare) if coverage(f.terms, context_terms) >= 0.8]

    def candidates(self, query_terms: set[str], query_rare: set[str], limit: int = 10) -> list[Fact]:
        """The facts a question brings to mind: >= 2 shared terms, ranked by rarity of the overlap."""
        facts = self.best_paper(query_rare)
        scored = []
        for f in facts:
            shared = query_terms.intersection(f.terms)
            if len(shared) >= 2:
                scored.append((-self.weight(shared, 0.3), f.index, f))
        scored.sort(key=lambda s: (s[0], s[1]))
        return [f for _, _, f in scored[:limit]]


def default_knowledge_path() -> Path:
    return Path(__file__).resolve().parents[2] / "splits" / "papers.jsonl.gz"


_LOAD_LOCK = threading.Lock()


def load_memory(path: str | None = None) -> Memory:
    """The memory of a knowledge corpus, built once per process (threads wait for the first)."""
    with _LOAD_LOCK:
        return _build_memory(path)


@lru_cache(maxsize=4)
def _build_memory(path: str | None) -> Memory:
    src = Path(path) if path else default_knowledge_path()
    opener = gzip.open if src.suffix == ".gz" else open
    papers = []
    with opener(src, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                p = json.loads(line)
                facts = facts_of(paper_markdown(p))
                papers.append((p["id"], facts, frozenset(t for f in facts for t in f.rare)))
    df = Counter(t for _, _, rare in papers for t in rare)
    idf = {t: math.log((1 + len(papers)) / (1 + c)) for t, c in df.items()}
    return Memory(tuple(papers), idf)
