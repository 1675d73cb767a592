"""What the order of calls can win: a scoring's episodes replayed under other orderings.

The saturation figures (evolve/bench.py) lose most of their idle to the tail of a scoring: at
its end fewer than C episodes are left and each is a chain of sequential calls. How much of that
any ordering of the calls could recover is measured here, from the run's own records: every
episode of the window becomes a chain of its calls (in the order it made them), and the chains
are replayed on C slots, each call taking one unit (L). Under call sharing (llm/shared.py) a
child's episode and its parent's on the same paper and repeat send identical requests until the
harnesses diverge: such a pair is one chain for its first p calls (p = the pair's calls − its
paid calls), then two. The replay's work is the window's paid calls, so

    replayed saturation = paid calls / (C × rounds)

with the rounds the replay needed (the endpoint's own steady-state loss, a few ms per call, is
not in it). Orderings: `fifo` (a ready chain waits its turn), `fewest_first` (the chain with the
fewest calls so far first) and `oracle` (the most calls still to come first, knowing each
episode's length in advance: a bound no online rule reaches, since the length is only known
once the episode has finished).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolve.store import StoreReader

ORDERINGS = ("fifo", "fewest_first", "oracle")


@dataclass
class Chain:
    """`length` calls in sequence, then the chains of `then` (lengths) side by side."""

    length: int
    then: tuple[int, ...] = ()
    done: int = 0  # calls made along this chain
    before: int = 0  # calls its episodes made before it (a branch: its pair's shared prefix)
    order: int = 0  # when it last became ready (fifo, ties)

    def to_come(self) -> int:
        return self.length - self.done + max(self.then, default=0)


def chains_of(episodes: dict[tuple[str, str], tuple[int, int]]) -> list[Chain]:
    """{(pair key, candidate): (calls, paid calls)} -> one chain per pair (or lone episode)."""
    pairs: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for (key, _candidate), counts in sorted(episodes.items()):
        pairs[key].append(counts)
    out = []
    for members in pairs.values():
        calls = [n for n, _ in members]
        shared = min(min(calls), max(0, sum(calls) - sum(p for _, p in members))) \
            if len(members) > 1 else 0
        if shared:
            out.append(Chain(shared, tuple(n - shared for n in calls if n > shared)))
        else:
            out += [Chain(n) for n in calls if n]
    return out


def _key(ordering: str) -> Callable[[Chain], tuple[int, int]]:
    if ordering == "fifo":
        return lambda c: (0, c.order)
    if ordering == "fewest_first":
        return lambda c: (c.before + c.done, c.order)
    if ordering == "oracle":
        return lambda c: (-c.to_come(), c.order)
    raise ValueError(f"unknown ordering {ordering!r}: one of {', '.join(ORDERINGS)}")


def replay(chains: list[Chain], cap: int, ordering: str) -> float:
    """Calls / (cap × rounds) for `chains` on `cap` slots, each call one round, under
    `ordering`: each round the first `cap` ready chains make one call each."""
    key = _key(ordering)
    ready = [Chain(c.length, c.then, order=i) for i, c in enumerate(chains)]
    work = sum(c.length + sum(c.then) for c in chains)
    rounds = tick = 0
    while ready:
        rounds += 1
        ready.sort(key=key)
        running, ready = ready[:cap], ready[cap:]
        for c in running:
            c.done, tick = c.done + 1, tick + 1
            if c.done < c.length:
                c.order = tick
                ready.append(c)
            else:  # a pair's shared calls are over: its two episodes go on apart
                ready += [Chain(n, before=c.before + c.length, order=tick) for n in c.then]
    return work / (cap * rounds) if rounds else 1.0


def window_chains(run_dir: Path, where: str) -> list[Chain]:
    """The chains of the episodes whose calls match `where` (tags it<n>/<cand>/<purpose>/
    <paper>/r<repeat>/…): a child and its parent on one paper and repeat are one pair."""
    with StoreReader.open(run_dir) as r:
        rows = r.query(
            "SELECT split_part(tag, '/', 1) || '/' || split_part(tag, '/', 4) || '/' || "
            "split_part(tag, '/', 5) AS pair, split_part(tag, '/', 2) AS candidate, "
            "count(*) AS calls, count(*) FILTER (WHERE NOT cached) AS paid FROM llm_calls "
            f"WHERE {where} GROUP BY 1, 2")
    return chains_of({(x["pair"], x["candidate"]): (int(x["calls"]), int(x["paid"]))
                      for x in rows})


def replayed(run_dir: Path, where: str, cap: int) -> dict[str, Any]:
    """{ordering: replayed saturation} of the window's episodes, and how many chains."""
    chains = window_chains(run_dir, where)
    return {"chains": len(chains), **{o: replay(chains, cap, o) for o in ORDERINGS}}
