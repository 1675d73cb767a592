"""Figures (autodata plot) and the HTML report on a small real run (see recorded_run.build_run)."""

import re

import pytest
from matplotlib.image import imread
from matplotlib.text import Text

from evolve.cli import main
from evolve.reports.plot import figure, load_run
from recorded_run import copy_of_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return copy_of_run(tmp_path_factory, tmp_path_factory.mktemp("results") / "rtest")


@pytest.fixture(scope="module")
def data(run):
    return load_run(run["run_dir"])


def scatter_points(ax, colour):
    """(x, y) of the scatter points drawn in `colour` (hex)."""
    from matplotlib.colors import to_hex
    points = []
    for coll in ax.collections:
        faces = coll.get_facecolors()
        if len(faces) and to_hex(faces[0]) == colour and coll.get_offsets().shape[1] == 2:
            points += [tuple(round(float(v), 3) for v in p) for p in coll.get_offsets()]
    return sorted(points)


def test_trajectory_plots_every_candidate_by_status_and_the_best_so_far(data):
    ax = figure([data], "trajectory").axes[0]
    assert scatter_points(ax, "#1b9e77") == [(0, 33.333), (1, 66.667)]  # accepted
    assert scatter_points(ax, "#d95f02") == [(2, 33.333)]  # rejected
    assert scatter_points(ax, "#666666") == [(3, -5.0)]  # invalid: never scored, below 0 %
    [step] = [line for line in ax.get_lines() if line.get_drawstyle() == "steps-post"]
    assert [round(y, 3) for y in step.get_ydata()] == [33.333, 66.667, 66.667, 66.667, 66.667]


def test_trajectory_error_bars_are_the_standard_error_over_evaluations(data):
    ax = figure([data], "trajectory").axes[0]
    spans = {round(float(seg[0][0])): float(seg[1][1] - seg[0][1])
             for coll in ax.collections if hasattr(coll, "get_segments") for seg in coll.get_segments()}
    se_c1 = 100 * (1 / 3) ** 0.5 / 3 ** 0.5  # outcomes (1, 1, 0): sample sd / sqrt(3)
    se_seed = 100 * (4 / 15) ** 0.5 / 6 ** 0.5  # outcomes (1, 0, 0, 1, 0, 0)
    assert spans[1] == pytest.approx(2 * se_c1) and spans[0] == pytest.approx(2 * se_seed)


def test_trajectory_is_readable_at_column_width_and_says_simulated(data):
    fig = figure([data], "trajectory")
    ax = fig.axes[0]
    assert fig.get_figwidth() == 3.5
    assert ax.get_xlabel() == "iteration" and ax.get_ylabel() == "validation pass rate (%)"
    assert ax.get_title().startswith("SIMULATED")
    texts = [t for t in fig.findobj(Text) if t.get_text().strip()]
    assert texts and min(t.get_fontsize() for t in texts) >= 8
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["best accepted so far (pooled tally)", "accepted", "rejected",
                      "invalid (not scored)"]


def test_several_runs_overlay_with_a_legend_entry_each(run, data, tmp_path):
    assert main(["plot", str(run["run_dir"]), str(run["run_dir"]), "-o", str(tmp_path / "two.png")]) == 0
    fig = figure([data, {**data, "run_id": "second"}], "trajectory")
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "best so far, rtest" in labels and "best so far, second" in labels and "second" in labels
    assert len([line for line in fig.axes[0].get_lines() if line.get_drawstyle() == "steps-post"]) == 2


def bar_totals(ax):
    totals = {}
    for bar in ax.patches:
        x = round(bar.get_x() + bar.get_width() / 2)
        totals[x] = totals.get(x, 0) + bar.get_height()
    return totals


def test_failures_stack_failed_rounds_per_iteration_by_outcome(data):
    ax = figure([data], "failures", counts=True).axes[0]
    # each episode has a too_easy round; each unaccepted one also a failed_on_strong round
    assert bar_totals(ax) == {0: 3 + 2, 1: 6 + 3, 2: 3 + 2}
    assert ax.get_ylabel() == "failed rounds" and ax.get_xlabel() == "iteration"


def test_failures_are_shares_of_the_rounds_evaluated_that_iteration_by_default(data):
    ax = figure([data], "failures").axes[0]
    # 2 rounds per episode (too_easy, then accepted or failed_on_strong): 3, 6, 3 episodes
    assert bar_totals(ax) == pytest.approx({0: 100 * 5 / 6, 1: 100 * 9 / 12, 2: 100 * 5 / 6})
    assert ax.get_ylabel() == "% of the iteration's rounds"


def test_cost_is_cumulative_usd_by_role_and_tokens_when_every_price_is_zero(data):
    ax = figure([data], "cost").axes[0]
    finals = {line.get_label(): line.get_ydata()[-1] for line in ax.get_lines()}
    assert finals == pytest.approx({"implementer": 0.15, "analyzer": 0.06, "judge": 0.003})
    assert ax.get_ylabel() == "cumulative spend (USD)" and "(min)" in ax.get_xlabel()
    free = {**data, "calls": [{**c, "cost_usd": 0.0} for c in data["calls"]]}
    ax = figure([free], "cost").axes[0]
    assert ax.get_ylabel() == "cumulative tokens" and "tokens shown" in ax.get_title()
    many = {**free, "calls": [{**c, "tokens": c["tokens"] * 10_000} for c in free["calls"]]}
    ax = figure([many], "cost").axes[0]  # the unit follows the total: numbers stay short
    assert ax.get_ylabel() == "cumulative tokens (millions)"
    assert max(max(line.get_ydata()) for line in ax.get_lines()) < 1000


@pytest.mark.parametrize("kind", ["trajectory", "failures", "cost"])
def test_plot_writes_a_png_about_a_column_wide(run, tmp_path, kind):
    out = tmp_path / f"{kind}.png"
    assert main(["plot", str(run["run_dir"]), "-o", str(out), "--kind", kind]) == 0
    height, width, _ = imread(out).shape
    assert 950 <= width <= 1150 and height > 400  # 3.5 in at 300 dpi, tight bounding box


def test_plot_writes_svg_and_pdf_by_suffix_and_refuses_other_suffixes(run, tmp_path, capsys):
    assert main(["plot", str(run["run_dir"]), "-o", str(tmp_path / "t.svg")]) == 0
    assert "<svg" in (tmp_path / "t.svg").read_text() and "SIMULATED" in (tmp_path / "t.svg").read_text()
    assert main(["plot", str(run["run_dir"]), "-o", str(tmp_path / "t.pdf")]) == 0
    assert (tmp_path / "t.pdf").read_bytes().startswith(b"%PDF")
    assert main(["plot", str(run["run_dir"]), "-o", str(tmp_path / "t.jpg")]) == 1
    assert ".png, .svg or .pdf" in capsys.readouterr().err


def test_report_is_one_self_contained_page_with_figures_lineage_edits_and_config(run, tmp_path, capsys):
    assert main(["report", str(run["run_dir"]), "-o", str(tmp_path / "rep")]) == 0
    page = (tmp_path / "rep" / "index.html").read_text()
    assert capsys.readouterr().out.strip() == str(tmp_path / "rep" / "index.html")
    assert page.count("<svg") == 4 and not re.search(r'(src|href)="(https?:)?//', page)
    assert "candidate tree" in page  # the lineage figure
    assert "<b>files changed</b>: prompts/" in page  # every path the accepted diff changes
    assert page.index("<details>") < page.index("&quot;min_gap&quot;") < page.index("</details>")
    assert "validation pass rate at decision" in page and "pooled tally" in page
    assert "No final re-evaluation recorded" in page
    assert "SIMULATED" in page and run["c1_sha"][:10] in page
    assert '<span class="add">+Ask about one concrete mechanism.</span>' in page  # c1's diff
    assert "weak solver answers too well" in page  # the diagnosis that led to it
    assert "+Prefer questions about numbers" not in page  # a rejected edit's diff is not shown
    assert "&quot;min_gap&quot;: 0.2" in page and "touches protected path harness.toml" in page
