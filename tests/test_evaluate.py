"""`autodata evaluate`: fresh repeats under their own purpose, never in the tallies; resumable;
budgets; while a run is live; bad input in one line. On a run built through the real Store and
HarnessRepo (tests/recorded_run.py `build_run`), episodes on the sim. The tests that run
more episodes are marked slow: `pytest -m slow tests/test_evaluate.py`."""

import json
import subprocess
import sys

import duckdb
import pytest

from inner_loop.papers import select_papers
from evolve.cli import main
from evolve.evaluate import EVALUATE_FIRST_REPEAT
from evolve.progress import best_accepted
from evolve.store import StoreReader

from recorded_run import ROOT, WRITER, copy_of_run

TALLY_FACTS = ["SELECT candidate_id, pass_rate, n_evaluations FROM candidate_scores ORDER BY 1",
               "SELECT candidate_id, status, child_mean, parent_mean FROM decisions ORDER BY 1",
               "SELECT * FROM iterations ORDER BY iteration"]


def one_round_run(tmp_path_factory, dest):
    """The reports' test run, its episodes cut to one round (evaluate reads config.json)."""
    run_dir = copy_of_run(tmp_path_factory, dest)["run_dir"]
    path = run_dir / "config.json"
    config = json.loads(path.read_text())
    config["config"]["inner_loop"]["max_rounds"] = 1
    path.write_text(json.dumps(config))
    return run_dir


@pytest.fixture
def run(tmp_path_factory, tmp_path):
    return one_round_run(tmp_path_factory, tmp_path / "run")


@pytest.fixture(scope="module")
def shared_run(tmp_path_factory):
    return one_round_run(tmp_path_factory, tmp_path_factory.mktemp("bad-input") / "run")


def facts(run_dir):
    with StoreReader.open(run_dir) as r:
        return [r.query(sql) for sql in TALLY_FACTS] + [best_accepted(r)]


def evaluate(capsys, run_dir, *argv):
    rc = main(["evaluate", str(run_dir), *map(str, argv), "--json"])
    out = capsys.readouterr()
    return rc, (json.loads(out.out) if out.out.strip() else None), out.err


def count(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def test_evaluate_records_fresh_repeats_under_its_own_purpose_and_leaves_tallies_alone(run, capsys):
    before = facts(run)
    rc, data, err = evaluate(capsys, run, "--candidates", "seed,c1", "--repeats", "1",
                             "--limit", "1")
    assert rc == 0, err
    assert [c["candidate_id"] for c in data["candidates"]] == ["seed", "c1"]
    assert data["repeats"] == [EVALUATE_FIRST_REPEAT] and data["simulated"] is True
    c1 = data["candidates"][1]
    assert c1["estimate"]["n_papers"] == 1 and c1["estimate"]["n_evaluations"] == 1
    assert c1["estimate"]["low"] <= c1["estimate"]["mean"] <= c1["estimate"]["high"]
    assert c1["vs_seed"]["n_papers"] == 1 and c1["tally"] == pytest.approx(2 / 3)
    db = run / "autodata.duckdb"
    assert count(db, "SELECT count(*) FROM evaluations WHERE purpose = 'evaluate'") == 2
    assert count(db, "SELECT min(repeat) FROM evaluations WHERE purpose = 'evaluate'") \
        == EVALUATE_FIRST_REPEAT
    assert count(db, "SELECT min(sample_index) FROM llm_calls WHERE iteration = -1") \
        >= EVALUATE_FIRST_REPEAT * 10_000  # sample indices the run never used
    assert count(db, "SELECT max(sample_index) FROM llm_calls WHERE iteration <> -1") \
        < EVALUATE_FIRST_REPEAT * 10_000
    assert facts(run) == before  # decisions, tallies, iterations and best-by-tally unchanged
    calls = count(db, "SELECT count(*) FROM llm_calls")
    rc, again, _ = evaluate(capsys, run, "--candidates", "seed,c1", "--repeats", "1",
                            "--limit", "1")
    assert rc == 0 and again["candidates"] == data["candidates"]  # resumed: nothing re-paid
    assert count(db, "SELECT count(*) FROM llm_calls") == calls


@pytest.mark.slow  # the default suite keeps the first test and the bad input
def test_evaluate_while_the_run_is_live_writes_its_own_database(run, capsys):
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(run)], cwd=ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:  # another process, the live run's writer, holds autodata.duckdb and run.lock
        assert writer.stdout.readline().strip() == "ready", writer.stderr.read()
        rc, data, err = evaluate(capsys, run, "--candidates", "c1", "--repeats", "1",
                                 "--limit", "1")
        assert rc == 0, err
        assert data["recorded_in"] == str(run / "evaluate" / "autodata.duckdb")
    finally:
        writer.communicate("done\n", timeout=60)
    side = run / "evaluate" / "autodata.duckdb"
    assert count(side, "SELECT count(*) FROM evaluations WHERE purpose = 'evaluate'") == 1
    rc, later, _ = evaluate(capsys, run, "--candidates", "c1", "--repeats", "1", "--limit", "1")
    assert rc == 0 and later["candidates"] == data["candidates"]  # read back, not re-run
    assert count(run / "autodata.duckdb",
                 "SELECT count(*) FROM evaluations WHERE purpose = 'evaluate'") == 0


@pytest.mark.slow  # the default suite keeps the first test and the bad input
def test_evaluate_stops_at_its_budget_and_continues_when_run_again(run, capsys):
    rc, data, err = evaluate(capsys, run, "--candidates", "seed", "--repeats", "1",
                             "--limit", "1", "--max-calls", "2")
    assert rc == 1 and data["status"].startswith("stopped: budget")
    assert err.count("\n") == 1 and "raise the budget" in err
    assert data["candidates"][0]["estimate"] is None
    rc, data, err = evaluate(capsys, run, "--candidates", "seed", "--repeats", "1", "--limit", "1")
    assert rc == 0 and data["candidates"][0]["estimate"]["n_evaluations"] == 1


@pytest.mark.slow  # the default suite keeps the first test and the bad input
def test_evaluate_scores_the_papers_of_a_file_of_your_own(run, capsys, tmp_path):
    [paper] = select_papers(None, None, "train", limit=1)  # a train paper: never the run's
    papers = tmp_path / "held_out.jsonl"
    papers.write_text(paper.model_dump_json() + "\n")
    rc, data, err = evaluate(capsys, run, "--candidates", "c1", "--repeats", "1",
                             "--papers", papers, "--ids", paper.id)
    assert rc == 0, err
    assert data["papers"] == [paper.id] and data["candidates"][0]["estimate"]["n_papers"] == 1
    rc, _data, err = evaluate(capsys, run, "--papers", papers, "--ids", "nope")
    assert rc == 1 and "ids not in" in err


@pytest.mark.parametrize("argv, message", [
    (["--candidates", "c2"], "'c2' is not an accepted candidate"),  # rejected: no commit
    (["--candidates", "../etc"], "is not an accepted candidate"),
    (["--candidates", "top:0"], "expected top:K"),
    (["--repeats", "0"], "repeats must be between 1 and"),
    (["--first-repeat", "-1"], "--first-repeat must be between"),
    (["--split", "x.json"], "--split FILE and --subset S go together"),
    (["--limit", "0"], "--limit must be >= 1"),
    (["--papers", "nope.jsonl", "--split", "s.json", "--subset", "train"], "not both"),
])
def test_bad_evaluate_input_is_one_line_and_exit_1(shared_run, capsys, argv, message):
    rc, _data, err = evaluate(capsys, shared_run, *argv)
    assert rc == 1 and message in err and err.count("\n") == 1, err
    assert count(shared_run / "autodata.duckdb",
                 "SELECT count(*) FROM evaluations WHERE purpose = 'evaluate'") == 0


def test_help_lists_evaluate_and_renders_its_own_page(capsys):
    for argv in (["--help"], ["evaluate", "--help"]):
        with pytest.raises(SystemExit) as done:
            main(argv)
        assert done.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "evaluate re-score candidates" in out and "pass rate with its 95% interval" in out
