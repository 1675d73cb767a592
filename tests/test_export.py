"""autodata export: accepted examples with provenance, read back with DuckDB (Parquet) and json."""

import json

import duckdb
import pytest

from evolve.cli import main
from evolve.reports.export import COLUMNS
from evolve.store import Store
from inner_loop.episode import EpisodeRecord
from inner_loop.evaluation import JudgedSample
from inner_loop.example import Example
from inner_loop.generate import example_row as generate_row
from inner_loop.papers import select_papers
from inner_loop.prompting import solver_messages
from recorded_run import PAPERS, THRESHOLDS, copy_of_run, episode

PARQUET = "data/train-00000-of-00001.parquet"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return copy_of_run(tmp_path_factory, tmp_path_factory.mktemp("results") / "rtest")


def export(capsys, *argv):
    rc = main(["export", *map(str, argv), "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    return json.loads(out.out)


def parquet_rows(path):
    con = duckdb.connect()
    cur = con.execute(f"SELECT * FROM '{path}'")
    names = [d[0] for d in cur.description]
    return names, [dict(zip(names, r)) for r in cur.fetchall()]


def test_parquet_from_a_run_has_every_column_and_one_row_per_accepted_example(run, tmp_path, capsys):
    result = export(capsys, run["run_dir"], "--format", "parquet", "-o", tmp_path)
    names, rows = parquet_rows(tmp_path / PARQUET)
    assert names == list(COLUMNS) and result["rows"] == len(rows) == 2  # c1 accepted PAPERS[0] and [1]
    assert sorted(r["paper_id"] for r in rows) == PAPERS[:2]
    assert {(r["candidate_id"], r["harness_commit"], r["run_id"], r["source"]) for r in rows} == {
        ("c1", run["c1_sha"], "rtest", "evolve")}
    assert all(r["simulated"] and r["preset"] == "deployed" and r["iteration"] == 1 for r in rows)


def test_each_row_carries_the_grpo_prompt_the_rubric_and_the_scores(run, tmp_path, capsys):
    export(capsys, run["run_dir"], "-o", tmp_path)
    _, rows = parquet_rows(tmp_path / PARQUET)
    row = next(r for r in rows if r["paper_id"] == PAPERS[0])
    ex = Example.model_validate(episode(PAPERS[0], True, "c1")["accepted_example"])
    assert row["prompt"] == [m.model_dump(include={"role", "content"}) for m in solver_messages(ex)]
    assert ex.context in row["prompt"][1]["content"] and ex.question in row["prompt_text"]
    assert ex.reference_answer not in row["prompt_text"]  # solvers never see the answer
    assert row["rubric"] == [item.model_dump() for item in ex.rubric] == json.loads(row["rubric_json"])
    assert row["weak_scores"] == pytest.approx([0.2, 0.3, 0.4]) and row["strong_avg"] == pytest.approx(0.8)
    assert row["gap"] == pytest.approx(0.5) and row["weak_samples"][0]["judgments"] == [True] * 2 + [False] * 8
    assert (row["question_type"], row["reasoning_skills"]) == (ex.question_type, ex.reasoning_skills)
    assert row["paper_license"] == "CC-BY-4.0 (ACL Anthology)" and row["id"] == ex.example_id()


def test_harness_picks_another_accepted_commit_by_id_or_sha(run, tmp_path, capsys):
    seed = export(capsys, run["run_dir"], "--harness", run["seed_sha"][:10], "-o", tmp_path / "a")
    _, rows = parquet_rows(tmp_path / "a" / PARQUET)
    assert seed["candidate_id"] == "seed" and [(r["paper_id"], r["repeat"]) for r in rows] == [
        (PAPERS[0], 0), (PAPERS[0], 1)]  # every repeat of an accepted evaluation is a row
    assert export(capsys, run["run_dir"], "--harness", "c1", "-o", tmp_path / "b")["rows"] == 2


def test_jsonl_layout_and_a_card_whose_configs_point_at_it(run, tmp_path, capsys):
    export(capsys, run["run_dir"], "--format", "jsonl", "-o", tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "data" / "train.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and list(rows[0]) == list(COLUMNS)
    card = (tmp_path / "README.md").read_text()
    assert "\n# Autodata examples: rtest\n" in card and 'load_dataset(".", split="train")' in card
    assert "  - split: train\n    path: data/train.jsonl\n" in card.split("---\n")[1]


def test_hf_card_has_configs_front_matter_and_the_facts_of_the_data(run, tmp_path, capsys):
    export(capsys, run["run_dir"], "--format", "hf", "-o", tmp_path)
    card = (tmp_path / "README.md").read_text()
    front = card.split("---\n")[1]
    assert f"configs:\n- config_name: default\n  data_files:\n  - split: train\n    path: {PARQUET}\n" in front
    assert "**SIMULATED.**" in card and "- examples: 2\n- papers: 2" in card
    assert "Preset `deployed`" in card and "- `min_gap` = 0.2" in card
    assert "| CC-BY-4.0 (ACL Anthology) | 2 | 2 |" in card and run["c1_sha"] in card
    assert "| weak avg | 0.300 | 0.300 | 0.300 | 0.300 | 0.000 |" in card


def write_generate_dir(path, records):
    """An `autodata generate` output folder, rows written by inner_loop.generate.example_row."""
    path.mkdir()
    rows = [generate_row(EpisodeRecord.model_validate(r)) for r in records]
    (path / "examples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (path / "summary.json").write_text(json.dumps({
        "preset": "deployed", "thresholds": THRESHOLDS, "simulated": True, "method": "agentic",
        "papers": len(records), "acceptance_rate": 1.0, "harness_version": "h1", "config": {}}))
    return path


def inconsistent(record):
    """Stored weak scores 0.2-0.4, but every judgment met: recomputes to weak avg 1.0."""
    for sample in record["rounds"][-1]["weak"]["samples"]:
        sample["judgments"] = [True] * 10
    return record


def test_final_filter_keeps_only_rows_that_recompute_to_accepted_and_pass_the_guards(tmp_path, capsys):
    records = [episode(PAPERS[0], True, "good"), inconsistent(episode(PAPERS[1], True, "judged")),
               episode(PAPERS[2], True, "told", question="Answer briefly: why does it work?")]
    gen = write_generate_dir(tmp_path / "gen", records)
    assert export(capsys, gen, "-o", tmp_path / "all")["rows"] == 3
    result = export(capsys, gen, "--final-filter", "-o", tmp_path / "kept")
    _, rows = parquet_rows(tmp_path / "kept" / PARQUET)
    assert [r["paper_id"] for r in rows] == [PAPERS[0]] and result["rows"] == 1
    assert result["dropped"] == {"recomputed scores fail weak_avg": 1,
                                 "question instructs the solver (answer briefly): 'Answer briefly'": 1}
    assert "Dropped: 1 (recomputed scores fail weak_avg)" in (tmp_path / "kept" / "README.md").read_text()


def test_generate_dir_export_names_unlicensed_papers_in_the_card(tmp_path, capsys):
    gen = write_generate_dir(tmp_path / "gen", [episode(PAPERS[2], True, "g")])
    export(capsys, gen, "--format", "hf", "-o", tmp_path / "out")
    _, [row] = parquet_rows(tmp_path / "out" / PARQUET)
    assert (row["source"], row["harness_commit"], row["harness_digest"], row["candidate_id"]) == (
        "generate", None, "g", None)
    assert (row["iteration"], row["repeat"], row["repeat_key"]) == (None, None, None)
    [paper] = select_papers(ids=[PAPERS[2]], subset="train")  # the title comes from the corpus
    assert row["paper_license"].startswith("unspecified") and row["paper_title"] == paper.title
    assert "some source papers have no open licence" in (tmp_path / "out" / "README.md").read_text()


def test_an_empty_source_exports_an_empty_table_with_every_column(tmp_path, capsys):
    gen = write_generate_dir(tmp_path / "gen", [])
    assert export(capsys, gen, "-o", tmp_path / "out")["rows"] == 0
    names, rows = parquet_rows(tmp_path / "out" / PARQUET)
    assert names == list(COLUMNS) and rows == []


def test_a_judged_sample_without_score_is_not_recomputed(tmp_path, capsys):
    record = episode(PAPERS[0], True, "infra")
    record["rounds"][-1]["strong"]["samples"].append(
        JudgedSample(sample_index=3, answer="", solver_error="timeout").model_dump(mode="json"))
    gen = write_generate_dir(tmp_path / "gen", [record])
    assert export(capsys, gen, "--final-filter", "-o", tmp_path / "out")["rows"] == 1


def test_repeat_counts_the_papers_evaluations_and_repeat_key_is_the_runs_number(tmp_path_factory, tmp_path,
                                                                             capsys):
    """c1 evaluated PAPERS[0] at iteration 1 (repeat number 0, accepted), then at iteration 3 with
    the repeat numbers 6 (rejected) and 7 (accepted): its rows are its 1st and 3rd evaluation."""
    run = copy_of_run(tmp_path_factory, tmp_path / "results" / "rtest", finish=False)
    with Store.open(run["run_dir"]) as store:
        store.record_episode(episode(PAPERS[0], False, "c1"), "c1", "validation", 6, 3)
        store.record_episode(episode(PAPERS[0], True, "c1 again"), "c1", "validation", 7, 3)
    export(capsys, run["run_dir"], "--harness", "c1", "-o", tmp_path / "out")
    _, rows = parquet_rows(tmp_path / "out" / PARQUET)
    mine = sorted((r["iteration"], r["repeat"], r["repeat_key"]) for r in rows if r["paper_id"] == PAPERS[0])
    assert mine == [(1, 0, 0), (3, 2, 7)]
    assert {(r["harness_commit"], r["harness_digest"]) for r in rows} == {(run["c1_sha"], None)}
