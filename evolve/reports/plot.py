"""`autodata plot`: publication figures of one or several runs (matplotlib, Agg, no pyplot state).

Kinds:
  trajectory  best accepted validation pass rate so far (step line) and every candidate as a point
              coloured by status; error bars = standard error of the mean over the candidate's
              validation evaluations (0/1 each; repeated evaluations shrink it); invalid attempts
              are never scored and sit as crosses below 0 %; several runs overlay with a legend.
              The step line and points are the pooled tally (all validation evaluations so far);
              a run with a final re-evaluation adds each re-evaluated candidate as a diamond
              with its 95 % interval, and the title names the best by it.
  failures    failed rounds as a share of the rounds evaluated that iteration, stacked by round
              outcome (one panel per run); `counts=True` plots the raw counts instead.
  cost        cumulative spend by role over wall time (one panel per run; cached prompt tokens at
              the role's cached price, and the title gives their share of the input); when every
              price is 0 (the sim) it shows tokens instead and says so; the axis unit follows the
              total (tokens, thousands or millions).
  lineage     the candidate tree (`evolve/reports/lineage.py`).
Sized for a paper column (3.5 in wide, fonts 8 pt). Titles say SIMULATED when the sim answered.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from evolve.final import final_result
from evolve.reports import KINDS
from evolve.reports.lineage import lineage_figure, load_lineage
from evolve.reports.runs import candidate_stats, open_reader
from inner_loop.episode import OUTCOMES
from inner_loop.errors import UserError

FORMATS = ("png", "svg", "pdf")
LOOP_PURPOSES = "('validation', 'minibatch', 'smoke')"  # what iterations paid for (not final)
WIDTH_IN = 3.5
STATUS_COLOURS = {"accepted": "#1b9e77", "rejected": "#d95f02", "invalid": "#666666",
                  "in_progress": "#7570b3", "committing": "#7570b3"}
RUN_COLOURS = ["#000000", "#1f5fa8", "#a8361f", "#6a3d9a", "#8c6d1f", "#1f8c8c"]
RUN_MARKERS = ["o", "s", "^", "D", "v", "P"]
OUTCOME_COLOURS = dict(zip([o for o in OUTCOMES if o != "accepted"],
                           ["#e6ab02", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#a6761d", "#999999"]))
STYLE = {"font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "xtick.labelsize": 8,
         "ytick.labelsize": 8, "legend.fontsize": 8, "axes.linewidth": 0.6, "lines.linewidth": 1.0,
         "xtick.major.width": 0.6, "ytick.major.width": 0.6, "legend.frameon": False,
         "axes.spines.top": False, "axes.spines.right": False, "svg.fonttype": "none",
         "pdf.fonttype": 42}


def load_run(run_dir: Path) -> dict[str, Any]:
    """What the figures need from one run's database."""
    with open_reader(run_dir) as reader:
        info = reader.run_info() or {}
        stats = candidate_stats(reader)
        trajectory = reader.query("SELECT * FROM pass_rate_trajectory ORDER BY iteration")
        for row in trajectory:
            row["se"] = (stats.get(row["candidate_id"]) or {}).get("se")
        failures = reader.query("SELECT iteration, outcome, sum(n) AS n FROM failure_reasons "
                                f"WHERE purpose IN {LOOP_PURPOSES} "
                                "GROUP BY iteration, outcome ORDER BY iteration")
        rounds = {r["iteration"]: r["n"] for r in reader.query(
            "SELECT e.iteration, count(*) AS n FROM episode_rounds r JOIN episodes e "
            f"USING (episode_id) WHERE e.purpose IN {LOOP_PURPOSES} GROUP BY e.iteration")}
        final = final_result(reader)
        calls = reader.query("SELECT started_at, role, cost_usd, input_tokens + output_tokens AS tokens, "
                             "input_tokens, cached_tokens FROM llm_calls ORDER BY started_at")
    return {"run_id": info.get("run_id", run_dir.name), "simulated": bool(info.get("simulated")),
            "trajectory": trajectory, "failures": failures, "rounds": rounds, "calls": calls,
            "final": final.model_dump() if final else None}


def _label(run: dict[str, Any], mixed: bool) -> str:
    """The run's legend name; `(sim)` marks simulated runs overlaid with real ones."""
    return run["run_id"] + (" (sim)" if run["simulated"] and mixed else "")


def _title(runs: Sequence[dict[str, Any]], what: str) -> str:
    sim = "SIMULATED: " if any(r["simulated"] for r in runs) else ""
    return sim + what + (f", run {runs[0]['run_id']}" if len(runs) == 1 else "")


def _trajectory_points(ax: Axes, run: dict[str, Any], k: int, offset: float) -> None:
    marker = RUN_MARKERS[k % len(RUN_MARKERS)]
    for status, colour in STATUS_COLOURS.items():
        rows = [r for r in run["trajectory"] if r["status"] == status and r["pass_rate"] is not None]
        if rows:
            xs = [r["iteration"] + offset for r in rows]
            ys = [100 * r["pass_rate"] for r in rows]
            errs = [100 * (r["se"] or 0.0) for r in rows]
            ax.errorbar(xs, ys, yerr=errs, fmt="none", ecolor=colour, elinewidth=0.6, capsize=1.5,
                        alpha=0.8, zorder=2)
            ax.scatter(xs, ys, s=14, marker=marker, color=colour, edgecolors="white",
                       linewidths=0.4, zorder=3)
    invalid = [r["iteration"] + offset for r in run["trajectory"] if r["status"] == "invalid"]
    if invalid:
        ax.scatter(invalid, [-5.0] * len(invalid), s=12, marker="x", linewidths=0.7,
                   color=STATUS_COLOURS["invalid"], zorder=3)


def trajectory_figure(runs: Sequence[dict[str, Any]]) -> Figure:
    fig = Figure(figsize=(WIDTH_IN, 2.7), layout="constrained")
    ax = fig.add_subplot()
    several = len(runs) > 1
    for k, run in enumerate(runs):
        offset = (k - (len(runs) - 1) / 2) * 0.12 if several else 0.0
        steps = [(r["iteration"], r["best_so_far"]) for r in run["trajectory"] if r["best_so_far"] is not None]
        if steps:
            last = max(r["iteration"] for r in run["trajectory"])
            xs = [x for x, _ in steps] + [last]
            ys = [100 * y for _, y in steps] + [100 * steps[-1][1]]
            ax.step(xs, ys, where="post", color=RUN_COLOURS[k % len(RUN_COLOURS)], zorder=1,
                    linestyle="-" if k == 0 else (0, (4, 1.5)))
        _trajectory_points(ax, run, k, offset)
    ax.set_xlabel("iteration")
    ax.set_ylabel("validation pass rate (%)")
    ax.set_ylim(-9, 102)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", linewidth=0.3, alpha=0.5)
    finals = _final_points(ax, runs)
    title = _title(runs, "validation pass rate")
    if len(runs) == 1 and finals:
        best = runs[0]["final"]["best"]
        title += f"\nbest by final re-evaluation: {best['candidate_id'].split('-')[0]} " \
                 f"{100 * best['estimate']['mean']:.0f}% [{100 * best['estimate']['low']:.0f}, " \
                 f"{100 * best['estimate']['high']:.0f}]"
    ax.set_title(title)
    mixed = len({r["simulated"] for r in runs}) > 1
    handles = [Line2D([], [], color=RUN_COLOURS[k % len(RUN_COLOURS)],
                      linestyle="-" if k == 0 else (0, (4, 1.5)),
                      label=f"best so far, {_label(r, mixed)}" if several
                      else "best accepted so far (pooled tally)")
               for k, r in enumerate(runs)]
    if finals:
        handles.append(Line2D([], [], linestyle="none", marker="D", color="#000000",
                              markerfacecolor="white", markersize=4,
                              label="final re-evaluation (95% CI)"))
    seen = {r["status"] for run in runs for r in run["trajectory"]
            if r["pass_rate"] is not None or r["status"] == "invalid"}

    handles += [Line2D([], [], linestyle="none", marker="x" if s == "invalid" else "o", color=c,
                       markersize=4, label="invalid (not scored)" if s == "invalid" else s.replace("_", " "))
                for s, c in STATUS_COLOURS.items() if s in seen and s != "committing"]
    if several:
        handles += [Line2D([], [], linestyle="none", marker=RUN_MARKERS[k % len(RUN_MARKERS)],
                           color="#444444", markersize=4, label=_label(r, mixed))
                    for k, r in enumerate(runs)]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, handlelength=1.6,
               columnspacing=1.0)
    return fig


def _final_points(ax: Axes, runs: Sequence[dict[str, Any]]) -> int:
    """Each finally re-evaluated candidate: a diamond at its iteration (+0.3), 95 % interval."""
    drawn = 0
    for run in runs:
        final = run.get("final") or {}
        at = {r["candidate_id"]: r["iteration"] for r in run["trajectory"]}
        at.setdefault("seed", 0)
        for c in final.get("candidates", []):
            e = c.get("estimate")
            if e is None or c["candidate_id"] not in at:
                continue
            ax.errorbar([at[c["candidate_id"]] + 0.3], [100 * e["mean"]],
                        yerr=[[100 * (e["mean"] - e["low"])], [100 * (e["high"] - e["mean"])]],
                        fmt="D", color="#000000", markerfacecolor="white", markersize=3.5,
                        elinewidth=0.7, capsize=1.5, zorder=4)
            drawn += 1
    return drawn


def _failures_panel(ax: Axes, run: dict[str, Any], counts: bool = False) -> set[str]:
    iterations = sorted({r["iteration"] for r in run["failures"]})
    bottoms = dict.fromkeys(iterations, 0.0)
    used = set()
    for outcome, colour in OUTCOME_COLOURS.items():
        failed = {r["iteration"]: float(r["n"]) for r in run["failures"] if r["outcome"] == outcome}
        if failed:
            used.add(outcome)
            heights = [failed.get(i, 0.0) if counts else
                       100.0 * failed.get(i, 0.0) / max(1, run["rounds"].get(i, 0))
                       for i in iterations]
            ax.bar(iterations, heights, bottom=[bottoms[i] for i in iterations], width=0.7,
                   color=colour, linewidth=0)
            for i, h in zip(iterations, heights):
                bottoms[i] += h
    ax.set_ylabel("failed rounds" if counts else "% of the iteration's rounds")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return used


def _cost_panel(ax: Axes, run: dict[str, Any]) -> tuple[set[str], str]:
    """Draw one run's spend; return its roles and the note for the title."""
    calls = run["calls"]
    use_usd = any(c["cost_usd"] for c in calls)
    start = calls[0]["started_at"] if calls else None
    totals: dict[str, float] = {}
    series: dict[str, tuple[list[float], list[float]]] = {}
    for c in calls:
        minutes = (c["started_at"] - start).total_seconds() / 60.0
        totals[c["role"]] = totals.get(c["role"], 0.0) + (c["cost_usd"] if use_usd else c["tokens"])
        xs, ys = series.setdefault(c["role"], ([0.0], [0.0]))
        xs.append(minutes)
        ys.append(totals[c["role"]])
    scale, unit = (1.0, "USD") if use_usd else _token_unit(max(totals.values(), default=0.0))
    for role, (xs, ys) in sorted(series.items(), key=lambda kv: -kv[1][1][-1]):
        ax.step(xs, [y / scale for y in ys], where="post", label=role, color=_role_colour(role))
    ax.set_xlabel("wall time since the run's first call (min)")
    ax.set_ylabel(f"cumulative spend ({unit})" if use_usd else
                  "cumulative tokens" + ("" if scale == 1.0 else f" ({unit})"))
    cached, prompt = (sum(c[k] for c in calls) for k in ("cached_tokens", "input_tokens"))
    notes = ([] if use_usd else ["all prices $0: tokens shown"]) + (
        [f"{cached / prompt:.0%} of input tokens cached"] if cached and prompt else [])
    return set(series), "; ".join(notes)


def _token_unit(top: float) -> tuple[float, str]:
    """The divisor and name that keep the axis numbers short (at most a few hundred)."""
    return (1e6, "millions") if top >= 1e6 else (1e3, "thousands") if top >= 1e3 else (1.0, "tokens")


def _role_colour(role: str) -> str:
    roles = ["challenger", "verifier", "orchestrator", "judge", "weak_solver", "strong_solver",
             "analyzer", "implementer"]
    palette = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#444444"]
    return palette[roles.index(role)] if role in roles else "#999999"


def panels_figure(runs: Sequence[dict[str, Any]], kind: str, counts: bool = False) -> Figure:
    n = len(runs)
    fig = Figure(figsize=(WIDTH_IN, 1.2 + 1.9 * n), layout="constrained")
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    used: set[str] = set()
    notes = []
    for ax, run in zip(axes, runs):
        if kind == "failures":
            used |= _failures_panel(ax, run, counts)
            ax.set_xlabel("iteration")
        else:
            roles, note = _cost_panel(ax, run)
            used |= roles
            notes.append(note)
        if n > 1:
            ax.set_title(run["run_id"] + (" (SIMULATED)" if run["simulated"] else ""))
        ax.grid(axis="y", linewidth=0.3, alpha=0.5)
    what = ("failed rounds by outcome" + (" (counts)" if counts else "")
            if kind == "failures" else "spend by role")
    note = next((x for x in notes if x), "")
    title = _title(runs, what) + (f"\n({note})" if note else "")
    if n == 1:
        axes[0].set_title(title)
    else:
        fig.suptitle(title, fontsize=8)
    colours = OUTCOME_COLOURS if kind == "failures" else {r: _role_colour(r) for r in sorted(used)}
    handles = [Line2D([], [], color=c, linewidth=4 if kind == "failures" else 1.2, label=k.replace("_", " "))
               for k, c in colours.items() if k in used]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, handlelength=1.4,
               columnspacing=1.0)
    return fig


def figure(runs: Sequence[dict[str, Any]], kind: str, counts: bool = False) -> Figure:
    if kind not in KINDS:
        raise UserError(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}")
    with rc_context(STYLE):
        if kind == "lineage":
            if len(runs) != 1:
                raise UserError("--kind lineage draws one run at a time")
            return lineage_figure(runs[0])
        return trajectory_figure(runs) if kind == "trajectory" else panels_figure(runs, kind,
                                                                                    counts)


def render(runs: Sequence[dict[str, Any]], kind: str, fmt: str, counts: bool = False) -> bytes:
    """The figure as PNG (300 dpi), SVG or PDF bytes."""
    if fmt not in FORMATS:
        raise UserError(f"unknown figure format {fmt!r}; use .png, .svg or .pdf")
    with rc_context(STYLE):
        fig = figure(runs, kind, counts)
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=300, bbox_inches="tight", pad_inches=0.03)
    return buf.getvalue()


def plot_runs(run_dirs: Sequence[Path], out: Path, kind: str = "trajectory",
              counts: bool = False) -> Path:
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise UserError(f"-o {out}: the file name must end in .png, .svg or .pdf")
    load = load_lineage if kind == "lineage" else load_run
    data = render([load(d) for d in run_dirs], kind, fmt, counts)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return out
