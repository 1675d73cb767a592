"""`autodata generate`: run the inner loop (agentic or CoT) over papers, write the dataset.

Output directory:
  examples.jsonl   one line per accepted example: paper_id, harness_version, method, example,
                   weak and strong SolverEval dumps, rounds_used, preset, simulated
  episodes.jsonl   every EpisodeRecord, one line per finished episode (appended and flushed)
  summary.json     papers, accepted, acceptance rate, mean rounds, weak/strong avg and gap over
                   accepted examples, round failure counts, usage, preset + thresholds, the
                   resolved config (names of key variables only, never keys), simulated, duration
Resumable: papers already in episodes.jsonl are skipped; a torn last line (a crash mid-write)
is cut off. The summary always covers every selected paper found in episodes.jsonl.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from inner_loop.acceptance import thresholds_for
from inner_loop.config import Config
from inner_loop.episode import EpisodeRecord, RoundRecord, failure_counts
from inner_loop.errors import UserError
from inner_loop.executor import EpisodeJob, Executor, open_executor, stream
from inner_loop.harness import load_harness
from inner_loop.papers import Paper

METHODS = ("agentic", "cot")


def default_harness_dir() -> Path:
    """The seed harness of the repository (`<repo>/harness`, next to the package)."""
    return Path(__file__).resolve().parents[1] / "harness"


def read_episodes(path: Path) -> list[EpisodeRecord]:
    """The records of an episodes.jsonl; a torn last line is cut off the file."""
    if not path.is_file():
        return []
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    records, good_bytes = [], 0
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            good_bytes += len(line) + 1
            continue
        try:
            records.append(EpisodeRecord.model_validate_json(line))
        except ValidationError as exc:
            if n == len(lines):  # no newline after it: an interrupted write
                with open(path, "r+b") as fh:
                    fh.truncate(good_bytes)
                break
            raise UserError(f"{path}:{n}: not an episode record ({exc.errors()[0]['msg']}); "
                            "use a fresh output directory") from None
        good_bytes += len(line) + 1
    return records


def slim(record: EpisodeRecord) -> EpisodeRecord:
    """What the summary reads of a written record: each round's outcome, the accepted round
    whole, no transcript or harness output (a long run keeps only this in memory;
    episodes.jsonl holds the whole record)."""
    rounds = [r if r.index == record.accepted_round else
              RoundRecord(index=r.index, outcome=r.outcome) for r in record.rounds]
    return record.model_copy(update={"transcript": [], "harness_stdout": "",
                                     "harness_stderr": "", "rounds": rounds})


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


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _usage_sum(records: Sequence[EpisodeRecord]) -> dict[str, dict[str, float]]:
    out: dict[str, Counter] = {}
    for record in records:
        for role, usage in record.usage.items():
            out.setdefault(role, Counter()).update(usage.model_dump())
    return {role: dict(c) for role, c in sorted(out.items())}


def _add_usage(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Field-wise sum of two role-usage dicts (numbers added, error counts merged)."""
    out = dict(a)
    for key, value in b.items():
        if isinstance(value, dict):
            merged = dict(a.get(key) or {})
            for k, v in value.items():
                merged[k] = merged.get(k, 0) + v
            out[key] = merged
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = a.get(key, 0) + value
    return out


def cumulative_usage(snapshot: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """This invocation's accounting snapshot plus the usage an earlier (resumed) summary held."""
    if not previous:
        return snapshot
    roles = dict(previous.get("roles") or {})
    for role, usage in snapshot["roles"].items():
        roles[role] = _add_usage(roles.get(role) or {}, usage)
    return {**snapshot, "roles": dict(sorted(roles.items())),
            "total": _add_usage(previous.get("total") or {}, snapshot["total"]),
            "elapsed_s": snapshot["elapsed_s"] + float(previous.get("elapsed_s") or 0.0)}


def summarise_run(records: Sequence[EpisodeRecord], *, config: Config, usage: dict[str, Any],
                  method: str, harness_dir: Path, harness_version: str | None,
                  duration_s: float, resumed: int) -> dict[str, Any]:
    """summary.json: every number computed from the episode records."""
    preset, thresholds = thresholds_for(config)
    accepted = [r for r in records if r.accepted]
    rounds = [r.accepted_round_record() for r in accepted]
    weak = [r.weak.avg for r in rounds if r and r.weak]
    strong = [r.strong.avg for r in rounds if r and r.strong]
    return {
        "papers": len(records), "accepted": len(accepted),
        "acceptance_rate": len(accepted) / len(records) if records else None,
        "mean_rounds": _mean([float(len(r.rounds)) for r in records]),
        "mean_rounds_accepted": _mean([float(r.accepted_round or 0) for r in accepted]),
        "weak_avg": _mean(weak), "strong_avg": _mean(strong),
        "gap": _mean([s - w for s, w in zip(strong, weak)]),
        "failure_counts": failure_counts(records),
        "statuses": dict(Counter(r.status for r in records)),
        "confinement": sorted({r.confinement for r in records}),
        "usage": usage,
        "episode_usage": _usage_sum(records),
        "preset": preset, "thresholds": thresholds.model_dump(),
        "method": method, "harness_dir": str(harness_dir), "harness_version": harness_version,
        "config": config.public_dump(), "simulated": config.simulated,
        "duration_s": duration_s, "resumed_episodes": resumed,
    }


def _previous_usage(path: Path) -> dict[str, Any] | None:
    """The usage an earlier invocation recorded in summary.json (None if it never finished)."""
    try:
        usage = json.loads(path.read_text(encoding="utf-8")).get("usage")
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return usage if isinstance(usage, dict) and isinstance(usage.get("roles"), dict) else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def run_generate(papers: Sequence[Paper], out_dir: str | Path, *, config: Config, client: Any,
                 method: str = "agentic", harness_dir: str | Path | None = None,
                 harness_version: str | None = None,
                 progress: Callable[[int, int, EpisodeRecord | None], None] | None = None,
                 executor: Executor | None = None) -> dict[str, Any]:
    """Run every paper not yet in `out_dir/episodes.jsonl`; write and return the summary.
    Episodes run where `executor` (default: the one `config.executor` names) runs them; this
    process alone writes the output. Raises HarnessInvalid before anything runs when the
    harness does not load."""
    if method not in METHODS:
        raise UserError(f"unknown method {method!r}; one of {', '.join(METHODS)}")
    t0 = time.monotonic()
    harness = load_harness(harness_dir or default_harness_dir())
    version = harness_version or harness.digest
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wanted = {p.id for p in papers}
    earlier = [slim(r) for r in read_episodes(out / "episodes.jsonl") if r.paper_id in wanted]
    done_ids = {r.paper_id for r in earlier}
    pending = [p for p in papers if p.id not in done_ids]
    if progress is not None:
        progress(len(done_ids), len(papers), None)
    writer = _Writer(out)

    def on_done(done: int, _total: int, record: EpisodeRecord) -> None:
        writer.write(record)
        if progress is not None:
            progress(len(done_ids) + done, len(papers), record)

    new: list[EpisodeRecord] = []
    runner = executor or open_executor(config.executor)
    try:
        with tempfile.TemporaryDirectory(prefix="autodata-episodes-") as workdir_root:
            jobs = (EpisodeJob(p, harness, config, client, Path(workdir_root), method, version)
                    for p in pending)  # read lazily: at most `concurrency` in flight
            window = max(1, config.inner_loop.concurrency)
            for done, (_job, record) in enumerate(stream(jobs, runner.run, window), start=1):
                on_done(done, len(pending), record)
                new.append(slim(record))  # written whole; the summary needs only this
    finally:
        writer.close()
        if executor is None:
            runner.close()
    by_id = {r.paper_id: r for r in earlier + new}
    records = [by_id[p.id] for p in papers if p.id in by_id]
    previous = _previous_usage(out / "summary.json") if earlier else None
    usage = cumulative_usage(client.snapshot().model_dump(mode="json"), previous)
    summary = summarise_run(records, config=config, usage=usage, method=method,
                            harness_dir=harness.root, harness_version=version,
                            duration_s=time.monotonic() - t0, resumed=len(earlier))
    _write_json(out / "summary.json", summary)
    return summary
