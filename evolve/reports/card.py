"""The data card (README.md) of an exported dataset: how it was made, counts, score
distributions, the thresholds (their preset and values), licences of the source papers, columns,
and a SIMULATED warning when the examples came from the simulated model world."""

from __future__ import annotations

import json
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
    "source / run_id / candidate_id / method": "provenance: evolve or generate, the run and candidate",
    "harness_commit": "the harness's git commit (evolve exports; null for generate)",
    "harness_digest": "sha256 of the harness files (generate exports; null for evolve)",
    "iteration": "the iteration whose evaluation scored the row (evolve; null for generate)",
    "repeat": "which evaluation of the paper by this harness: 0 = its first, 1 = the second, ...",
    "repeat_key": "the run's repeat number (iteration x repeats + r) that seeded the samples",
    "rounds_used": "the round of the episode that was accepted",
    "preset / thresholds_json / simulated": "the thresholds it passed; whether the sim answered",
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


_DTYPES = {"VARCHAR": "string", "BIGINT": "int64", "INTEGER": "int32", "DOUBLE": "float64",
           "BOOLEAN": "bool"}
SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                   (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"))
LICENSE_NAME = "source-paper-licences"
LICENSE_FILE = "LICENSE.md"


def _fields(struct: str) -> list[tuple[str, str]]:
    """`STRUCT(a T, b STRUCT(c U)[])` -> [(a, T), (b, STRUCT(c U)[])] (top-level commas only)."""
    depth, current, out = 0, "", []
    for ch in struct[len("STRUCT("):-1]:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            out.append(current.strip())
            current = ""
        else:
            current += ch
    return [tuple(f.split(" ", 1)) for f in [*out, current.strip()]]  # type: ignore[misc]


def _feature(name: str, duck: str, indent: int) -> list[str]:
    """One `dataset_info.features` entry (the YAML `datasets` writes) for a DuckDB column type."""
    pad = " " * (indent + 2)
    lines = [" " * indent + f"- name: {name}"]
    inner, is_list = (duck[:-2], True) if duck.endswith("[]") else (duck, False)
    if inner.startswith("STRUCT("):
        lines.append(pad + ("list:" if is_list else "struct:"))
        for field, typ in _fields(inner):
            lines += _feature(field, typ, indent + 2)
    elif is_list:
        lines.append(pad + f"list: {_DTYPES[inner]}")
    else:
        lines.append(pad + f"dtype: {_DTYPES[inner]}")
    return lines


def size_category(n: int) -> str:
    return next((label for bound, label in SIZE_CATEGORIES if n < bound), "n>10M")


def _front_matter(meta: dict[str, Any], rows: Sequence[dict[str, Any]],
                  columns: dict[str, str]) -> list[str]:
    """YAML front matter the Hub, `huggingface_hub.DatasetCard` and `datasets.load_dataset(DIR)`
    read: `configs:` (where the data is), `dataset_info` (every column's type, the counts),
    licence, size and task categories. JSON strings are valid YAML scalars: no value can break it."""
    tags = ["autodata", "synthetic", "rubric", "grpo"] + (["simulated"] if meta["simulated"] else [])
    size = meta.get("data_bytes", 0)
    name = json.dumps(f"Autodata examples ({meta.get('run_id') or meta['source']})")
    lines = ["---", f"pretty_name: {name}", "license: other", f"license_name: {LICENSE_NAME}",
             f"license_link: {LICENSE_FILE}", "language:", "- en", "annotations_creators:",
             "- machine-generated", "language_creators:", "- machine-generated",
             "multilinguality:", "- monolingual", "source_datasets:", "- original",
             "size_categories:", f"- {size_category(len(rows))}", "task_categories:",
             "- question-answering", "- text-generation", "tags:", *[f"- {t}" for t in tags],
             "configs:", "- config_name: default", "  data_files:", "  - split: train",
             f"    path: {meta['data_file']}", "dataset_info:", "  features:"]
    for column, duck in columns.items():
        lines += _feature(column, duck, 2)
    return lines + ["  splits:", "  - name: train", f"    num_bytes: {size}",
                    f"    num_examples: {len(rows)}", f"  download_size: {size}",
                    f"  dataset_size: {size}", "---", ""]


def licence_file(rows: Sequence[dict[str, Any]]) -> str:
    """LICENSE.md of an export (the card's `license_link`): the licence of each source paper."""
    papers = sorted({(r["paper_id"], r["paper_license"]) for r in rows})
    lines = ["# Licences", "", "Each row quotes its source paper (in `context`, `reference_answer` and "
             "the rubric); the row's `paper_license` is the licence of that paper's text, and it "
             "governs the row. Rows whose paper has no open licence are for research use only.", "",
             "| paper_id | licence |", "| --- | --- |"]
    return "\n".join(lines + [f"| {pid} | {lic} |" for pid, lic in papers] + [""])


def _made(meta: dict[str, Any], rows: Sequence[dict[str, Any]]) -> list[str]:
    if meta["source"] == "evolve":
        how = (f"Accepted validation episodes of harness commit `{meta['harness_commit']}` "
               f"(candidate `{meta['candidate_id']}`, iteration {meta['iteration']}) of evolution run "
               f"`{meta['run_id']}` (`{meta['path']}`). That harness's validation pass rate is "
               f"{_pct(meta['pass_rate'])} over {meta['n_evaluations']} evaluations; each accepted "
               "episode (every repeat) is one row.")
    else:
        how = (f"The accepted examples of `autodata generate` output `{meta['path']}` (method "
               f"`{meta.get('method')}`, harness digest `{meta['harness_digest']}`); acceptance rate "
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


def data_card(rows: Sequence[dict[str, Any]], meta: dict[str, Any], columns: dict[str, str]) -> str:
    papers = {r["paper_id"] for r in rows}
    lines = _front_matter(meta, rows, columns)
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
             "## Thresholds", "", f"Preset `{meta['preset']}`:", "",
             *[f"- `{k}` = {v}" for k, v in (meta.get("thresholds") or {}).items()], "",
             *_licences(rows), "", "## Columns", "",
             *[f"- `{k}`: {v}" for k, v in COLUMN_DOCS.items()], "", "## Loading", "", "```python",
             "from datasets import load_dataset",
             "ds = load_dataset(\".\", split=\"train\")  # inside this folder, or its path or Hub repo id",
             "```", "", "The card's `dataset_info` types every column, so the JSONL and the Parquet "
             "export of one source load with identical features (`concatenate_datasets` joins them).",
             ""]
    return "\n".join(lines)
