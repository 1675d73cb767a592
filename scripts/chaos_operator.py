"""scripts/chaos, section 7: operator faults (issue 14; docs/reliability.md says what it promises).

Corruptions of one file of a finished run's harness/.git, hand edits of config.json, bad
settings, SIGTERM storms and the call journal's cost. Every case works on a copy of the
reference run (section 1), so each starts from the same history. `h` is the chaos script itself
(its helpers: row, cli, run_cli, sets, http_sets, q, facts, RUN_SETS)."""

from __future__ import annotations

import json
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from types import ModuleType

from evolve.store.journal import CallJournal

SECTION = "7 operator"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                          check=True).stdout.strip()


def _corruptions(ref: Path) -> list[tuple[str, object, bool]]:
    """(name, how to break a copy of the run, whether resume must repair (else refuse))."""
    repo = ref / "harness"
    accepted = [r["candidate_id"] for r in _q(ref, "SELECT candidate_id FROM candidate_status "
                                                    "WHERE status = 'accepted' AND candidate_id <> 'seed'")]
    other = accepted[-1] if accepted else "seed"
    sha = _git(repo, "rev-parse", f"refs/autodata/candidates/{other}")

    def write(rel: str, data: bytes):
        return lambda d: (d / "harness" / ".git" / rel).write_bytes(data)

    def truncate_packed(d: Path) -> None:
        _git(d / "harness", "pack-refs", "--all")
        packed = d / "harness" / ".git" / "packed-refs"
        packed.write_bytes(packed.read_bytes()[: len(packed.read_bytes()) // 2])

    def drop_object(d: Path) -> None:
        (d / "harness" / ".git" / "objects" / sha[:2] / sha[2:]).unlink()

    return [
        ("HEAD empty (power loss)", write("HEAD", b""), True),
        ("HEAD garbage", write("HEAD", b"\x00\x17garbage"), True),
        ("seed ref empty", write("refs/autodata/candidates/seed", b""), True),
        (f"ref of {other} wrong", lambda d: _git(d / "harness", "update-ref",
                                                  f"refs/autodata/candidates/{other}",
                                                  _git(d / "harness", "rev-parse", "refs/autodata/candidates/seed")), True),
        ("packed-refs truncated", truncate_packed, True),
        ("main branch empty", write("refs/heads/main", b""), True),
        ("index deleted", lambda d: (d / "harness" / ".git" / "index").unlink(), True),
        ("config deleted", lambda d: (d / "harness" / ".git" / "config").unlink(), True),
        (f"commit object of {other} missing", drop_object, False),
    ]


_H: ModuleType | None = None


def _q(path: Path, sql: str) -> list[dict]:
    assert _H is not None
    return _H.q(path, sql)


def _copy(ref: Path, dest: Path) -> Path:
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(ref, dest, symlinks=True)
    return dest


def corruptions(work: Path, ref: Path) -> None:
    h = _H
    for name, breakit, repairable in _corruptions(ref):
        d = _copy(ref, work / "op-corrupt")
        breakit(d)
        before = sorted(str(p.relative_to(d)) for p in (d / "harness" / ".git").rglob("*"))
        rc, _, err = h.run_cli(h.cli("resume", str(d)), timeout_s=300)
        errors = [ln for ln in err.splitlines() if ln.startswith("autodata: error:")]
        if repairable:
            ok = rc == 0 and h.facts(d) == h.facts(ref)
            figure = f"exit {rc}, repaired, history {'identical' if ok else 'DIFFERENT'}"
        else:
            after = sorted(str(p.relative_to(d)) for p in (d / "harness" / ".git").rglob("*"))
            ok = rc == 1 and len(errors) == 1 and after == before and "lacks" in errors[0]
            figure = f"exit {rc}: refused, {errors[0][17:97] if errors else err[-80:]}"
        h.row(SECTION, f"resume after {name}", figure, ok)


def hand_edits(work: Path, ref: Path) -> None:
    h = _H
    cases = [("seed changed", ("config", "seed"), 99, 1, "config.seed"),
             ("run_id changed", ("run_id",), "someone-else", 1, "run_id"),
             ("a model changed", ("config", "roles", "judge", "model"), "other", 1,
              "config.roles.judge.model"),
             ("preset changed", ("preset",), "paper_prose", 1, "preset"),
             ("concurrency 0", ("config", "evolve", "concurrency"), 0, 1,
              "config.evolve.concurrency: must be >= 1"),
             ("budget and concurrency raised", ("config", "evolve", "concurrency"), 3, 0, "")]
    for name, keys, value, want, named in cases:
        d = _copy(ref, work / "op-edit")
        path = d / "config.json"
        data = json.loads(path.read_text())
        node = data
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
        if want == 0:
            data["config"]["budget"]["max_usd"] = 1000.0
        path.write_text(json.dumps(data))
        rc, _, err = h.run_cli(h.cli("resume", str(d)), timeout_s=300)
        errors = [ln for ln in err.splitlines() if ln.startswith("autodata: error:")]
        ok = rc == want and (want == 0 or (len(errors) == 1 and named in errors[0]))
        runs_rows = _q(d, "SELECT count(*) AS n FROM runs")[0]["n"]
        h.row(SECTION, f"config.json hand edit: {name}",
              f"exit {rc}" + (f": {errors[0][17:107]}" if errors else "") + f"; runs rows {runs_rows}",
              ok and runs_rows == 1)


BAD_SETTINGS = ["evolve.selection_temperature=0", "evolve.confidence=5", "inner_loop.samples_per_solver=0",
                "inner_loop.max_rounds=0", "roles.judge.temperature=5", "roles.judge.max_tokens=-5",
                "roles.judge.timeout_s=-1", "budget.max_usd=-1", "inner_loop.episode_timeout_s=0",
                "evolve.concurrency=0", "inner_loop.concurrency=0", "evolve.repeats=0"]


def bad_settings(work: Path) -> None:
    h = _H
    good = 0
    for setting in BAD_SETTINGS:
        d = work / "op-bad"
        rc, _, err = h.run_cli(h.cli("evolve", "--run-dir", str(d), "--set", setting), timeout_s=60)
        lines = err.strip().splitlines()
        key = setting.split("=")[0]
        good += rc == 1 and len(lines) == 1 and f"{key}: must be" in lines[0] and not d.exists()
    h.row(SECTION, "bad settings: exit 1, one line naming key and range, no run folder",
          f"{good} of {len(BAD_SETTINGS)}", good == len(BAD_SETTINGS))


def sigterm_storm(work: Path, ref: Path, n: int, rng: random.Random) -> None:
    """SIGTERM (and SIGINT) at random moments, resume each time, then to the end."""
    from inner_loop.sim.server import SimServer
    h = _H
    path = work / "op-sigterm"
    graceful = 0
    with SimServer() as server:
        extra = h.sets(h.RUN_SETS, h.http_sets(server.base_url))
        for i in range(n):
            args = h.cli("evolve", "--run-dir", str(path), *extra) if i == 0 else h.cli("resume", str(path))
            signum = signal.SIGINT if i % 4 == 3 else signal.SIGTERM
            starts = _starts(path)
            proc = subprocess.Popen(args, cwd=h.ROOT, env=h.env(), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            while _starts(path) == starts and proc.poll() is None:  # the run holds its lock
                time.sleep(0.05)
            time.sleep(rng.uniform(0.3, 3.0))
            proc.send_signal(signum)
            _, err = proc.communicate(timeout=300)
            lines = [ln for ln in err.splitlines() if ln.startswith("autodata:")]
            event = _q(path, "SELECT status, detail FROM run_events ORDER BY seq DESC LIMIT 1")[0]
            graceful += (proc.returncode == 128 + signum and len(lines) == 1
                         and event["detail"] == f"signal: {signum.name}"
                         and not (path / "run.lock").exists()
                         and not (path / "autodata.duckdb.wal").exists()) or proc.returncode == 0
        rc, _, _ = h.run_cli(h.cli("resume", str(path)), timeout_s=600)
    h.row(SECTION, "SIGTERM/SIGINT storm: exit 143/130 in one line, stop event, lock and WAL gone",
          f"{graceful} of {n} signals", graceful == n)
    same = rc == 0 and h.facts(path) == h.facts(ref)
    h.row(SECTION, "after the storm: same attempts, evaluations and lineage as uninterrupted",
          f"exit {rc}, {'identical' if same else 'DIFFERENT'}", same)


def kill_storm(work: Path, ref: Path, n: int, rng: random.Random) -> None:
    """SIGKILL each process 0-2 s after its journal first holds buffered call rows, resume,
    n times; then compare the endpoint's requests with the attempts the call rows record."""
    from inner_loop.sim.server import SimServer
    h = _H
    path = work / "op-sigkill"
    kills = 0
    with SimServer() as server:
        extra = h.sets(h.RUN_SETS, h.http_sets(server.base_url))
        for i in range(n):
            args = h.cli("evolve", "--run-dir", str(path), *extra) if i == 0 else h.cli("resume", str(path))
            starts = _starts(path)
            proc = subprocess.Popen(args, cwd=h.ROOT, env=h.env(), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            while not _buffered(path, starts) and proc.poll() is None:  # calls in flight
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 2.0))
            proc.kill()
            kills += proc.wait() == -signal.SIGKILL
        rc, _, _ = h.run_cli(h.cli("resume", str(path)))
        requests = server.requests
    log = (path / "logs" / "run.log").read_text()
    replayed = sum(int(m) for m in re.findall(r"journal: (\d+) call rows replayed", log))
    attempts = _q(path, "SELECT coalesce(sum(attempts), 0) AS n FROM llm_calls WHERE NOT cached")[0]["n"]
    h.row(SECTION, "SIGKILL storm: call rows the journal kept (each lost before it)",
          f"{replayed} rows replayed over {kills} kills", kills >= n and replayed > 0)
    same = rc == 0 and h.facts(path) == h.facts(ref)
    h.row(SECTION, "SIGKILL storm: endpoint requests - recorded attempts (in flight at a kill)",
          f"{requests} - {attempts} = {requests - attempts}; lineage "
          f"{'identical' if same else 'DIFFERENT'}", same and 0 <= requests - attempts <= 8 * kills)


def _buffered(path: Path, starts: int) -> bool:
    """The process holds the run and the journal holds call rows DuckDB does not have yet."""
    return _starts(path) > starts and any(
        p.stat().st_size > 0 for p in (path / "logs" / "calls").glob("*.jsonl"))


def _starts(path: Path) -> int:
    log = path / "logs" / "run.log"
    text = log.read_text() if log.exists() else ""
    return text.count("started run ") + text.count("resumed run ")


def journal_cost(work: Path) -> None:
    """The journal's cost per call: one realistic record (a 60,000-character paper prompt and
    a short answer) and a small one, appended 2,000 times each."""
    paper = "".join(random.Random(0).choice("abcdefgh ") for _ in range(60_000))
    big = {"call_id": "", "role": "challenger", "tag": "it1/c0001/validation/p/r0",
           "messages": [{"role": "user", "content": paper}], "response": {"content": "x" * 2000}}
    small = {**big, "messages": [{"role": "user", "content": "judge this answer " * 40}]}
    for name, row in (("60k-char prompt", big), ("1k-char prompt", small)):
        folder = Path(tempfile.mkdtemp(dir=work))
        journal = CallJournal(folder)
        t0 = time.perf_counter()
        for _ in range(2000):
            journal.append({**row, "call_id": uuid.uuid4().hex})
        per_call_us = (time.perf_counter() - t0) / 2000 * 1e6
        journal.close()
        _H.row(SECTION, f"journal cost per call ({name}, one write, no fsync)",
               f"{per_call_us:.0f} us", per_call_us < 5000)


def section_operator(h: ModuleType, work: Path, ref: Path, n_signals: int, n_kills: int,
                     rng: random.Random) -> None:
    global _H
    _H = h
    corruptions(work, ref)
    hand_edits(work, ref)
    bad_settings(work)
    sigterm_storm(work, ref, n_signals, rng)
    kill_storm(work, ref, n_kills, rng)
    journal_cost(work)
