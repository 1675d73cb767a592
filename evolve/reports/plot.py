"""`autodata plot`: publication figures of one or several runs (matplotlib, Agg, no pyplot state).

Kinds:
  trajectory  best accepted validation pass rate so far (step line) and every candidate as a point
              coloured by status; error bars = standard error of the mean over the candidate's
              validation evaluations (0/1 each; repeated evaluations shrink it); invalid attempts
              are never scored and sit as crosses below 0 %; several runs overlay with a legend.
  failures    failed rounds per iteration, stacked by round outcome (one panel per run).
  cost        cumulative spend by role over wall time (one panel per run); when every price is
              0 (the sim) it shows tokens instead and says so.
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

from evolve.reports import KINDS
from evolve.reports.runs import candidate_stats, open_reader
from inner_loop.episode import OUTCOMES
from inner_loop.errors import UserError

FORMATS = ("png", "svg", "pdf")
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
                                "GROUP BY iteration, outcome ORDER BY iteration")
        calls = reader.query("SELECT started_at, role, cost_usd, input_tokens + output_tokens AS tokens "
                             "FROM llm_calls ORDER BY started_at")
    return {"run_id": info.get("run_id", run_dir.name), "simulated": bool(info.get("simulated")),
            "trajectory": trajectory, "failures": failures, "calls": calls}


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
    ax.set_title(_title(runs, "validation pass rate"))
    mixed = len({r["simulated"] for r in runs}) > 1
    handles = [Line2D([], [], color=RUN_COLOURS[k % len(RUN_COLOURS)],
                      linestyle="-" if k == 0 else (0, (4, 1.5)),
                      label=f"best so far, {_label(r, mixed)}" if several else "best accepted so far")
               for k, r in enumerate(runs)]
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


def _failures_panel(ax: Axes, run: dict[str, Any]) -> set[str]:
    iterations = sorted({r["iteration"] for r in run["failures"]})
    bottoms = dict.fromkeys(iterations, 0.0)
    used = set()
    for outcome, colour in OUTCOME_COLOURS.items():
        counts = {r["iteration"]: float(r["n"]) for r in run["failures"] if r["outcome"] == outcome}
        if counts:
            used.add(outcome)
            heights = [counts.get(i, 0.0) for i in iterations]
            ax.bar(iterations, heights, bottom=[bottoms[i] for i in iterations], width=0.7,
                   color=colour, linewidth=0)
            for i, h in zip(iterations, heights):
                bottoms[i] += h
    ax.set_ylabel("failed rounds")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return used


def _cost_panel(ax: Axes, run: dict[str, Any]) -> tuple[set[str], bool]:
    calls = run["calls"]
    use_usd = any(c["cost_usd"] for c in calls)
    start = calls[0]["started_at"] if calls else None
    totals: dict[str, float] = {}
    series: dict[str, tuple[list[float], list[float]]] = {}
    for c in calls:
        minutes = (c["started_at"] - start).total_seconds() / 60.0
        totals[c["role"]] = totals.get(c["role"], 0.0) + (c["cost_usd"] if use_usd else c["tokens"] / 1000)
        xs, ys = series.setdefault(c["role"], ([0.0], [0.0]))
        xs.append(minutes)
        ys.append(totals[c["role"]])
    for role, (xs, ys) in sorted(series.items(), key=lambda kv: -kv[1][1][-1]):
        ax.step(xs, ys, where="post", label=role, color=_role_colour(role))
    ax.set_xlabel("wall time since the run's first call (min)")
    ax.set_ylabel("cumulative spend (USD)" if use_usd else "cumulative tokens (thousands)")
    return set(series), use_usd


def _role_colour(role: str) -> str:
    roles = ["challenger", "verifier", "orchestrator", "judge", "weak_solver", "strong_solver",
             "analyzer", "implementer"]
    palette = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#444444"]
    return palette[roles.index(role)] if role in roles else "#999999"


def panels_figure(runs: Sequence[dict[str, Any]], kind: str) -> Figure:
    n = len(runs)
    fig = Figure(figsize=(WIDTH_IN, 1.2 + 1.9 * n), layout="constrained")
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    used: set[str] = set()
    notes = []
    for ax, run in zip(axes, runs):
        if kind == "failures":
            used |= _failures_panel(ax, run)
            ax.set_xlabel("iteration")
        else:
            roles, use_usd = _cost_panel(ax, run)
            used |= roles
            notes.append("" if use_usd else "all prices $0: tokens shown")
        if n > 1:
            ax.set_title(run["run_id"] + (" (SIMULATED)" if run["simulated"] else ""))
        ax.grid(axis="y", linewidth=0.3, alpha=0.5)
    what = "failed rounds by outcome" if kind == "failures" else "spend by role"
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


def figure(runs: Sequence[dict[str, Any]], kind: str) -> Figure:
    if kind not in KINDS:
        raise UserError(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}")
    with rc_context(STYLE):
        return trajectory_figure(runs) if kind == "trajectory" else panels_figure(runs, kind)


def render(runs: Sequence[dict[str, Any]], kind: str, fmt: str) -> bytes:
    """The figure as PNG (300 dpi), SVG or PDF bytes."""
    if fmt not in FORMATS:
        raise UserError(f"unknown figure format {fmt!r}; use .png, .svg or .pdf")
    with rc_context(STYLE):
        fig = figure(runs, kind)
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=300, bbox_inches="tight", pad_inches=0.03)
    return buf.getvalue()


def plot_runs(run_dirs: Sequence[Path], out: Path, kind: str = "trajectory") -> Path:
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise UserError(f"-o {out}: the file name must end in .png, .svg or .pdf")
    data = render([load_run(d) for d in run_dirs], kind, fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return out
