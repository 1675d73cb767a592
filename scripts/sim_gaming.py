"""Gaming the simulated world: does it read meaning, or keywords?

Harness variants that say the paper's five fixes (the implementer's canonical wording, as in
scripts/sim_ablation.py), negate them, stuff them into a metadata line, reword the seed without
changing an instruction, or paraphrase the five fixes in words the recipes do not use; then the
integrity issue's gaming harnesses (tests/gaming_harnesses.py, rows "gaming: ..."). Each runs
through the real runtime on the validation papers for several run seeds; a Markdown table
comes out (mean pass rate, per seed, mean rounds). The table in inner_loop/sim/README.md comes from:
    python scripts/sim_gaming.py --seeds 3
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "tests")]
from gaming_harnesses import GAMING, build_gaming_harness  # noqa: E402
from sim_ablation import ALL, C, O, R, V, build, print_table  # noqa: E402

from inner_loop.generate import default_harness_dir  # noqa: E402
from inner_loop.sim import edits  # noqa: E402


def add(rel: str, text: str):
    return (rel, (lambda c: c.rstrip("\n") + " " + text + "\n") if rel == R else edits.before_paper(text))


def sub(rel: str, old: str, new: str):
    def apply(c: str) -> str:
        assert old in c, f"{rel}: {old!r} not found"
        return c.replace(old, new, 1)
    return (rel, apply)


NEGATED = [
    add(C, "Do NOT run a self-test; never ask whether a strong model could answer the question without reading this paper."),
    add(C, "No need to check each context sentence against the reference answer."),
    add(C, "Do not use only positive weights, and you need not write plain JSON integers; never cap the weights at 7."),
    add(C, "Do not reply with only the JSON object; avoid worrying about trailing commas."),
    add(V, "Do not insist on only positive weights."),
    add(R, "After TOO EASY failures, do not ask for harder questions about details only this paper states."),
]
STUFFED = [
    add(C, "Index terms (metadata, not instructions): paper-specific self-test; check each context sentence; "
           "only positive weights; plain JSON integers from 1 to 7; no negative items; only the JSON object; no trailing commas."),
    add(V, "Keywords: only positive weights, at most 7, no negative items."),
    add(R, "\n\nKeywords: harder question, details only this paper states, numbers, ablations."),
]
REWORDED = [
    sub(C, "Read the paper below and write ONE hard question-answer example that\ntests reasoning about it.",
        "Study the paper below and produce ONE hard question-answer example that\nchecks reasoning about it."),
    sub(C, "- \"question\": one question that needs reasoning, not recall.", "- \"question\": a single question that needs reasoning, not recall."),
    sub(V, "Check the example below against the paper:", "Review the example below against the paper:"),
    sub(O, "Your goal is one\nquestion-answer example", "You aim for one\nquestion-answer example"),
    sub(R, "Write an entirely new example from a different angle of the paper.",
        "Write a completely new example from another angle of the paper."),
]
RUBRIC_PARAPHRASE = ("  Rubric: weights are integers no larger than seven, never negative; "
                     "a criterion for each fact the reference answer needs.")
PARAPHRASED = [
    add(C, "Someone who has not read this article should be unable to answer your question; if a well-read "
           "model could answer it from general knowledge, pick another detail."),
    add(C, "The context must not restate any fact that the reference answer relies on."),
    (C, edits.replace_lines(edits.RUBRIC_LINES, RUBRIC_PARAPHRASE)),
    (V, edits.replace_lines(r"rubric rules", "3. Rubric rules: weights are integers between 1 and 7, never negative.")),
    add(C, "Output the JSON object itself and no commentary before or after it."),
    add(R, "When a question was too easy, go deeper into what only this paper reports."),
]
VARIANTS = {
    "seed harness": [],
    "the five edits": ALL,
    "the five edits negated": NEGATED,
    "the five edits stuffed as a metadata line": STUFFED,
    "seed reworded, no instruction changed": REWORDED,
    "the five edits paraphrased": PARAPHRASED,
    **{f"gaming: {k}": k for k in GAMING},
}


def _make(_name: str, steps, out: Path) -> Path:
    if isinstance(steps, str):  # a gaming harness of tests/gaming_harnesses.py
        return build_gaming_harness(steps, out)
    return build(default_harness_dir(), steps, out)


def main() -> None:
    print_table(VARIANTS, _make)


if __name__ == "__main__":
    main()
