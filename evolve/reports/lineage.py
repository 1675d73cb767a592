"""The lineage figure (`autodata plot RUN --kind lineage`, and in the report): the candidate tree.

Every attempt is a node at (its iteration, its pass rate): accepted, rejected, and invalid ones
(never scored: crosses below 0 %). A line joins each child to its parent, coloured by the child's
status. The path from the seed to the best candidate is drawn thick and its nodes are named: the
best by the final re-evaluation when the run has one (its estimate is drawn as a diamond with its
95 % interval), else the best by tally. Pass rates are the pooled tally (all validation evaluations
so far), as the axis says. Readable at 100+ candidates: small markers, thin lines, only the best
path labelled, and a full-page width (7 in) above 40 attempts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from evolve.final import final_result
from evolve.progress import best_accepted
from evolve.reports.runs import open_reader
from evolve.store import StoreReader

COLOURS = {"accepted": "#1b9e77", "rejected": "#d95f02", "invalid": "#999999",
           "in_progress": "#7570b3", "committing": "#7570b3"}
INVALID_Y = -6.0
WIDE_ABOVE = 40


def lineage_rows(reader: StoreReader) -> list[dict[str, Any]]:
    """Every attempt: candidate_id, iteration, parent_id, status, pass_rate (pooled tally)."""
    return reader.query(
        "SELECT s.candidate_id, s.iteration, s.parent_id, s.status, sc.pass_rate "
        "FROM candidate_status s LEFT JOIN candidate_scores sc USING (candidate_id) "
        "ORDER BY s.iteration, s.candidate_id")


def best_path(rows: Sequence[dict[str, Any]], best: str | None) -> list[str]:
    """Candidate ids from the seed to `best` (parent links)."""
    parents = {r["candidate_id"]: r["parent_id"] for r in rows}
    path, cur, seen = [], best, set()
    while cur is not None and cur in parents and cur not in seen:
        seen.add(cur)
        path.append(cur)
        cur = parents[cur]
    return list(reversed(path))


def _y(row: dict[str, Any]) -> float:
    return INVALID_Y if row["pass_rate"] is None else 100.0 * row["pass_rate"]


def _edges(ax: Any, rows: Sequence[dict[str, Any]], at: dict[str, dict[str, Any]]) -> None:
    for status, colour in COLOURS.items():
        xs: list[float | None] = []
        ys: list[float | None] = []
        for r in rows:
            parent = at.get(r["parent_id"] or "")
            if r["status"] == status and parent is not None:
                xs += [parent["iteration"], r["iteration"], None]
                ys += [_y(parent), _y(r), None]
        if xs:
            ax.plot(xs, ys, color=colour, linewidth=0.45, alpha=0.55, zorder=1,
                    linestyle=":" if status == "invalid" else "-")


def _nodes(ax: Any, rows: Sequence[dict[str, Any]], size: float) -> None:
    for status, colour in COLOURS.items():
        mine = [r for r in rows if r["status"] == status]
        if mine:
            ax.scatter([r["iteration"] for r in mine], [_y(r) for r in mine], s=size,
                       color=colour, marker="x" if status == "invalid" else "o",
                       linewidths=0.6 if status == "invalid" else 0.3,
                       edgecolors=None if status == "invalid" else "white", zorder=2)


def _path(ax: Any, path: Sequence[str], at: dict[str, dict[str, Any]], final: dict | None) -> None:
    xs = [at[c]["iteration"] for c in path]
    ys = [_y(at[c]) for c in path]
    ax.plot(xs, ys, color="#000000", linewidth=1.6, zorder=3, solid_capstyle="round")
    for c, x, y in zip(path, xs, ys):
        ax.annotate(c.split("-")[0], (x, y), xytext=(2, 3), textcoords="offset points",
                    fontsize=8, zorder=4)
    if final and final.get("best") and final["best"].get("estimate"):
        best = final["best"]
        e, x = best["estimate"], at[best["candidate_id"]]["iteration"] + 0.25
        ax.errorbar([x], [100 * e["mean"]], yerr=[[100 * (e["mean"] - e["low"])],
                                                  [100 * (e["high"] - e["mean"])]],
                    fmt="D", color="#000000", markerfacecolor="white", markersize=4,
                    elinewidth=0.8, capsize=2, zorder=5)


def lineage_figure(run: dict[str, Any]) -> Figure:
    """`run`: load_lineage's dict (run_id, simulated, rows, best, final)."""
    rows = run["rows"]
    wide = len(rows) > WIDE_ABOVE
    fig = Figure(figsize=(7.0 if wide else 3.5, 3.4 if wide else 3.0), layout="constrained")
    ax = fig.add_subplot()
    at = {r["candidate_id"]: r for r in rows}
    _edges(ax, rows, at)
    _nodes(ax, rows, 9 if wide else 14)
    path = best_path(rows, run["best"])
    if path:
        _path(ax, path, at, run.get("final"))
    ax.set_xlabel("iteration")
    ax.set_ylabel("validation pass rate (%, pooled tally)")
    ax.set_ylim(INVALID_Y - 4, 102)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", linewidth=0.3, alpha=0.5)
    which = "final re-evaluation" if run.get("final") else "tally"
    sim = "SIMULATED: " if run["simulated"] else ""
    ax.set_title(f"{sim}candidate tree, run {run['run_id']}")
    seen = {r["status"] for r in rows}
    handles = [Line2D([], [], linestyle="none", marker="x" if s == "invalid" else "o", color=c,
                      markersize=4, label="invalid (not scored)" if s == "invalid" else s)
               for s, c in COLOURS.items() if s in seen and s != "committing"]
    handles.append(Line2D([], [], color="#000000", linewidth=1.6,
                          label=f"path to the best ({which})"))
    if run.get("final"):
        handles.append(Line2D([], [], linestyle="none", marker="D", color="#000000",
                              markerfacecolor="white", markersize=4,
                              label="best, final re-evaluation (95% CI)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=3 if wide else 2,
               handlelength=1.4, columnspacing=1.0)
    return fig


def load_lineage(run_dir: Any) -> dict[str, Any]:
    with open_reader(run_dir) as reader:
        info = reader.run_info() or {}
        final = final_result(reader)
        best = final.best.candidate_id if final and final.best else best_accepted(reader)
        return {"run_id": info.get("run_id", run_dir.name), "simulated": bool(info.get("simulated")),
                "rows": lineage_rows(reader), "best": best,
                "final": final.model_dump() if final else None}
