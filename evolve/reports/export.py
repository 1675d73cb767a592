"""`autodata export`: accepted examples with provenance, in a layout `datasets.load_dataset` reads.

Sources:
  an evolution run  the accepted *validation* episodes of one accepted harness commit (default:
                    the best accepted candidate), read from the `episodes` table (EpisodeRecord
                    JSON in blobs); one row per accepted episode (repeats included).
  a generate dir    its examples.jsonl (+ summary.json for preset, thresholds and config).
Layout under -o DIR:
  jsonl    data/train.jsonl
  parquet  data/train-00000-of-00001.parquet (written by DuckDB `COPY ... (FORMAT PARQUET)`)
  hf       the parquet layout under the name the Hub knows
Always README.md, the data card (see evolve/reports/README.md, "export"), whose YAML front matter
(`configs:`, `dataset_info` with every column's type and the counts, licence, size and task
categories) `datasets.load_dataset(DIR)` and `huggingface_hub.DatasetCard` read, so every format
loads with the same features; and LICENSE.md, the licence of each source paper. `--final-filter` re-runs
nothing: it keeps only rows whose stored judgments recompute to accepted under the recorded
thresholds and that pass the structural and solver-instruction guards.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import duckdb

from evolve.reports.card import LICENSE_FILE, data_card, licence_file
from evolve.reports.diff import find_candidate
from evolve.reports.runs import is_run_dir, open_reader, run_config
from inner_loop.thresholds import Thresholds, full_check
from inner_loop.episode import EpisodeRecord
from inner_loop.errors import UserError
from inner_loop.evaluation import SolverEval
from inner_loop.example import Example
from inner_loop.guard import solver_instruction_problems, structural_problems, style_problems
from inner_loop.papers import default_corpus_path
from inner_loop.papers.loaders import iter_papers
from inner_loop.prompting import solver_messages
from inner_loop.scoring import score

FORMATS = ("jsonl", "parquet", "hf")
PARQUET_FILE = "data/train-00000-of-00001.parquet"
JSONL_FILE = "data/train.jsonl"
_SAMPLE = "STRUCT(sample_index BIGINT, answer VARCHAR, judgments BOOLEAN[], score DOUBLE)[]"
# column -> DuckDB type: the Parquet schema (and the order of the columns)
COLUMNS: dict[str, str] = {
    "id": "VARCHAR", "prompt": "STRUCT(role VARCHAR, content VARCHAR)[]", "prompt_text": "VARCHAR",
    "rubric": "STRUCT(criterion VARCHAR, weight BIGINT, category VARCHAR)[]", "rubric_json": "VARCHAR",
    "question_type": "VARCHAR", "reasoning_skills": "VARCHAR[]", "context": "VARCHAR",
    "question": "VARCHAR", "reference_answer": "VARCHAR",
    "weak_scores": "DOUBLE[]", "weak_avg": "DOUBLE", "strong_scores": "DOUBLE[]", "strong_avg": "DOUBLE",
    "gap": "DOUBLE", "weak_samples": _SAMPLE, "strong_samples": _SAMPLE,
    "paper_id": "VARCHAR", "paper_title": "VARCHAR", "paper_license": "VARCHAR",
    "source": "VARCHAR", "run_id": "VARCHAR", "candidate_id": "VARCHAR", "harness_commit": "VARCHAR",
    "harness_digest": "VARCHAR", "method": "VARCHAR", "iteration": "BIGINT", "repeat": "BIGINT",
    "repeat_key": "BIGINT", "rounds_used": "BIGINT", "preset": "VARCHAR", "thresholds_json": "VARCHAR",
    "simulated": "BOOLEAN",
}
# Integers are BIGINT (int64): what a JSON reader infers, so a plain `load_dataset("json")` of the
# JSONL and `load_dataset("parquet")` of the Parquet agree; the card's dataset_info types the rest.


def _samples(ev: SolverEval) -> list[dict[str, Any]]:
    return [{"sample_index": s.sample_index, "answer": s.answer, "judgments": list(s.judgments),
             "score": s.score} for s in ev.samples]


def example_row(example: Example, weak: SolverEval, strong: SolverEval, *, paper_id: str,
                paper_title: str | None, provenance: dict[str, Any]) -> dict[str, Any]:
    """One dataset row: the GRPO prompt (the protected solver messages), the rubric, scores."""
    messages = [m.model_dump(include={"role", "content"}) for m in solver_messages(example)]
    rubric = [item.model_dump() for item in example.rubric]
    return {
        "id": example.example_id(), "prompt": messages,
        "prompt_text": "\n\n".join(m["content"] for m in messages), "rubric": rubric,
        "rubric_json": json.dumps(rubric, ensure_ascii=False), "question_type": example.question_type,
        "reasoning_skills": list(example.reasoning_skills), "context": example.context,
        "question": example.question, "reference_answer": example.reference_answer,
        "weak_scores": list(weak.scores), "weak_avg": weak.avg, "strong_scores": list(strong.scores),
        "strong_avg": strong.avg, "gap": strong.avg - weak.avg, "weak_samples": _samples(weak),
        "strong_samples": _samples(strong), "paper_id": paper_id, "paper_title": paper_title,
        "paper_license": None, **provenance,
    }


def _run_candidate(reader: Any, harness: str | None) -> dict[str, Any]:
    row = find_candidate(reader, harness)
    if row["commit_sha"] is None:
        raise UserError(f"{row['candidate_id']} is {row['status']}: export needs an accepted harness commit")
    return row


def rows_from_run(run_dir: Path, harness: str | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    with open_reader(run_dir) as reader:
        config = run_config(reader, run_dir)
        info = reader.run_info() or {}
        cand = _run_candidate(reader, harness)
        # repeat: which evaluation of the paper by this harness (0 = its first, accepted or not);
        # repeat_key: the run's repeat number (iteration x repeats + r) that seeded its samples
        found = reader.query(
            "SELECT * FROM (SELECT v.iteration, v.repeat AS repeat_key, v.accepted, e.record_blob, "
            "v.paper_id, row_number() OVER (PARTITION BY v.paper_id ORDER BY v.repeat) - 1 AS repeat "
            "FROM evaluations v JOIN episodes e USING (episode_id) "
            "WHERE v.candidate_id = ? AND v.purpose = 'validation') WHERE accepted "
            "ORDER BY paper_id, repeat", [cand["candidate_id"]])
        stats = reader.query("SELECT pass_rate, n_evaluations FROM candidate_scores WHERE candidate_id = ?",
                             [cand["candidate_id"]])
        texts = reader.get_blobs([r["record_blob"] for r in found])
        # json.loads, not model_validate_json: a stored record may escape a lone surrogate
        records = [(r, EpisodeRecord.model_validate(json.loads(texts[r["record_blob"]]))) for r in found]
    rows = []
    for found_row, record in records:
        rnd = record.accepted_round_record()
        if record.accepted_example is None or rnd is None or rnd.weak is None or rnd.strong is None:
            raise UserError(f"episode of {record.paper_id} is accepted but has no accepted round")
        rows.append(example_row(record.accepted_example, rnd.weak, rnd.strong, paper_id=record.paper_id,
                                paper_title=record.paper_title, provenance={
            "source": "evolve", "run_id": info.get("run_id"), "candidate_id": cand["candidate_id"],
            "harness_commit": cand["commit_sha"], "harness_digest": None, "method": record.method,
            "iteration": found_row["iteration"], "repeat": found_row["repeat"],
            "repeat_key": found_row["repeat_key"],
            "rounds_used": record.accepted_round, "preset": record.preset,
            "thresholds_json": json.dumps(record.thresholds, sort_keys=True),
            "simulated": bool(record.simulated or info.get("simulated"))}))
    meta = {"source": "evolve", "path": str(run_dir), "run_id": info.get("run_id"),
            "candidate_id": cand["candidate_id"], "harness_commit": cand["commit_sha"],
            "harness_digest": None,
            "iteration": cand["iteration"], "pass_rate": stats[0]["pass_rate"] if stats else None,
            "n_evaluations": stats[0]["n_evaluations"] if stats else 0,
            "preset": config.get("preset"), "thresholds": config.get("thresholds"),
            "simulated": bool(info.get("simulated")), "config": config.get("config"),
            "corpus_path": (config.get("settings") or {}).get("corpus_path")}
    return rows, meta


def rows_from_generate(gen_dir: Path, harness: str | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    summary = json.loads((gen_dir / "summary.json").read_text(encoding="utf-8"))
    thresholds = json.dumps(summary.get("thresholds"), sort_keys=True)
    rows = []
    for n, line in enumerate((gen_dir / "examples.jsonl").read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            ex = json.loads(line)
            row = example_row(Example.model_validate(ex["example"]), SolverEval.model_validate(ex["weak"]),
                              SolverEval.model_validate(ex["strong"]), paper_id=ex["paper_id"], paper_title=None,
                              provenance={
                "source": "generate", "run_id": None, "candidate_id": None,
                "harness_commit": None, "harness_digest": ex.get("harness_version"),
                "method": ex.get("method"), "iteration": None, "repeat": None, "repeat_key": None,
                "rounds_used": ex.get("rounds_used"), "preset": ex.get("preset"),
                "thresholds_json": thresholds, "simulated": bool(ex.get("simulated"))})
        except (ValueError, KeyError) as exc:
            raise UserError(f"{gen_dir / 'examples.jsonl'}:{n}: not an example row ({exc})") from None
        if harness is None or (row["harness_digest"] or "").startswith(harness):
            rows.append(row)
    meta = {"source": "generate", "path": str(gen_dir), "run_id": None, "candidate_id": None,
            "harness_commit": None, "harness_digest": harness or summary.get("harness_version"),
            "iteration": None,
            "pass_rate": summary.get("acceptance_rate"), "n_evaluations": summary.get("papers"),
            "preset": summary.get("preset"), "thresholds": summary.get("thresholds"),
            "simulated": bool(summary.get("simulated")), "config": summary.get("config"),
            "corpus_path": None, "method": summary.get("method")}
    return rows, meta


def final_filter_problems(row: dict[str, Any]) -> list[str]:
    """Why a row would not be accepted now: scores recomputed from the stored judgments under the
    recorded thresholds, then the structural and solver-instruction guards."""
    example = Example.model_validate({k: row[k] for k in ("question_type", "reasoning_skills", "context",
                                                          "question", "reference_answer", "rubric")})
    weights = [item.weight for item in example.rubric]
    weak, strong = ([score(weights, s["judgments"]) for s in row[key] if s["score"] is not None]
                    for key in ("weak_samples", "strong_samples"))
    problems = []
    if not weak or not strong:
        problems.append("no scored weak or strong sample")
    else:
        check = full_check(Thresholds.model_validate(json.loads(row["thresholds_json"])), weak, strong)
        if not check.passed:
            problems.append(f"recomputed scores fail {check.failed_rule}")
    return (problems + structural_problems(example) + style_problems(example)
            + solver_instruction_problems(example.context, "context")
            + solver_instruction_problems(example.question))


def add_licences(rows: list[dict[str, Any]], corpus_path: str | None) -> None:
    """Fill paper_license (and a missing paper_title) from the corpus's `license` field."""
    wanted = {r["paper_id"] for r in rows}
    found: dict[str, Any] = {}
    try:
        path = Path(corpus_path) if corpus_path else default_corpus_path()
        for paper in iter_papers(path, None):
            if paper.id in wanted:
                found[paper.id] = paper
                if len(found) == len(wanted):
                    break
    except UserError:
        found = {}
    for row in rows:
        paper = found.get(row["paper_id"])
        row["paper_license"] = (paper.license or "unspecified") if paper else "unknown (paper not in corpus)"
        if row["paper_title"] is None and paper is not None:
            row["paper_title"] = paper.title


def write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    """DuckDB: the rows (through a JSONL file read with the explicit schema) COPY'd to Parquet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE train (" + ", ".join(f'"{c}" {t}' for c, t in COLUMNS.items()) + ")")
        if rows:
            with tempfile.TemporaryDirectory() as tmp:
                src = Path(tmp) / "rows.jsonl"
                src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
                columns = "{" + ", ".join(f"'{c}': '{t}'" for c, t in COLUMNS.items()) + "}"
                con.execute(f"INSERT INTO train SELECT * FROM read_json(?, format = 'newline_delimited', "
                            f"columns = {columns}, maximum_object_size = 1073741824)", [str(src)])
        con.execute(f"COPY train TO '{_sql_path(path)}' (FORMAT PARQUET)")
    finally:
        con.close()


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def export(source: Path, out_dir: Path, fmt: str = "parquet", harness: str | None = None,
           final_filter: bool = False) -> dict[str, Any]:
    """Write the dataset and its card; return what was written (counts, files, dropped)."""
    if fmt not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if (source / "examples.jsonl").is_file() and (source / "summary.json").is_file():
        rows, meta = rows_from_generate(source, harness)
    elif is_run_dir(source):
        rows, meta = rows_from_run(source, harness)
    else:
        raise UserError(f"{source} is neither a run folder nor a generate output (examples.jsonl + summary.json)")
    dropped: dict[str, int] = {}
    if final_filter:
        kept = []
        for row in rows:
            problems = final_filter_problems(row)
            for p in problems[:1]:
                dropped[p] = dropped.get(p, 0) + 1
            if not problems:
                kept.append(row)
        rows = kept
    add_licences(rows, meta.get("corpus_path"))
    out_dir.mkdir(parents=True, exist_ok=True)
    data_file = out_dir / (JSONL_FILE if fmt == "jsonl" else PARQUET_FILE)
    if fmt == "jsonl":
        data_file.parent.mkdir(parents=True, exist_ok=True)
        data_file.write_text("".join(json.dumps({c: r[c] for c in COLUMNS}, ensure_ascii=False) + "\n"
                                     for r in rows), encoding="utf-8")
    else:
        write_parquet(rows, data_file)
    meta.update(final_filter=final_filter, dropped=dropped, format=fmt,
                data_file=str(data_file.relative_to(out_dir)), data_bytes=data_file.stat().st_size)
    (out_dir / "README.md").write_text(data_card(rows, meta, COLUMNS), encoding="utf-8")
    (out_dir / LICENSE_FILE).write_text(licence_file(rows), encoding="utf-8")
    return {"rows": len(rows), "dropped": dropped, "out_dir": str(out_dir), "data_file": str(data_file),
            "card": str(out_dir / "README.md"), "simulated": meta["simulated"],
            "candidate_id": meta["candidate_id"], "harness_commit": meta["harness_commit"],
            "harness_digest": meta["harness_digest"]}
