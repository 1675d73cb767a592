"""Read-only report commands (runs, show, log, diff, sql) on a small real run: a real DuckDB store
and a real harness git repo on tmp_path, built through Store / HarnessRepo exactly as the loop
writes them. The run is tests/recorded_run.py's, shared with the other read-side tests."""

import json
import subprocess
import sys

import pytest

from evolve.context import RunSettings, make_run_config
from evolve.run import prepare_run_dir
from evolve.store import Store
from inner_loop.config import load_config
from recorded_run import DIAGNOSIS, PROMPT, ROOT, WRITER, cli, cli_json, copy_of_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    return {**copy_of_run(tmp_path_factory, results / "rtest"), "results": results}


# -- runs ---------------------------------------------------------------------------------------


def test_runs_lists_a_finished_run_with_its_numbers(run, capsys):
    [r] = cli_json(capsys, "runs", "--results", run["results"])
    assert (r["run_id"], r["status"], r["simulated"]) == ("rtest", "finished", True)
    assert (r["iterations"], r["accepted"], r["rejected"], r["invalid"]) == (3, 1, 1, 1)
    assert r["best_candidate"] == "c1" and r["best_pass_rate"] == pytest.approx(2 / 3)
    assert r["seed_pass_rate"] == pytest.approx(1 / 3)
    assert r["spend_usd"] == pytest.approx(3 * 0.071) and r["llm_calls"] == 9


def test_runs_lists_newest_first_and_marks_a_run_without_an_end_interrupted(tmp_path_factory, tmp_path, capsys):
    copy_of_run(tmp_path_factory, tmp_path / "old")
    # a newer run that died before it wrote its database: only config.json
    prepare_run_dir(tmp_path / "new", make_run_config(load_config(None, []), RunSettings(), "new"))
    rows = cli_json(capsys, "runs", "--results", tmp_path)
    assert [(r["run_id"], r["status"], r["source"]) for r in rows] == [
        ("new", "interrupted", None), ("rtest", "finished", "live")]
    rc, out, _ = cli(capsys, "runs", "--results", tmp_path)
    assert rc == 0 and out.splitlines()[1].startswith("new") and "interrupted" in out


@pytest.mark.parametrize("event,detail,status,shown", [
    ("stopped", "budget: max_usd 1.0 reached", "finished", "stopped: budget: max_usd 1.0 reached"),
    ("stopped", "interrupted", "interrupted", "interrupted"),  # Ctrl-C: resume continues it
    ("failed", "RuntimeError: boom", "failed", "RuntimeError: boom"),
])
def test_runs_status_follows_the_last_run_event(tmp_path_factory, tmp_path, capsys, event, detail, status, shown):
    copy_of_run(tmp_path_factory, tmp_path / "r", finish=False)
    with Store.open(tmp_path / "r") as store:
        store.record_run_event(event, detail)
    [r] = cli_json(capsys, "runs", "--results", tmp_path)
    assert (r["status"], r["detail"]) == (status, shown)


# -- show ---------------------------------------------------------------------------------------


def test_show_gives_config_lineage_counts_and_cost(run, capsys):
    data = cli_json(capsys, "show", "rtest", "--results", run["results"])
    assert data["preset"] == "deployed" and data["thresholds"]["min_gap"] == 0.2
    assert data["config"]["evolve"]["iterations"] >= 1 and data["settings"]["validation_limit"] == 3
    lineage = {r["candidate_id"]: r for r in data["lineage"]}
    assert list(lineage) == ["seed", "c1"] and data["best_path"] == ["seed", "c1"]
    assert (lineage["seed"]["n_evaluations"], lineage["seed"]["pass_rate"]) == (6, pytest.approx(1 / 3))
    assert lineage["c1"]["commit_sha"] == run["c1_sha"] and lineage["c1"]["parent_id"] == "seed"
    assert lineage["c1"]["se"] == pytest.approx((1 / 3) ** 0.5 / 3 ** 0.5)  # sd of (1,1,0) / sqrt(3)
    assert data["counts"] == {"accepted": 1, "rejected": 1, "invalid": 1, "committing": 0, "in_progress": 0}
    cost = {r["role"]: r for r in data["cost_by_role"]}
    assert cost["implementer"]["usd"] == pytest.approx(0.15) and cost["judge"]["calls"] == 3


def test_show_text_names_the_simulated_run_and_the_lineage(run, capsys):
    rc, out, _ = cli(capsys, "show", run["run_dir"])
    assert rc == 0 and out.startswith("SIMULATED run rtest: finished")
    assert "66.7%" in out and run["c1_sha"][:10] in out and "preset deployed" in out


# -- log ----------------------------------------------------------------------------------------


def test_log_lists_attempts_with_summary_diagnosis_and_decision(run, capsys):
    rows = cli_json(capsys, "log", run["run_dir"])
    assert [(r["iteration"], r["candidate_id"], r["status"]) for r in rows] == [
        (1, "c1", "accepted"), (2, "c2", "rejected"), (3, "c3", "invalid")]
    assert json.loads(rows[0]["diagnosis"]) == DIAGNOSIS and rows[0]["changed_paths"] == [PROMPT]
    assert rows[1]["reason"] == "child 0.333 <= parent 0.667" and rows[2]["changed_paths"] == ["harness.toml"]


def test_log_filters_by_status_iteration_and_count(run, capsys):
    assert [r["candidate_id"] for r in cli_json(capsys, "log", run["run_dir"], "--status", "rejected")] == ["c2"]
    assert [r["candidate_id"] for r in cli_json(capsys, "log", run["run_dir"], "--iteration", "3")] == ["c3"]
    assert [r["candidate_id"] for r in cli_json(capsys, "log", run["run_dir"], "-n", "2")] == ["c2", "c3"]


def test_log_text_shows_the_diagnosis_hypotheses(run, capsys):
    rc, out, _ = cli(capsys, "log", run["run_dir"], "--status", "accepted")
    assert rc == 0 and "diagnosis: weak solver answers too well" in out
    assert f"[too_easy] {PROMPT}: ask about one mechanism" in out and "ACCEPTED" in out


def test_log_calls_show_prompts_and_responses_by_role(run, capsys):
    rows = cli_json(capsys, "log", run["run_dir"], "--calls", "--role", "analyzer")
    assert [r["iteration"] for r in rows] == [0, 1, 2]
    assert rows[1]["messages"][1]["content"] == "prompt of analyzer in iteration 1"
    assert rows[1]["response"]["content"] == "reply of analyzer 1"
    rc, out, _ = cli(capsys, "log", run["run_dir"], "--calls", "-n", "1")
    assert rc == 0 and "--- system\nYou are the judge." in out and "reply of judge 2" in out


# -- diff ---------------------------------------------------------------------------------------


def test_diff_of_an_accepted_candidate_is_gits_diff_against_its_parent(run, capsys):
    data = cli_json(capsys, "diff", run["run_dir"], "1")
    assert (data["source"], data["against"], data["commit_sha"]) == ("git", "seed", run["c1_sha"])
    assert f"+++ b/{PROMPT}" in data["diff"] and "+Ask about one concrete mechanism." in data["diff"]
    rc, out, err = cli(capsys, "diff", run["run_dir"], run["c1_sha"][:8], "--against", "seed")
    assert rc == 0 and out == data["diff"] and "c1 (iteration 1, accepted) against seed: git" in err


def test_diff_defaults_to_the_best_candidate_and_compares_with_any_accepted_iteration(run, capsys):
    assert cli_json(capsys, "diff", run["run_dir"])["candidate_id"] == "c1"
    back = cli_json(capsys, "diff", run["run_dir"], "seed", "--against", "1")
    assert "-Ask about one concrete mechanism." in back["diff"]


def test_diff_of_a_rejected_or_invalid_attempt_is_its_recorded_diff(run, capsys):
    rejected = cli_json(capsys, "diff", run["run_dir"], "2")
    assert (rejected["source"], rejected["against"]) == ("recorded", "c1")
    assert "+Prefer questions about numbers." in rejected["diff"]
    assert "+++ b/harness.toml" in cli_json(capsys, "diff", run["run_dir"], "c3")["diff"]
    rc, _, err = cli(capsys, "diff", run["run_dir"], "2", "--against", "seed")
    assert rc == 1 and "only its diff against its parent" in err


# -- sql ----------------------------------------------------------------------------------------


def test_sql_runs_a_select_and_prints_json_rows(run, capsys):
    rows = cli_json(capsys, "sql", run["run_dir"],
                    "SELECT candidate_id, n_evaluations FROM candidate_scores ORDER BY candidate_id")
    assert rows == [{"candidate_id": "c1", "n_evaluations": 3}, {"candidate_id": "c2", "n_evaluations": 3},
                    {"candidate_id": "seed", "n_evaluations": 6}]
    rc, out, _ = cli(capsys, "sql", run["run_dir"], "DESCRIBE runs")
    assert rc == 0 and "config_json" in out


@pytest.mark.parametrize("sql,message", [
    ("DELETE FROM runs", "only read statements"),
    ("SELECT 1; SELECT 2", "exactly one statement"),
    ("PRAGMA version", "only read statements"),
    ("SELEC 1", "bad SQL"),
    ("SELECT * FROM no_such_table", "bad SQL"),
    ("SELECT * FROM read_text('/etc/hostname')", "bad SQL"),  # file access is off on the connection
])
def test_sql_refuses_anything_but_one_read_with_one_line(run, capsys, sql, message):
    rc, out, err = cli(capsys, "sql", run["run_dir"], sql)
    assert rc == 1 and out == "" and message in err and len(err.strip().splitlines()) == 1


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["show", "no-such-run"], ["log", "no-such-run"], ["diff", "no-such-run"], ["sql", "no-such-run", "SELECT 1"],
    ["plot", "no-such-run", "-o", "x.png"], ["report", "no-such-run", "-o", "x"],
    ["export", "no-such-run", "-o", "x"], ["runs", "--results", "no-such-folder"],
])
def test_a_missing_run_is_one_line_and_exit_1(tmp_path, capsys, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    rc, out, err = cli(capsys, *argv)
    assert rc == 1 and out == "" and err.startswith("autodata: error:") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [["diff", "{run}", "9"], ["diff", "{run}", "nope"], ["export", "{run}", "-o", "{out}",
                                                                                     "--harness", "c2"]])
def test_a_bad_id_is_one_line_and_exit_1(run, tmp_path, capsys, argv):
    rc, out, err = cli(capsys, *[a.format(run=run["run_dir"], out=tmp_path / "x") for a in argv])
    assert rc == 1 and err.startswith("autodata: error:") and len(err.strip().splitlines()) == 1


# -- live ---------------------------------------------------------------------------------------



def test_every_command_works_while_another_process_holds_the_run(tmp_path_factory, tmp_path, capsys):
    paths = copy_of_run(tmp_path_factory, tmp_path / "results" / "live", finish=False)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(paths["run_dir"])], cwd=ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert writer.stdout.readline().strip() == "ready", writer.stderr.read()
        run_dir = paths["run_dir"]
        [r] = cli_json(capsys, "runs", "--results", tmp_path / "results")
        assert (r["status"], r["source"]) == ("running", "snapshot")
        assert cli_json(capsys, "show", run_dir)["run"]["status"] == "running"
        assert len(cli_json(capsys, "log", run_dir)) == 3 and cli_json(capsys, "log", run_dir, "--calls")
        assert cli_json(capsys, "diff", run_dir)["commit_sha"] == paths["c1_sha"]
        assert cli_json(capsys, "sql", run_dir, "SELECT count(*) AS n FROM candidates") == [{"n": 4}]
        assert cli(capsys, "plot", run_dir, "-o", tmp_path / "live.png")[0] == 0
        assert cli(capsys, "report", run_dir, "-o", tmp_path / "report")[0] == 0
        assert cli_json(capsys, "export", run_dir, "-o", tmp_path / "export")["rows"] == 2
    finally:
        writer.communicate("done\n", timeout=30)
    assert writer.returncode == 0
    assert cli_json(capsys, "runs", "--results", tmp_path / "results")[0]["status"] == "interrupted"
