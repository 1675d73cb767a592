"""`autodata report RUN -o DIR`: one self-contained HTML page (DIR/index.html) for an appendix.

The page holds the figures (inline SVG: trajectory, failures, cost, lineage), the run summary
with the final re-evaluation (best by it, 95 % intervals), the accepted lineage, every attempt,
each accepted edit with every path its diff changes, the diagnosis that led to it and its diff,
cost by role and the configuration (collapsed). Rates are labelled by estimate: *at decision*
(the child and parent means the decision read), *pooled tally* (all validation evaluations so
far) and *final* (the end-of-run re-evaluation with fresh repeats). For figures as files (PDF for
a paper) use `autodata plot`."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evolve.reports import log as reports_log
from evolve.reports.diff import diff_data
from evolve.reports import KINDS
from evolve.reports.lineage import load_lineage
from evolve.reports.plot import load_run, render
from evolve.reports.runs import open_reader, pct
from evolve.reports.show import COST_COLUMNS, price_text, show_data

CSS = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.4; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1rem; margin-bottom: 0.3rem; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
th, td { border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f8f8f8; border: 1px solid #e4e4e4; padding: 0.5rem; font-size: 0.78rem;
      overflow-x: auto; white-space: pre-wrap; }
.add { color: #1a7f37; } .del { color: #cf222e; } .hunk { color: #6f42c1; } .meta { color: #666; }
.sim { background: #fff3cd; border: 1px solid #e0c060; padding: 0.5rem 1rem; font-weight: bold; }
figure { display: inline-block; margin: 0.5rem; vertical-align: top; } figure svg { width: 22rem; height: auto; }
"""


def _e(value: Any) -> str:
    return html.escape("-" if value is None else str(value))


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], numeric: Sequence[str] = ()) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td class=\"num\">{_e(r.get(c))}</td>" if c in numeric else f"<td>{_e(r.get(c))}</td>"
                         for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def diff_html(diff: str) -> str:
    """A unified diff as <pre> with added/removed/hunk lines coloured."""
    out = []
    for line in diff.splitlines():
        cls = ("meta" if line.startswith(("diff --git", "index ", "+++", "---", "similarity", "rename"))
               else "hunk" if line.startswith("@@") else "add" if line.startswith("+")
               else "del" if line.startswith("-") else "")
        out.append(f'<span class="{cls}">{html.escape(line)}</span>' if cls else html.escape(line))
    return "<pre>" + ("\n".join(out) or "(no changes)") + "</pre>"


def figures_html(run_dir: Path) -> str:
    """Every figure kind as inline SVG (text stays text: sharp at any zoom, searchable)."""
    run, tree = load_run(run_dir), load_lineage(run_dir)
    parts = []
    for kind in KINDS:
        svg = render([tree if kind == "lineage" else run], kind, "svg").decode("utf-8")
        parts.append(f"<figure>{svg[svg.index('<svg'):]}<figcaption>{kind} (`autodata plot "
                     f"--kind {kind}` writes it as PNG, SVG or PDF)</figcaption></figure>")
    return "".join(parts)


def edits_html(run_dir: Path, attempts: list[dict[str, Any]]) -> str:
    parts = []
    for a in attempts:
        if a["status"] != "accepted":
            continue
        diff = diff_data(run_dir, a["candidate_id"])
        parts.append(
            f"<h3>iteration {_e(a['iteration'])}: {_e(a['candidate_id'])} (parent {_e(a['parent_id'])}), "
            f"validation pass rate at decision {_e(_rate(a['parent_mean']))} &rarr; "
            f"{_e(_rate(a['child_mean']))}</h3>"
            f"<p><b>edit</b>: {_e(a['summary'])}<br><b>files changed</b>: "
            f"{_e(', '.join(changed_paths(diff['diff'], a['changed_paths'])) or '-')}"
            f"<br><b>decision</b>: {_e(a['reason'])}"
            f"<br><b>commit</b>: <code>{_e(a['commit_sha'])}</code></p>"
            f"<p><b>diagnosis</b> (analyzer)</p><pre>{_e(reports_log.diagnosis_text(a['diagnosis'], True))}</pre>"
            f"<p><b>diff</b> against the parent</p>{diff_html(diff['diff'])}")
    return "".join(parts) or "<p>No accepted edit yet.</p>"


_DIFF_HEADER = re.compile(r"^diff --git a/(.+?) b/(.+)$", re.MULTILINE)


def changed_paths(diff: str, recorded: Sequence[str | None] = ()) -> list[str]:
    """Every path a diff changes (both names of a rename), else the recorded changed paths."""
    out: list[str] = []
    for a, b in _DIFF_HEADER.findall(diff or ""):
        out += [a] if a == b else [a, b]
    return list(dict.fromkeys(out or [p for p in recorded if p]))


def final_html(final: dict[str, Any] | None) -> str:
    """The final re-evaluation: every re-evaluated candidate with its 95 % interval."""
    if not final:
        return ("<p>No final re-evaluation recorded (run with <code>--final-repeats R</code>, or "
                "<code>autodata evaluate</code>): the rates above are tallies.</p>")
    rows = [{"candidate": c["candidate_id"] + (" (best)" if final["best"] and
                                               c["candidate_id"] == final["best"]["candidate_id"]
                                               else ""),
             "pooled tally": pct(c["tally"]),
             "final": _interval(c["estimate"]), "final vs seed": _interval(c["vs_seed"], True)}
            for c in final["candidates"]]
    return (f"<p>Re-evaluated {final['repeats']}&times; on {final['n_papers']} validation papers "
            f"with fresh repeats; 95&nbsp;% interval: {_e(final['method'])}.</p>"
            + table(rows, ["candidate", "pooled tally", "final", "final vs seed"]))


def _interval(e: dict[str, Any] | None, signed: bool = False) -> str:
    if not e:
        return "-"
    f = "{:+.1%}" if signed else "{:.1%}"
    return f"{f.format(e['mean'])} [{f.format(e['low'])}, {f.format(e['high'])}]"


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def summary_html(data: dict[str, Any]) -> str:
    run = data["run"]
    rows = [("status", run["status"] + (f" ({run['detail']})" if run["detail"] else "")),
            ("created", run["created_at"]), ("iterations", f"{run['iterations']} of {run['iteration_budget']}"),
            ("attempts", ", ".join(f"{k} {v}" for k, v in data["counts"].items())),
            ("validation pass rate (pooled tally)",
             f"seed {pct(run['seed_pass_rate'])} → best {pct(run['best_pass_rate'])} "
             f"({run['best_candidate']})"),
            ("best by final re-evaluation", _final_best(data.get("final"))),
            ("best path", " → ".join(data["best_path"])),
            ("spend", f"${run['spend_usd']:.4f} over {run['llm_calls']} LLM calls"),
            ("preset", f"{data['preset']}: " + ", ".join(f"{k}={v}" for k, v in (data["thresholds"] or {}).items()))]
    return table([{"": k, "value": v} for k, v in rows], ["", "value"])


def _cached_prices(data: dict[str, Any]) -> str:
    """Each role's prices, input / cached input / output per million tokens."""
    groups: dict[str, list[str]] = {}
    for role, rc in ((data.get("config") or {}).get("roles") or {}).items():
        groups.setdefault(price_text(rc), []).append(role)
    return "; ".join(f"{', '.join(roles)}: {text}" for text, roles in groups.items()) or "no prices"


def _final_best(final: dict[str, Any] | None) -> str:
    if not final or not final.get("best"):
        return "not run"
    best = final["best"]
    diff = f"; vs seed {_interval(best['vs_seed'], True)}" if best.get("vs_seed") else ""
    return f"{best['candidate_id']} {_interval(best['estimate'])} (95% interval){diff}"


def build_report(run_dir: Path, out_dir: Path) -> Path:
    """Write DIR/index.html; return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = show_data(run_dir)
    with open_reader(run_dir) as reader:
        attempts = reports_log.attempts(reader)
    run = data["run"]
    lineage = [{**r, "pooled tally": pct(r["pass_rate"]), "se": pct(r["se"]),
                "at decision": pct(r["pass_rate_at_acceptance"]),
                "commit": (r["commit_sha"] or "")[:10], "best path": "*" if r["on_best_path"] else ""}
               for r in data["lineage"]]
    attempt_rows = [{**a, "child at decision": _rate(a["child_mean"]),
                     "parent at decision": _rate(a["parent_mean"]),
                     "parent_id": a["parent_id"]} for a in attempts]
    cost = [{**r, "usd": f"{r['usd']:.4f}"} for r in data["cost_by_role"]]
    sim = ('<p class="sim">SIMULATED: every model answer in this run came from the simulated model '
           "world, not from real models. Do not report these numbers as model results.</p>"
           if run["simulated"] else "")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Autodata run {_e(run['run_id'])}</title>
<style>{CSS}</style></head><body>
<h1>{'SIMULATED ' if run['simulated'] else ''}Autodata run {_e(run['run_id'])}</h1>{sim}
{summary_html(data)}
<h2>Final re-evaluation</h2>{final_html(data.get("final"))}
<h2>Figures</h2>{figures_html(run_dir)}
<h2>Accepted lineage</h2>
{table(lineage, ["best path", "iteration", "candidate_id", "parent_id", "depth", "at decision",
                 "pooled tally", "se", "n_evaluations", "commit", "summary"],
       numeric=["at decision", "pooled tally", "se", "n_evaluations"])}
<p>At decision: the child's validation pass rate the policy's decision read. Pooled tally: mean
of all validation evaluations of the candidate so far (0/1 each; a re-sampled parent gathers more);
se: standard error of that mean. Best path: seed to the best by tally.</p>
<h2>All attempts</h2>
{table(attempt_rows, ["iteration", "candidate_id", "parent_id", "status", "child at decision",
                      "parent at decision", "summary", "reason"],
       numeric=["child at decision", "parent at decision"])}
<h2>Accepted edits</h2>{edits_html(run_dir, attempts)}
<h2>Cost by role</h2>
{table(cost, COST_COLUMNS, numeric=COST_COLUMNS[1:])}
<p>Cached calls were answered without an endpoint (the response cache, or an identical request of
the same iteration) and cost nothing; cached tokens are input tokens the endpoint served from its
prefix cache, billed at the role's cached price ({_e(_cached_prices(data))}).</p>
<h2>Configuration</h2><details><summary>preset {_e(data['preset'])}, thresholds, settings
and the full config (JSON)</summary><pre>{_e(json.dumps(
    {k: data[k] for k in ("preset", "thresholds", "settings", "config")}, indent=2,
    ensure_ascii=False))}</pre></details>
</body></html>
"""
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
