"""The data card (README.md) of an exported dataset: how it was made, counts, score
distributions, the acceptance preset and thresholds, licences of the source papers, columns,
and a SIMULATED warning when the examples came from the simulated model world."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

COLUMN_DOCS = {
    "id": "content address of the example (sha256 prefix of its JSON)",
    "prompt": "GRPO prompt: the protected solver messages [{role, content}] (system + context + question)",
    "prompt_text": "the same prompt as one string (system text, blank line, user text)",
    "rubric": "rubric items {criterion, weight, category}; reward = clip(sum w*met / sum positive w, 0, 1)",
    "rubric_json": "the rubric as a JSON string",
    "question_type / reasoning_skills": "what the challenger declared",
    "context / question / reference_answer": "the example (solvers saw context + question only)",
    "weak_scores / weak_avg, strong_scores / strong_avg, gap": "rubric scores of the solver samples",
    "weak_samples / strong_samples": "each sample: answer, per-item judge verdicts, score",
    "paper_id / paper_title / paper_license": "the source paper and the licence of its text",
    "source / run_id / candidate_id / harness_commit / method": "provenance of the harness",
    "iteration / repeat / rounds_used": "which evaluation produced it and in which round",
    "preset / thresholds_json / simulated": "acceptance rules it passed; whether the sim answered",
}


def _stats(values: Sequence[float]) -> str:
    if not values:
        return "| - | - | - | - | - |"
    return (f"| {min(values):.3f} | {statistics.median(values):.3f} | {statistics.fmean(values):.3f} "
            f"| {max(values):.3f} | {statistics.pstdev(values):.3f} |")


def _histogram(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = ["| score bin | weak avg | strong avg |", "| --- | --- | --- |"]
    for b in range(10):
        lo, hi = b / 10, (b + 1) / 10
        def count(key: str) -> int:
            return sum(1 for r in rows if lo <= r[key] < hi or (b == 9 and r[key] == 1.0))
        lines.append(f"| [{lo:.1f}, {hi:.1f}{']' if b == 9 else ')'} | {count('weak_avg')} | {count('strong_avg')} |")
    return lines


def _front_matter(meta: dict[str, Any]) -> list[str]:
    """YAML front matter: the Hub and `datasets.load_dataset(DIR)` read `configs:`."""
    tags = ["autodata", "synthetic", "rubric", "grpo"] + (["simulated"] if meta["simulated"] else [])
    return ["---", f"pretty_name: Autodata examples ({meta.get('run_id') or meta['source']})",
            "license: other", "language:", "- en", "task_categories:", "- question-answering",
            "tags:", *[f"- {t}" for t in tags], "configs:", "- config_name: default",
            "  data_files:", "  - split: train", f"    path: {meta['data_file']}", "---", ""]


def _made(meta: dict[str, Any], rows: Sequence[dict[str, Any]]) -> list[str]:
    if meta["source"] == "evolve":
        how = (f"Accepted validation episodes of harness commit `{meta['harness_commit']}` "
               f"(candidate `{meta['candidate_id']}`, iteration {meta['iteration']}) of evolution run "
               f"`{meta['run_id']}` (`{meta['path']}`). That harness's validation pass rate is "
               f"{_pct(meta['pass_rate'])} over {meta['n_evaluations']} evaluations; each accepted "
               "episode (every repeat) is one row.")
    else:
        how = (f"The accepted examples of `autodata generate` output `{meta['path']}` (method "
               f"`{meta.get('method')}`, harness `{meta['harness_commit']}`); acceptance rate "
               f"{_pct(meta['pass_rate'])} over {meta['n_evaluations']} papers.")
    lines = ["## How it was made", "", "Agentic Self-Instruct (Autodata): for each paper a challenger "
             "wrote a reasoning question with a reference answer and a weighted rubric; a weak solver "
             "and a strong solver answered it several times (temperature 1.0) and a judge scored each "
             "answer per rubric item. An example is kept only when the weak solver scores low and the "
             "strong solver high (thresholds below).", "", how]
    if meta["final_filter"]:
        lines += ["", "Final filter (`--final-filter`): rows kept only when the stored judgments "
                  "recompute to accepted under the recorded thresholds and the example passes the "
                  "structural and solver-instruction guards. Dropped: "
                  + (", ".join(f"{n} ({why})" for why, n in meta["dropped"].items()) or "none") + "."]
    models = [f"- {role}: `{rc.get('model')}` ({rc.get('backend')})"
              for role, rc in ((meta.get("config") or {}).get("roles") or {}).items()]
    return lines + (["", "Models:", *models] if models else [])


def _licences(rows: Sequence[dict[str, Any]]) -> list[str]:
    papers = {r["paper_id"]: r["paper_license"] for r in rows}
    by_licence = Counter(papers.values())
    examples = Counter(r["paper_license"] for r in rows)
    lines = ["## Licences of the source papers", "", "| licence | papers | examples |", "| --- | --- | --- |"]
    lines += [f"| {lic} | {n} | {examples[lic]} |" for lic, n in by_licence.most_common()]
    if any(str(lic).startswith(("unspecified", "unknown")) for lic in by_licence):
        lines += ["", "**Warning:** some source papers have no open licence (e.g. the `openreview:` "
                  "ICLR 2022 submissions, see splits/README.md). Examples quote their text in "
                  "`context` and `reference_answer`: do not redistribute those rows outside research use."]
    return lines


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def data_card(rows: Sequence[dict[str, Any]], meta: dict[str, Any], front_matter: bool) -> str:
    papers = {r["paper_id"] for r in rows}
    lines = _front_matter(meta) if front_matter else []
    title = f"# Autodata examples: {meta.get('run_id') or meta['path']}"
    lines += [title, ""]
    if meta["simulated"]:
        lines += ["> **SIMULATED.** Every model answer behind these examples came from the simulated "
                  "model world of autodata, not from real models. Use them to test pipelines, never "
                  "to train or to report results.", ""]
    lines += _made(meta, rows) + ["", "## Counts", "",
             f"- examples: {len(rows)}", f"- papers: {len(papers)}",
             "- question types: " + (", ".join(f"{k} {v}" for k, v in
                                              Counter(r["question_type"] for r in rows).most_common()) or "-"),
             "", "## Score distributions", "", "| | min | median | mean | max | std |",
             "| --- | --- | --- | --- | --- | --- |",
             "| weak avg " + _stats([r["weak_avg"] for r in rows]),
             "| strong avg " + _stats([r["strong_avg"] for r in rows]),
             "| gap " + _stats([r["gap"] for r in rows]), "", *_histogram(rows), "",
             "## Acceptance preset", "", f"Preset `{meta['preset']}`:", "",
             *[f"- `{k}` = {v}" for k, v in (meta.get("thresholds") or {}).items()], "",
             *_licences(rows), "", "## Columns", "",
             *[f"- `{k}`: {v}" for k, v in COLUMN_DOCS.items()], "", "## Loading", "", "```python",
             "from datasets import load_dataset",
             f"ds = load_dataset(\"{'json' if meta['format'] == 'jsonl' else 'parquet'}\", "
             f"data_files=\"{meta['data_file']}\", split=\"train\")  # run inside this folder",
             "```", ""]
    return "\n".join(lines)
