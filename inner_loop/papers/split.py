"""The train/validation split of a corpus: the `Split` model and `make_split`, seeded and stratified.

Method (the one that made `splits/split_50_25.json`; `make_split(bundled corpus, 50, 25, 20240601)`
gives back exactly its train, validation, unassigned_pool and strata):
papers are sorted by id and grouped into strata by `subfield` (the id prefix when a paper has none);
catch-all subfields (`other`, `*_other`) and subfields with fewer than `min_stratum` papers are
merged into one `other` stratum. Strata are processed in sorted order, each shuffled with ONE
`random.Random(seed)`. Per-stratum quotas come from largest remainder (exact fractions, ties by
stratum name) so each split mirrors corpus proportions: the first quota of each shuffled stratum goes
to train, the next to validation; `unassigned_pool` is every other paper. Lists are sorted by id.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable
from fractions import Fraction

from pydantic import BaseModel, ConfigDict, model_validator

from inner_loop.papers.model import Paper, PaperError

SUBSETS = ("train", "validation", "unassigned_pool")
METHOD = (
    "papers sorted by id, grouped into coarse subfield strata (catch-all subfields and subfields with "
    "fewer than {min_stratum} papers merged into 'other'; id prefix where subfield is missing), "
    "shuffled within stratum with random.Random(seed) (strata processed in sorted order); per-stratum quotas by "
    "largest remainder so each split mirrors corpus proportions; first quota of each shuffled stratum "
    "-> train, next -> validation; unassigned_pool = every paper not in train or validation"
)


class Split(BaseModel):
    """A split file: which paper ids are train, validation, and neither (`unassigned_pool`)."""

    model_config = ConfigDict(extra="forbid")

    seed: int | None = None
    method: str = ""
    strata: dict[str, str] = {}
    train: list[str]
    validation: list[str]
    unassigned_pool: list[str] = []

    @model_validator(mode="after")
    def _disjoint(self) -> Split:
        counts = Counter(self.train + self.validation + self.unassigned_pool)
        repeated = sorted(i for i, n in counts.items() if n > 1)
        if repeated:
            raise ValueError(f"ids listed twice across train/validation/unassigned_pool: {repeated[:3]}")
        return self

    def ids(self, subset: str) -> list[str]:
        if subset not in SUBSETS:
            raise PaperError(f"unknown split subset {subset!r}; choose one of {', '.join(SUBSETS)}")
        return list(getattr(self, subset))

    def to_json(self) -> str:
        """The file form (the same layout as the bundled split_50_25.json)."""
        return json.dumps(self.model_dump(), indent=1, ensure_ascii=False)


def make_split(
    papers: Iterable[Paper], train: int, validation: int, seed: int, *, min_stratum: int = 5
) -> Split:
    """Seeded, stratified split of `papers` into `train` and `validation` ids (see module docstring)."""
    ordered = sorted(papers, key=lambda p: p.id)
    repeated = sorted(i for i, n in Counter(p.id for p in ordered).items() if n > 1)
    if repeated:
        raise PaperError(f"cannot split: duplicate paper ids {repeated[:3]}")
    if train < 1 or validation < 1:
        raise PaperError(
            f"cannot split: train ({train}) and validation ({validation}) must both be >= 1"
        )
    if train + validation > len(ordered):
        raise PaperError(
            f"cannot split: the corpus has {len(ordered)} papers, fewer than "
            f"train + validation = {train} + {validation}"
        )
    groups = _strata(ordered, min_stratum)
    sizes = {name: len(ids) for name, ids in groups.items()}
    q_train = _quotas(sizes, train, sizes)
    q_val = _quotas(sizes, validation, {s: sizes[s] - q_train[s] for s in sizes})
    rng = random.Random(seed)
    shuffled = {}
    for name in sorted(groups):
        shuffled[name] = list(groups[name])
        rng.shuffle(shuffled[name])
    picked_train = [i for s in sorted(groups) for i in shuffled[s][: q_train[s]]]
    picked_val = [i for s in sorted(groups) for i in shuffled[s][q_train[s] : q_train[s] + q_val[s]]]
    stratum_of = {i: s for s, ids in groups.items() for i in ids}
    chosen = set(picked_train) | set(picked_val)
    return Split(
        seed=seed,
        method=METHOD.format(min_stratum=min_stratum),
        strata={i: stratum_of[i] for i in picked_train + picked_val},
        train=sorted(picked_train),
        validation=sorted(picked_val),
        unassigned_pool=[p.id for p in ordered if p.id not in chosen],
    )


def stratum_key(paper: Paper) -> str:
    """The fine stratum of a paper: its subfield, else its id prefix, else "other"."""
    key = paper.subfield or paper.id_prefix or "other"
    return "other" if key.endswith("_other") else key


def _strata(ordered: list[Paper], min_stratum: int) -> dict[str, list[str]]:
    """Stratum name -> ids in id order; small strata merged into "other"."""
    fine = {p.id: stratum_key(p) for p in ordered}
    sizes = Counter(fine.values())
    groups: dict[str, list[str]] = {}
    for paper in ordered:
        name = fine[paper.id] if sizes[fine[paper.id]] >= min_stratum else "other"
        groups.setdefault(name, []).append(paper.id)
    return groups


def _quotas(sizes: dict[str, int], total: int, caps: dict[str, int]) -> dict[str, int]:
    """Largest-remainder apportionment of `total` over strata by size, never above `caps`."""
    n = sum(sizes.values())
    exact = {s: Fraction(size * total, n) for s, size in sizes.items()}
    quota = {s: min(int(exact[s]), caps[s]) for s in sizes}
    order = sorted(sizes, key=lambda s: (-(exact[s] - int(exact[s])), s))
    while sum(quota.values()) < total:
        open_strata = [s for s in order if quota[s] < caps[s]]
        if not open_strata:
            raise PaperError(f"cannot split: strata hold too few papers for {total}")
        for s in open_strata[: total - sum(quota.values())]:
            quota[s] += 1
    return quota
