"""What the simulated implementer writes: edit recipes keyed by the lexicon features of a change.

A hypothesis's `change` text is read through lexicon.features(); each recognised idea has one
recipe (the text a competent engineer would add or rewrite). Recipes check the file they edit:
an idea already present is skipped in favour of the next hypothesis.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable

from inner_loop.sim.lexicon import features
from inner_loop.sim.text import rng

SELF_TEST = ("Paper-specific self-test: before you finalise, ask whether a strong model could answer the "
             "question without reading this paper. If it could, replace it with a question about a detail "
             "only this paper states.")
LEAK_RULE = ("Context rule: none of the answer's key facts may appear in the context. Check each context "
             "sentence against the reference answer before you reply.")
RUBRIC_RULE = ("Rubric weights: only positive weights, written as plain JSON integers from 1 to 7 (at most 7), "
               "one item per fact a good answer contains. No negative items.")
INT_RULE = "Write every weight as plain JSON integers: no plus signs, never as strings."
JSON_RULE = "Reply with only the JSON object: no prose before or after it, no trailing commas."
ESCALATE = ("For TOO EASY failures, ask a harder question about details only this paper states (numbers, "
            "ablations, design choices).")
VERIFIER_RUBRIC = "3. Rubric rules: only positive weights, plain JSON integers from 1 to 7 (at most 7); no negative items."
EASY = "Prefer simple, accessible questions about the main idea of the paper."


Edit = tuple[str, Callable[[str], str]]  # (path, new content from old content)


@dataclass
class Plan:
    disposition: str
    summary: str        # the one-line summary (carries the idea's label for later analyzers)
    edits: list[Edit]   # each file is read, then written, in order


def single(disposition: str, path: str, summary: str, apply: Callable[[str], str]) -> Plan:
    return Plan(disposition, summary, [(path, apply)])


def before_paper(text: str) -> Callable[[str], str]:
    def apply(content: str) -> str:
        if "<paper>" in content:
            return content.replace("<paper>", f"{text}\n\n<paper>", 1)
        return content.rstrip("\n") + f"\n\n{text}\n"
    return apply


def replace_lines(pattern: str, text: str) -> Callable[[str], str]:
    """Replace every line matching `pattern` by `text` (once), or append `text`."""
    rx = re.compile(pattern, re.IGNORECASE)

    def apply(content: str) -> str:
        lines, out, done = content.splitlines(), [], False
        for line in lines:
            if rx.search(line):
                if not done:
                    out.append(text)
                    done = True
                continue
            out.append(line)
        return "\n".join(out) + "\n" if done else before_paper(text)(content)
    return apply


def recipe(change: str, target: str) -> tuple[str, str, Callable[[str], str]] | None:
    """(label, feature that proves it is in place, apply) for a change aimed at `target`.
    The rubric rule for the challenger comes with its twin for the verifier (see `faithful`)."""
    f = features(change)
    if target.endswith("verifier.md") and {"positive_only", "cap_7"} & f:
        return "verifier rubric rules", "positive_only", replace_lines(r"rubric rules|negative", VERIFIER_RUBRIC)
    if target.endswith("refinement.md") and "escalate" in f:
        return "escalating feedback", "escalate", lambda c: c.rstrip("\n") + f" {ESCALATE}\n"
    if not target.endswith("challenger.md"):
        return None
    if "self_test" in f:
        return "paper-specific self-test", "self_test", before_paper(SELF_TEST)
    if "no_leak_strict" in f:
        return "context-leak rule", "no_leak_strict", before_paper(LEAK_RULE)
    if {"positive_only", "cap_7"} & f:
        return "positive-only weights capped at 7", "positive_only", replace_lines(r"negative|\+1\.\.\+10|weighted -1", "  " + RUBRIC_RULE)
    if "integer_literal" in f:
        return "integer weight format", "integer_literal", before_paper(INT_RULE)
    if "strict_json" in f:
        return "strict JSON", "strict_json", before_paper(JSON_RULE)
    return None


def faithful(diagnosis: dict, files: dict[str, str]) -> Plan | None:
    for hyp in diagnosis.get("hypotheses") or []:
        target, change = str(hyp.get("target", "")), str(hyp.get("change", ""))
        found = recipe(change, target)
        if found is None:
            continue
        label, proof, apply = found
        if target in files and proof in features(files[target]):
            continue  # already in place: take the next hypothesis
        steps: list[Edit] = [(target, apply)]
        if label == "positive-only weights capped at 7":  # keep the verifier's rules consistent
            steps.append(("prompts/verifier.md", replace_lines(r"rubric rules|negative", VERIFIER_RUBRIC)))
        return Plan("faithful", f"{target}: {label} ({hyp.get('category', '?')})", steps)
    return None


def plan(diagnosis: dict, disposition: str, files: dict[str, str]) -> Plan:
    r = rng("edits", json.dumps(diagnosis, sort_keys=True), disposition)
    if disposition == "faithful":
        chosen = faithful(diagnosis, files)
        if chosen is not None:
            return chosen
        disposition = "useless"
    if disposition == "useless":
        return single("useless", "prompts/challenger.md", "prompts/challenger.md: clarify the wording of the task",
                    lambda c: c.replace("Read the paper below", "Study the paper below carefully", 1) if "Read the paper below" in c else c + "\nBe careful and precise.\n")
    if disposition == "harmful":
        if r.random() < 0.5:
            return single("harmful", "prompts/challenger.md",
                          "prompts/challenger.md: make questions more approachable", before_paper(EASY))
        return single("harmful", "prompts/orchestrator.md", "prompts/orchestrator.md: stop earlier to save calls",
                    replace_lines(r"at most .* rounds", "You have at most 2 rounds."))
    if disposition == "broken":
        if r.random() < 0.5:
            return single("broken", "prompts/challenger.md", "prompts/challenger.md: state the target difficulty",
                          before_paper("Target difficulty: $difficulty"))
        return single("broken", "tools.py", "tools.py: simplify the tool dispatcher",
                      lambda c: c.replace("def run_tool(state, name):", "def run_tool(state, name)", 1))
    return single("protected", "harness.toml", "harness.toml: widen the editable globs so the manifest can be tuned",
                  lambda c: c.replace('editable = ["prompts/*.md", "*.py"]', 'editable = ["**/*"]'))
