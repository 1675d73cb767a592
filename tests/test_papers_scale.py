"""Loaders at corpus scale: what they keep per paper lives on disk (`IdIndex`), so memory does
not grow with the corpus; the S2ORC join indexes the metadata by offset, not by its rows."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from inner_loop.papers import PaperError, iter_papers
from inner_loop.papers.id_index import IdIndex


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_id_index_keeps_values_and_memory_stays_flat() -> None:
    with IdIndex() as index:
        assert index.add("a", "x:1") == (True, "x:1")
        assert index.add("a", "x:9") == (False, "x:1")  # the first one is kept
        index.put("b", 7)
        assert index.get("b") == 7 and "b" in index and "c" not in index and len(index) == 2
        assert index.pop("b") == 7 and index.pop("b", None) is None and len(index) == 1
        with pytest.raises(TypeError):
            index.get(3)  # type: ignore[arg-type]
        before = _rss_mb()
        for i in range(100_000):  # ~12 MB as a Python dict of these strings
            index.add(f"arxiv:2401.{i:05d}~{i}", f"/data/corpus/papers.jsonl:{i}")
        assert len(index) == 100_001
        assert index.get("arxiv:2401.00042~42") == "/data/corpus/papers.jsonl:42"
        assert _rss_mb() - before < 8, "the index is held in memory"


def _s2orc(folder: Path, n: int, abstract_chars: int, gz: bool) -> Path:
    meta = [{"paper_id": f"p{i}", "title": f"Paper {i}", "year": 2020, "venue": "V",
             "abstract": ("word " * abstract_chars)[:abstract_chars]} for i in range(n)]
    parses = [{"paper_id": f"p{i}", "abstract": [],
               "body_text": [{"section": "Intro", "text": f"Body of paper {i}."}]}
              for i in reversed(range(n))]  # the other order: every lookup seeks
    opener = gzip.open if gz else open
    ext = ".jsonl.gz" if gz else ".jsonl"
    with opener(folder / f"metadata{ext}", "wt", encoding="utf-8") as fh:
        fh.write("\n".join(json.dumps(m) for m in meta) + "\n")
    (folder / "pdf_parses.jsonl").write_text("\n".join(json.dumps(p) for p in parses) + "\n")
    return folder / "pdf_parses.jsonl"


@pytest.mark.parametrize("gz", [False, True])
def test_s2orc_join_reads_metadata_back_by_offset_not_held(tmp_path: Path, gz: bool) -> None:
    parses = _s2orc(tmp_path, 1500, 20_000, gz)  # 30 MB of metadata abstracts
    before = _rss_mb()
    stream = iter_papers(parses)
    first = next(stream)
    assert first.id == "p1499" and first.title == "Paper 1499"
    assert first.abstract.startswith("word word") and len(first.abstract) == 20_000
    grown = _rss_mb() - before
    papers = 1 + sum(1 for _ in stream)
    assert papers == 1500
    assert grown < 15, f"the metadata rows are held in memory (+{grown:.0f} MB)"


def test_s2orc_metadata_problems_keep_their_line_numbers(tmp_path: Path) -> None:
    meta = tmp_path / "metadata.jsonl"
    meta.write_text('{"paper_id": "a", "title": "A"}\n\n{"paper_id": "a", "title": "B"}\n'
                    '[1]\n{"title": "no id"}\n')
    (tmp_path / "pdf_parses.jsonl").write_text(json.dumps(
        {"paper_id": "a", "body_text": [{"section": "S", "text": "T"}]}) + "\n")
    with pytest.raises(PaperError, match=r"metadata.jsonl:3: duplicate_id: paper_id a "
                                         r"already at .*metadata.jsonl:1"):
        list(iter_papers(tmp_path / "pdf_parses.jsonl", "s2orc"))
    papers = list(iter_papers(tmp_path / "pdf_parses.jsonl", "s2orc", skip_bad=True))
    assert [(p.id, p.title) for p in papers] == [("a", "A")]  # the first row is the one joined


def test_s2orc_explicit_metadata_that_is_missing_is_one_line(tmp_path: Path) -> None:
    parses = _s2orc(tmp_path, 1, 10, False)
    with pytest.raises(PaperError, match="no such file"):
        list(iter_papers(parses, "s2orc", metadata=tmp_path / "absent.jsonl"))


def test_duplicate_ids_are_caught_across_a_long_corpus(tmp_path: Path) -> None:
    lines = [json.dumps({"id": f"x{i}", "title": "T", "abstract": "",
                         "sections": [{"heading": "H", "text": "t"}]}) for i in range(3000)]
    lines.append(lines[5])
    (tmp_path / "c.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(PaperError, match=r"c.jsonl:3001: duplicate_id: paper x5 already at "
                                         r".*c.jsonl:6"):
        list(iter_papers(tmp_path / "c.jsonl"))
