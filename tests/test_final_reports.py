"""The final re-evaluation in every report: `show`, `runs`, `report` and the trajectory figure
name the best by it with its 95 % interval and say which estimate each number is. The run is the
reports' test run (real Store and HarnessRepo) with final evaluations recorded through the Store."""

import json

import pytest

from evolve.cli import main
from evolve.evaluate import FINAL_FIRST_REPEAT
from evolve.reports.plot import figure, load_run
from evolve.store import Store

from recorded_run import PAPERS, copy_of_run, episode

FINAL = {"seed": [[0, 0], [1, 0], [0, 0]], "c1": [[1, 1], [1, 0], [1, 1]]}  # per paper, 2 repeats


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    results = tmp_path_factory.mktemp("final-results")
    run_dir = copy_of_run(tmp_path_factory, results / "rfinal")["run_dir"]
    with Store.open(run_dir) as store:
        for cid, per_paper in FINAL.items():
            for paper_id, outcomes in zip(PAPERS, per_paper):
                for k, accepted in enumerate(outcomes):
                    store.record_episode(episode(paper_id, bool(accepted), f"{cid}-final{k}"),
                                         cid, "final", FINAL_FIRST_REPEAT + k, 4)
    return {"run_dir": run_dir, "results": results}


def cli(capsys, *argv):
    assert main([*map(str, argv)]) == 0
    return capsys.readouterr().out


def test_show_names_the_best_by_the_final_reevaluation_with_its_interval(run, capsys):
    data = json.loads(cli(capsys, "show", run["run_dir"], "--json"))
    best = data["final"]["best"]
    assert best["candidate_id"] == "c1" and best["estimate"]["mean"] == pytest.approx(5 / 6)
    assert best["vs_seed"]["mean"] == pytest.approx(5 / 6 - 1 / 6)
    text = cli(capsys, "show", run["run_dir"])
    assert "validation pass rate (pooled tally)" in text
    assert "final re-evaluation (2x on 3 validation papers, fresh repeats; 95% interval" in text
    assert "<- best" in text.split("c1 ", 1)[1].split("\n")[0]


def test_runs_lists_the_final_best_next_to_the_tally(run, capsys):
    [r] = json.loads(cli(capsys, "runs", "--results", run["results"], "--json"))
    assert r["final_candidate"] == "c1" and r["final_pass_rate"] == pytest.approx(5 / 6)
    low, high = r["final_interval"]
    assert low <= 5 / 6 <= high and r["best_pass_rate"] == pytest.approx(2 / 3)  # the tally
    text = cli(capsys, "runs", "--results", run["results"])
    assert "best (tally)" in text and "best (final, 95%)" in text and "c1 83.3% [" in text


def test_the_report_has_the_final_table_and_names_its_best(run, tmp_path, capsys):
    cli(capsys, "report", run["run_dir"], "-o", tmp_path / "rep")
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "<h2>Final re-evaluation</h2>" in page and "c1 (best)" in page
    assert "best by final re-evaluation" in page and "83.3% [" in page


def test_the_trajectory_draws_the_final_estimates_and_titles_the_best(run):
    ax = figure([load_run(run["run_dir"])], "trajectory").axes[0]
    assert "best by final re-evaluation: c1 83%" in ax.get_title()
    labels = [t.get_text() for t in ax.figure.legends[0].get_texts()]
    assert "final re-evaluation (95% CI)" in labels
    diamonds = [line for line in ax.get_lines() if line.get_marker() == "D"]
    assert sorted(round(float(line.get_ydata()[0]), 1) for line in diamonds) == [16.7, 83.3]
