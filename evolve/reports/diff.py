"""`autodata diff RUN [ITER|SHA|CANDIDATE] [--against parent|seed|ITER]`.

Accepted candidates are git commits of `<run>/harness/`: their diff is `git diff` between two
accepted commits (default: the candidate against its parent). Rejected and invalid attempts were
never committed: their diff against their parent is the one recorded in DuckDB (`proposals`)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import git

from evolve.reports.runs import best_candidate, open_reader
from evolve.store import StoreReader
from inner_loop.errors import UserError

_SHA = re.compile(r"^[0-9a-fA-F]{4,40}$")


def find_candidate(reader: StoreReader, target: str | None) -> dict[str, Any]:
    """The candidate_status row of TARGET: an iteration number, a candidate id or a commit sha
    (prefix); default the best accepted candidate."""
    rows = reader.query("SELECT * FROM candidate_status ORDER BY iteration")
    if target is None:
        best = best_candidate(reader)
        if best is None:
            raise UserError("the run has no accepted candidate with a pass rate yet")
        target = best
    found = [r for r in rows if target.isdigit() and r["iteration"] == int(target)]
    found = found or [r for r in rows if r["candidate_id"] == target]
    if not found and _SHA.match(target):
        found = [r for r in rows if (r["commit_sha"] or "").startswith(target.lower())]
    if not found:
        raise UserError(f"no iteration, candidate or accepted commit {target!r} in this run")
    if len(found) > 1:
        raise UserError(f"{target!r} is ambiguous: {', '.join(r['candidate_id'] for r in found)}")
    return found[0]


def _base(reader: StoreReader, row: dict[str, Any], against: str) -> dict[str, Any]:
    if against == "parent":
        if row["parent_id"] is None:
            raise UserError("the seed has no parent; use --against ITER to compare with a candidate")
        return find_candidate(reader, row["parent_id"])
    if against == "seed":
        return find_candidate(reader, "seed")
    if not against.isdigit():
        raise UserError(f"--against takes parent, seed or an iteration number, not {against!r}")
    return find_candidate(reader, against)


def _git_diff(harness: Path, base_sha: str, target_sha: str) -> str:
    g = git.Git(str(harness))
    g.update_environment(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    try:
        return g.execute(["git", "diff", "-M", "--no-color", "--no-ext-diff", base_sha, target_sha],
                         strip_newline_in_stdout=False)
    except git.GitCommandError as exc:
        raise UserError(f"git diff {base_sha[:10]} {target_sha[:10]} failed in {harness}: "
                        f"{' '.join(str(exc.stderr).split())}") from None


def diff_data(run_dir: Path, target: str | None = None, against: str = "parent") -> dict[str, Any]:
    with open_reader(run_dir) as reader:
        row = find_candidate(reader, target)
        out = {"candidate_id": row["candidate_id"], "iteration": row["iteration"],
               "status": row["status"], "summary": row["summary"], "commit_sha": row["commit_sha"]}
        if row["commit_sha"] is None:
            if against != "parent":
                raise UserError(f"{row['candidate_id']} is {row['status']}: only its diff against its "
                                f"parent {row['parent_id']} is recorded (drop --against)")
            text = reader.get_blob(row["diff_blob"]) if row["diff_blob"] else ""
            return {**out, "source": "recorded", "against": row["parent_id"], "against_commit": None,
                    "diff": text}
        base = _base(reader, row, against)
    if base["commit_sha"] is None:
        raise UserError(f"iteration {base['iteration']} ({base['candidate_id']}) is {base['status']}, "
                        "not an accepted commit")
    text = _git_diff(run_dir / "harness", base["commit_sha"], row["commit_sha"])
    return {**out, "source": "git", "against": base["candidate_id"],
            "against_commit": base["commit_sha"], "diff": text}


def diff_header(data: dict[str, Any]) -> str:
    """One line for stderr: what is compared with what."""
    where = "git" if data["source"] == "git" else "recorded in DuckDB (never committed)"
    return (f"{data['candidate_id']} (iteration {data['iteration']}, {data['status']}) against "
            f"{data['against']}: {where}" + ("" if data["diff"] else "; no changes"))
