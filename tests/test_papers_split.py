"""Splits: make_split is seeded, stratified and reproduces the bundled split; split files and selection."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from inner_loop.papers import (
    Paper,
    PaperError,
    Section,
    Split,
    default_corpus_path,
    default_split_path,
    load_papers,
    load_split,
    make_split,
    select_papers,
)
from inner_loop.papers.split import stratum_key

# The files the bundled corpus was built from, where a maintainer's checkout has them beside it.
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "papers"


@pytest.fixture(scope="module")
def corpus() -> list[Paper]:
    return load_papers(default_corpus_path())[0]


def paper(pid: str, subfield: str | None) -> Paper:
    return Paper(id=pid, title=pid, abstract="", sections=[Section(heading="", text="x")], subfield=subfield)


def test_make_split_reproduces_the_bundled_split(corpus):
    made = make_split(corpus, 50, 25, 20240601)
    bundled = load_split(default_split_path())
    assert (made.train, made.validation, made.unassigned_pool) == (
        bundled.train, bundled.validation, bundled.unassigned_pool)
    assert list(made.strata.items()) == list(bundled.strata.items())


def test_make_split_is_deterministic_and_seeded(corpus):
    first = make_split(corpus, 50, 25, 7)
    assert make_split(list(reversed(corpus)), 50, 25, 7) == first
    assert make_split(corpus, 50, 25, 8).train != first.train


def test_split_sizes_and_disjointness(corpus):
    made = make_split(corpus, 40, 20, 3)
    assert (len(made.train), len(made.validation), len(made.unassigned_pool)) == (40, 20, 90)
    assert sorted(made.train + made.validation + made.unassigned_pool) == sorted(p.id for p in corpus)


def test_each_stratum_gets_its_largest_remainder_share(corpus):
    made = make_split(corpus, 50, 25, 11)
    sizes = Counter(made.strata[i] for i in made.train)
    # 150 papers: nlp 45 -> 15 train, other 24 (ml_other 17 + 7 small subfields) -> 8, each 13-14 -> 4 or 5
    assert sizes["nlp"] == 15 and sizes["other"] == 8
    strata_all = {"cv": 14, "generative": 14, "graph": 13, "rl": 13, "robust_privacy": 14, "theory_opt": 13}
    for name, n in strata_all.items():
        assert abs(sizes[name] - n * 50 / 150) < 1
    assert sum(sizes.values()) == 50


def test_stratum_falls_back_to_id_prefix():
    assert stratum_key(paper("acl2023:abc", None)) == "acl2023"
    assert stratum_key(paper("plainid", None)) == "other"
    assert stratum_key(paper("x:1", "ml_other")) == "other"


def test_small_subfields_merge_into_other():
    papers = [paper(f"a:{i}", "big") for i in range(8)] + [paper("b:1", "tiny"), paper("b:2", "tiny")]
    made = make_split(papers, 4, 2, 1, min_stratum=3)
    assert set(made.strata.values()) <= {"big", "other"}


def test_quotas_never_exceed_a_stratum():
    papers = [paper(f"a:{i}", "a") for i in range(5)] + [paper("b:1", "b")] + [paper(f"c:{i}", "c") for i in range(4)]
    made = make_split(papers, 5, 5, 2, min_stratum=1)
    assert len(made.train) == 5 and len(made.validation) == 5 and made.unassigned_pool == []


def test_corpus_too_small_is_an_error():
    papers = [paper(f"a:{i}", "x") for i in range(10)]
    with pytest.raises(PaperError, match="has 10 papers, fewer than train \\+ validation = 8 \\+ 3"):
        make_split(papers, 8, 3, 0)


def test_duplicate_ids_cannot_be_split():
    with pytest.raises(PaperError, match="duplicate paper ids"):
        make_split([paper("a:1", "x"), paper("a:1", "x"), paper("a:2", "x")], 1, 1, 0)


def test_bundled_split_file_is_the_shared_split():
    bundled = json.loads(default_split_path().read_text())
    assert len(bundled["train"]) == 50 and len(bundled["validation"]) == 25
    if (SHARED / "split_50_25.json").is_file():
        shared = json.loads((SHARED / "split_50_25.json").read_text())
        for key in ("train", "validation", "unassigned_pool", "seed"):
            assert bundled[key] == shared[key]


def test_split_round_trips_through_its_file(tmp_path, corpus):
    made = make_split(corpus, 50, 25, 20240601)
    path = tmp_path / "s.json"
    path.write_text(made.to_json())
    assert load_split(path) == made


def test_split_file_with_overlap_is_an_error(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"train": ["a", "b"], "validation": ["b"]}))
    with pytest.raises(PaperError, match=f"{path}: bad split file: .*listed twice.*'b'"):
        load_split(path)


def test_split_file_that_is_not_json_is_an_error(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("{\n  nope")
    with pytest.raises(PaperError, match=f"{path}:2: split file is not JSON"):
        load_split(path)


def test_select_papers_in_split_order_with_ids_and_limit():
    split = load_split(default_split_path())
    chosen = select_papers(subset="validation")
    assert [p.id for p in chosen] == split.validation
    picked = select_papers(subset="train", ids=[split.train[3], split.train[1], split.train[7]], limit=2)
    assert [p.id for p in picked] == [split.train[1], split.train[3]]


def test_select_papers_rejects_ids_outside_the_subset():
    split = load_split(default_split_path())
    with pytest.raises(PaperError, match=f"not in the train subset.*{split.validation[0]}"):
        select_papers(subset="train", ids=[split.validation[0]])


def test_select_papers_missing_from_corpus_is_an_error(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(Split(train=["arxiv:2212.11808", "arxiv:0000.00000"], validation=[]).to_json())
    with pytest.raises(PaperError, match="1 train id\\(s\\) of .* are not in the corpus .*: arxiv:0000.00000"):
        select_papers(split_path=path)


def test_unknown_subset_is_an_error():
    with pytest.raises(PaperError, match="unknown split subset 'test'"):
        select_papers(subset="test")
