"""The README's rule tables, generated from the constants the world runs on (one source of truth).

Each table sits in inner_loop/sim/README.md between `<!-- generated: NAME -->` and
`<!-- /generated -->`; tests/test_sim_meaning.py fails when the README and the code disagree.
Regenerate with:  python -m inner_loop.sim.tables --write
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from inner_loop.sim import challenger as ch
from inner_loop.sim import edits, implementer, rubric, solver, wording
from inner_loop.sim.analyzer import MISRANK
from inner_loop.sim.phrasings import FEATURES, MACROS

README = Path(__file__).with_name("README.md")
BLOCK = re.compile(r"(<!-- generated: (\w+) -->\n)(.*?)(<!-- /generated -->)", re.DOTALL)


def pct(x: float) -> str:
    return f"{round(100 * x, 1):g}%"


def solvers() -> str:
    rows = ["| solver | p(know fact of specificity s) | wrong claim per answer |", "| --- | --- | --- |"]
    for name, role in (("weak", "Qwen3.5-4B's role"), ("strong", "Qwen3.5-397B's role")):
        k = solver.SKILL[name]
        rows.append(f"| {name} ({role}) | clip({k['base']} − {k['slope']}·s, {k['floor']}, {k['ceil']}) | {pct(k['wrong'])} |")
    rows.append(f"| either, fact stated in the context | {solver.CONTEXT_RECALL} | |")
    return "\n".join(rows)


def challenger() -> str:
    t, e, leak, slips = ch.TARGET, ch.ESCALATE, ch.LEAK, ch.SLIPS
    rows = ["| feature | without it | with it |", "| --- | --- | --- |",
            f"| `self_test` | target specificity {t['plain']} | target {t['self_test']} |",
            f"| `no_leak_strict` | leak rate {pct(leak['mention'])} with a weak mention (`no_leak_mention`), "
            f"{pct(leak['none'])} with none | leak rate {pct(leak['strict'])} |",
            f"| `integer_literal` | {pct(rubric.STRING_WEIGHT)} of examples write one weight as a string (`\"+8\"`) | integers |",
            f"| `strict_json` | {pct(slips['trailing_comma'])} trailing comma, {pct(slips['prose'])} prose around the JSON, "
            f"{pct(slips['fence'])} a ```json fence | bare JSON (also when the request asks for JSON output) |",
            f"| `escalate` | +{e['drift_step']} target specificity per TOO EASY failure (max +{e['drift_max']}) | "
            f"+{e['guided_step']} per TOO EASY failure (max +{e['guided_max']}) |",
            f"| `deescalate` | — | −{e['deescalate_step']} per FAILED ON STRONG failure (max −{e['deescalate_max']}) |",
            "| `new_angle` | may reuse facts of earlier questions | avoids facts sharing ≥ 3 terms with quoted earlier questions |",
            f"| `easy` (harmful) | — | target specificity at most {t['easy_max']}, whatever else the prompt asks |",
            f"| stated cap K | K = {rubric.DEFAULT_CAP} | core items K−1..K; others 2–5 when K > {rubric.FLAT_CAP}, "
            f"min(3, K−1)..K−1 when K ≤ {rubric.FLAT_CAP} (flat) |",
            f"| stated negative items lo–hi | {rubric.HABIT_NEGATIVES[0]}–{rubric.HABIT_NEGATIVES[1]} out of habit "
            "| lo..hi; none when positive-only |",
            "| stated positive items lo–hi | two per answer fact (halves) | thirds, then filler items on the context's "
            "sentences to reach lo..hi; merged items below it; one per fact: halves |",
            f"| `quantitative` question type | any of {len(ch.QUESTION_TYPES)} types | that type; facts with numbers "
            f"weigh ×{ch.NUMBER_FACT_BOOST} when the anchor is drawn |"]
    return "\n".join(rows)


def implementer_table() -> str:
    rows = ["| disposition | probability | what it writes |", "| --- | --- | --- |"]
    what = {"faithful": "the top hypothesis not already in place, understood through the lexicon and perturbed",
            "useless": "a rewording that changes no instruction", "harmful": "easy questions, 2–4 rounds, cap 10 with "
            "3–6 negative items, or 10–15 positive items", "broken": "`$difficulty` or a syntax error in tools.py",
            "protected": "widens the globs in harness.toml (refused)"}
    rows += [f"| {n} | {pct(p)} | {what[n]} |" for n, p in implementer.DISPOSITIONS]
    rows.append(f"| faithful, perturbed | cap moved ±1–3 with {pct(edits.P_PERTURB)}; 1–2 negatives instead of none and a "
                f"new positive count each {pct(edits.P_PERTURB / 2)}; an integer rule added {pct(edits.P_EXTRA_INT)}; "
                f"the verifier twin forgotten {pct(edits.P_FORGET_TWIN)}; hedged wording (ineffective) {pct(edits.P_HEDGED)} | |")
    rows.append(f"| analyzer misranks its top two causes | {pct(MISRANK)} | |")
    return "\n".join(rows)


def wordings() -> str:
    rows = ["| setting | the implementer's phrasings (each read back by the lexicon as that setting) |", "| --- | --- |"]
    for name, opts in wording.SENTENCES.items():
        rows.append(f"| `{name}` | " + " / ".join(f"“{o}”" for o in opts) + " |")
    for name in ("POSITIVES", "PER_FACT", "CAP", "POSITIVE_ONLY", "NEGATIVES", "INTEGER", "ROUNDS", "QTYPE"):
        rows.append(f"| {name.lower()} | " + " / ".join(f"“{o}”" for o in getattr(wording, name)) + " |")
    rows.append("| hedges (ineffective) | " + " / ".join(f"“{o.strip()} …”" for o in wording.HEDGED) + " |")
    return "\n".join(rows)


def phrasings_table() -> str:
    """Every feature's phrasings (regexes over a normalised clause, macros in braces) and the macros."""
    esc = lambda x: x.replace("|", "\\|")  # noqa: E731
    rows = ["| feature | phrasings (each a regex over one normalised clause) |", "| --- | --- |"]
    rows += [f"| `{k}` | " + "<br>".join(f"`{esc(p)}`" for p in v) + " |" for k, v in FEATURES.items()]
    rows += ["", "| macro | concept set |", "| --- | --- |"]
    rows += [f"| `{{{k}}}` | `{esc(v)}` |" for k, v in MACROS.items()]
    return "\n".join(rows)


TABLES = {"phrasings": phrasings_table, "solvers": solvers, "challenger": challenger, "implementer": implementer_table, "wordings": wordings}


def render(text: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + TABLES[m.group(2)]() + "\n" + m.group(4), text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="rewrite the README's generated tables")
    args = ap.parse_args()
    text = README.read_text(encoding="utf-8")
    if args.write:
        README.write_text(render(text), encoding="utf-8")
    else:
        print(render(text))


if __name__ == "__main__":
    main()
