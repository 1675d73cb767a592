"""The final re-evaluation at the end of `autodata evolve`: fresh repeats under purpose `final`,
the best by it reported with its 95 % interval, the run's decisions and tallies untouched."""

import json

import duckdb
import pytest

from inner_loop.config import load_config
from inner_loop.errors import UserError
from evolve import final
from evolve.cli import main
from evolve.evaluate import FINAL_FIRST_REPEAT
from evolve.summary import RunSummary
from evolve.context import RunSettings
from evolve.run import start_run
from evolve.store import StoreReader

SETS = ["seed=2", "evolve.iterations=1", "evolve.minibatch=1", "inner_loop.max_rounds=1",
        "run.validation_limit=2"]


def rows(run_dir, sql):
    con = duckdb.connect(str(run_dir / "autodata.duckdb"), read_only=True)
    try:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]
    finally:
        con.close()


def test_evolve_ends_with_the_final_reevaluation_and_reports_its_best_with_an_interval(
        tmp_path, capsys):
    run_dir = tmp_path / "run"
    sets = [a for s in SETS for a in ("--set", s)]
    assert main(["evolve", "--run-dir", str(run_dir), *sets, "--final-repeats", "2",
                 "--json"]) == 0
    out = capsys.readouterr()
    summary = json.loads(out.out)
    f = summary["final"]
    assert f["repeats"] == 2 and f["n_papers"] == 2 and "bootstrap" in f["method"]
    chosen = [c["candidate_id"] for c in f["candidates"]]
    assert chosen[0] == "seed" and f["best"]["candidate_id"] in chosen
    for c in f["candidates"]:
        e = c["estimate"]
        assert e["n_evaluations"] == 4 and e["low"] <= e["mean"] <= e["high"]
    evals = rows(run_dir, "SELECT candidate_id, repeat, iteration FROM evaluations "
                          "WHERE purpose = 'final'")
    assert len(evals) == 4 * len(chosen)
    assert {r["repeat"] for r in evals} == {FINAL_FIRST_REPEAT, FINAL_FIRST_REPEAT + 1}
    assert {r["iteration"] for r in evals} == {2}  # one past the iteration budget
    tally = rows(run_dir, "SELECT candidate_id, n_evaluations FROM candidate_scores")
    counted = rows(run_dir, "SELECT candidate_id, count(*) AS n_evaluations FROM evaluations "
                            "WHERE purpose = 'validation' GROUP BY candidate_id")
    assert sorted(tally, key=str) == sorted(counted, key=str)  # final rows are no tally
    assert "final re-evaluation" in out.err  # progress says what it does
    with StoreReader.open(run_dir) as reader:
        assert final.final_result(reader).best.candidate_id == f["best"]["candidate_id"]
    text = RunSummary.model_validate(summary).text()  # what `autodata evolve` prints
    assert "tally" in text and "pooled over all validation evaluations" in text
    assert "re-evaluated 2x on 2 validation papers (fresh repeats; 95% interval" in text
    assert f"best {f['best']['candidate_id']} " in text


@pytest.mark.slow
def test_final_repeats_zero_skips_it_and_says_so(tmp_path):
    config = load_config(None, SETS[:-1] + ["evolve.final_repeats=0", "evolve.iterations=0"])
    summary = start_run(config, RunSettings(validation_limit=1), tmp_path / "run",
                        show_progress=False)
    assert summary.final is None and "final           not run" in summary.text()
    assert rows(tmp_path / "run", "SELECT count(*) AS n FROM evaluations "
                                  "WHERE purpose = 'final'") == [{"n": 0}]


def test_a_run_whose_own_repeats_would_reach_the_final_ones_is_refused():
    config = load_config(None, ["evolve.iterations=50000", "evolve.repeats=2"])
    with pytest.raises(UserError, match="must stay below 100000"):
        final.check(config)


@pytest.mark.parametrize("value", ["-1", "1001"])
def test_bad_final_repeats_is_one_line_and_exit_1(tmp_path, capsys, value):
    assert main(["evolve", "--run-dir", str(tmp_path / "run"), "--final-repeats", value]) == 1
    err = capsys.readouterr().err
    assert "final_repeats" in err and err.count("\n") == 1 and not (tmp_path / "run").exists()


@pytest.mark.slow
def test_the_final_reevaluation_never_changes_decisions_tallies_or_the_best_by_tally(tmp_path):
    facts = ["SELECT candidate_id, status, child_mean, parent_mean FROM decisions ORDER BY 1",
             "SELECT * EXCLUDE (finished_at) FROM iterations ORDER BY iteration",
             "SELECT candidate_id, pass_rate, n_evaluations FROM candidate_scores ORDER BY 1"]
    seen = []
    for repeats in (0, 3):
        sets = ["seed=5", "evolve.iterations=3", "evolve.minibatch=1", "inner_loop.max_rounds=3",
                f"evolve.final_repeats={repeats}"]
        s = start_run(load_config(None, sets), RunSettings(validation_limit=3),
                      tmp_path / f"r{repeats}", show_progress=False)
        seen.append(([rows(tmp_path / f"r{repeats}", q) for q in facts], s.best_candidate,
                     s.best_score))
    assert seen[0] == seen[1]
