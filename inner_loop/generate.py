"""`autodata generate`: run the inner loop (agentic or CoT) over papers, write the dataset.

Output directory:
  examples.jsonl   one line per accepted example: paper_id, harness_version, method, example,
                   weak and strong SolverEval dumps, rounds_used, preset, simulated
  episodes.jsonl   every EpisodeRecord, one line per finished episode (appended and flushed)
  summary.json     papers, accepted, acceptance rate, mean rounds, weak/strong avg and gap over
                   accepted examples, round failure counts, usage, preset + thresholds, the
                   resolved config (names of key variables only, never keys), simulated, duration
Corpus scale: papers are read lazily from any iterable (a loader's stream), at most
`inner_loop.concurrency` episodes in flight; each finished record is appended at once and only
its numbers are tallied, so driver memory does not grow with the corpus.
Resumable: papers already in episodes.jsonl are skipped (an on-disk index of the papers done,
built by streaming the file, not a set in memory); a torn last line (a crash mid-write) is cut
off. The summary always covers every selected paper found in episodes.jsonl.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from inner_loop.config import Config
from inner_loop.episode import EpisodeRecord
from inner_loop.errors import UserError
from inner_loop.executor import EpisodeJob, Executor, open_executor, stream
from inner_loop.generate_summary import (Tally, contribution, cumulative_usage, previous_usage,
                                         summarise, summarise_run)

__all__ = ["METHODS", "cumulative_usage", "default_harness_dir", "iter_episodes",
           "read_episodes", "run_generate", "summarise_run"]
from inner_loop.harness import load_harness
from inner_loop.llm.protocol import Client
from inner_loop.strict import first_error
from inner_loop.papers import Paper, PaperError
from inner_loop.papers.id_index import IdIndex

METHODS = ("agentic", "cot")


def default_harness_dir() -> Path:
    """The seed harness of the repository (`<repo>/harness`, next to the package)."""
    return Path(__file__).resolve().parents[1] / "harness"


def iter_episodes(path: Path) -> Iterator[EpisodeRecord]:
    """The records of an episodes.jsonl, one line in memory at a time. A torn last line (no
    newline after it: a crash mid-write) is cut off the file; a whole last record that lost
    only its newline gets it back, so the next append starts a line of its own."""
    if not path.is_file():
        return
    with open(path, "r+b") as fh:
        good_bytes = 0
        for n, line in enumerate(iter(fh.readline, b""), start=1):
            if not line.strip():
                good_bytes += len(line)
                continue
            try:
                record = EpisodeRecord.model_validate_json(line)
            except ValidationError as exc:
                if not line.endswith(b"\n"):  # the last line, cut short by a crash
                    fh.truncate(good_bytes)
                    return
                raise UserError(f"{path}:{n}: not an episode record "
                                f"({first_error(exc)}); use a fresh output directory"
                                ) from None
            if not line.endswith(b"\n"):
                fh.write(b"\n")
            good_bytes += len(line)
            yield record


def read_episodes(path: Path) -> list[EpisodeRecord]:
    """Every record of an episodes.jsonl (small files; `iter_episodes` streams)."""
    return list(iter_episodes(path))


def index_episodes(path: Path, index: IdIndex) -> int:
    """paper_id -> its summary contribution (JSON) for every record of `path`, on disk (a later
    record of a paper replaces an earlier one); the number of records read."""
    n = 0
    for n, record in enumerate(iter_episodes(path), start=1):
        index.put(record.paper_id, json.dumps(contribution(record)))
    return n


def example_row(record: EpisodeRecord) -> dict[str, Any]:
    rnd = record.accepted_round_record()
    assert rnd is not None and rnd.weak is not None and rnd.strong is not None
    return {"paper_id": record.paper_id, "harness_version": record.harness_version,
            "method": record.method, "example": record.accepted_example.model_dump(mode="json"),
            "weak": rnd.weak.model_dump(mode="json"), "strong": rnd.strong.model_dump(mode="json"),
            "rounds_used": record.accepted_round, "preset": record.preset,
            "simulated": record.simulated}


class _Writer:
    """Appends finished episodes (and accepted examples) line by line, flushed, thread-safe."""

    def __init__(self, out_dir: Path):
        self._lock = threading.Lock()
        self._episodes = open(out_dir / "episodes.jsonl", "a", encoding="utf-8")
        self._examples = open(out_dir / "examples.jsonl", "a", encoding="utf-8")

    def write(self, record: EpisodeRecord) -> None:
        with self._lock:
            if record.accepted:
                self._examples.write(json.dumps(example_row(record), ensure_ascii=False) + "\n")
                self._examples.flush()
            self._episodes.write(record.model_dump_json() + "\n")
            self._episodes.flush()

    def close(self) -> None:
        self._episodes.close()
        self._examples.close()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def run_generate(papers: Iterable[Paper], out_dir: str | Path, *, config: Config, client: Client,
                 method: str = "agentic", harness_dir: str | Path | None = None,
                 harness_version: str | None = None,
                 progress: Callable[[int, int | None, EpisodeRecord | None], None] | None = None,
                 executor: Executor | None = None, total: int | None = None) -> dict[str, Any]:
    """Run every paper of `papers` not yet in `out_dir/episodes.jsonl`; write and return the
    summary. `papers` is read lazily (a loader's stream: at most `inner_loop.concurrency`
    episodes in flight, and nothing else is kept per paper in memory: the papers done are an
    on-disk index, the summary a running tally). `total` (else len(papers) if it has one) is
    only for `progress`. Episodes run where `executor` (default: the one `config.executor`
    names) runs them; this process alone writes the output. Raises HarnessInvalid before
    anything runs when the harness does not load. A bad paper (PaperError) stops the reading
    where the stream reaches it: the episodes in flight finish and are written, the summary
    covers what is done, then the error is raised (fix or skip it, run again: it resumes)."""
    if method not in METHODS:
        raise UserError(f"unknown method {method!r}; one of {', '.join(METHODS)}")
    t0 = time.monotonic()
    harness = load_harness(harness_dir or default_harness_dir())
    version = harness_version or harness.digest
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    total = total if total is not None else (len(papers) if isinstance(papers, Sized) else None)
    tally, counts, bad = Tally(), {"resumed": 0, "done": 0}, []
    with IdIndex() as done, tempfile.TemporaryDirectory(prefix="autodata-episodes-") as root:
        earlier = index_episodes(out / "episodes.jsonl", done)  # a bad file: nothing started
        writer = _Writer(out)

        def jobs() -> Iterator[EpisodeJob]:  # read lazily: at most `concurrency` in flight
            try:
                for paper in papers:
                    found = done.get(paper.id)
                    done.put(paper.id, "")  # taken: a repeated id never runs or counts twice
                    if found:
                        tally.add_contribution(json.loads(str(found)))
                        counts["resumed"] += 1
                        _report(None)
                    elif found is None:
                        yield EpisodeJob(paper, harness, config, client, Path(root), method,
                                         version)
            except PaperError as exc:  # a bad record: what runs finishes and is written first
                bad.append(exc)

        def _report(record: EpisodeRecord | None) -> None:
            counts["done"] += 1
            if progress is not None:
                progress(counts["done"], total, record)

        try:
            runner = executor or open_executor(config.executor)
            try:
                window = max(1, config.inner_loop.concurrency)
                for _job, record in stream(jobs(), runner.run, window):
                    writer.write(record)  # written whole; the summary keeps its numbers only
                    tally.add(record)
                    _report(record)
            finally:
                if executor is None:
                    runner.close()
        finally:
            writer.close()
    previous = previous_usage(out / "summary.json") if earlier else None
    usage = cumulative_usage(client.snapshot().model_dump(mode="json"), previous)
    summary = summarise(tally, config=config, usage=usage, method=method,
                        harness_dir=harness.root, harness_version=version,
                        duration_s=time.monotonic() - t0, resumed=counts["resumed"])
    _write_json(out / "summary.json", summary)
    if bad:
        raise bad[0]
    return summary
