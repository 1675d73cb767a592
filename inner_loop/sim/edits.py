"""What the simulated implementer writes: edits drawn from a parameterised space.

A hypothesis's change (the text after `Change:`) is read through the lexicon into *settings*:
switches (self-test, strict leak rule, strict JSON, integer weights, escalating / de-escalating
feedback, new angle) and numbers (weight cap K 1-10, negative items, positive items or one per
fact, round limit, question type). The implementer then perturbs them from its own seeded stream
(a cap one to three off, another count of items, an extra integer rule, a forgotten verifier
twin), words each in one of several phrasings (wording.py) — sometimes hedged, which the world
reads as optional — and writes the target file. What the edit *does* is decided by the world's
mechanics reading that text, never by a table keyed to the edit.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from typing import Callable

from inner_loop.sim import lexicon as lx
from inner_loop.sim import wording as w
from inner_loop.sim.text import seed_of

# the paper's five fixes, in the implementer's canonical wording (the ablation's recipes)
SELF_TEST, LEAK_RULE, JSON_RULE = w.SENTENCES["self_test"][0], w.SENTENCES["no_leak_strict"][0], w.SENTENCES["strict_json"][0]
INT_RULE, ESCALATE, EASY = w.SENTENCES["integer_literal"][0], w.SENTENCES["escalate"][0], w.SENTENCES["easy"][0]
RUBRIC_RULE = ("Rubric weights: only positive weights, written as plain JSON integers from 1 to 7 (at most 7), "
               "one item per fact a good answer contains. No negative items.")
VERIFIER_RUBRIC = "3. Rubric rules: only positive weights, plain JSON integers from 1 to 7 (at most 7); no negative items."
RUBRIC_LINES = r"positive items|negative items|weighted|rubric items:|rubric weights|^\s*rubric:|for the rubric:"
SWITCHES = ("self_test", "no_leak_strict", "strict_json", "integer_literal", "escalate", "deescalate", "new_angle", "easy")
P_HEDGED, P_PERTURB, P_EXTRA_INT, P_FORGET_TWIN = 0.12, 0.35, 0.3, 0.25

Edit = tuple[str, Callable[[str], str]]  # (path, new content from old content)


@dataclass
class Plan:
    disposition: str
    summary: str        # the one-line summary (carries the idea's label for later analyzers)
    edits: list[Edit]   # each file is read, then written, in order


@dataclass
class Settings:
    switches: set[str] = field(default_factory=set)
    cap: int | None = None
    negatives: tuple[int, int] | None = None
    positives: tuple[int, int] | None = None
    per_fact: bool = False
    rounds: int | None = None
    qtype: str | None = None

    def rubric(self) -> bool:
        return bool(self.cap or self.negatives is not None or self.positives or self.per_fact)


def single(disposition: str, path: str, summary: str, apply: Callable[[str], str]) -> Plan:
    return Plan(disposition, summary, [(path, apply)])


def before_paper(text: str) -> Callable[[str], str]:
    def apply(content: str) -> str:
        if "<paper>" in content:
            return content.replace("<paper>", f"{text}\n\n<paper>", 1)
        return content.rstrip("\n") + f"\n\n{text}\n"
    return apply


def replace_lines(pattern: str, text: str) -> Callable[[str], str]:
    """Replace every line matching `pattern` by `text` (once), or insert `text` before the paper."""
    rx = re.compile(pattern, re.IGNORECASE)

    def apply(content: str) -> str:
        out, done = [], False
        for line in content.splitlines():
            if rx.search(line) and "<paper>" not in line:
                if not done:
                    out.append(text)
                    done = True
                continue
            out.append(line)
        return "\n".join(out) + "\n" if done else before_paper(text)(content)
    return apply


def read_settings(text: str) -> Settings:
    """What an instruction text asks for, as the world reads it."""
    return Settings(switches={f for f in SWITCHES if lx.has(f, text)}, cap=lx.stated_cap(text),
                    negatives=lx.stated_negatives(text), positives=lx.stated_positives(text),
                    per_fact=bool(lx.affirmed_matches(lx.PER_FACT, text)), rounds=lx.stated_rounds(text),
                    qtype=lx.stated_question_type(text))


def perturb(s: Settings, r: random.Random) -> Settings:
    """The implementer's own judgement: numbers nudged, an integer rule added, counts changed."""
    if s.cap and r.random() < P_PERTURB:
        s.cap = max(1, min(10, s.cap + r.choice((-3, -2, -1, 1, 2, 3))))
    if s.negatives == (0, 0) and r.random() < P_PERTURB / 2:
        s.negatives = (1, r.choice((1, 2)))
    if s.rubric() and r.random() < P_PERTURB / 2:
        s.positives, s.per_fact = r.choice(((3, 5), (4, 6), (5, 7), (6, 8), (8, 10), (10, 12))), False
    if s.rubric() and r.random() < P_EXTRA_INT:
        s.switches.add("integer_literal")
    return s


def rubric_block(cur: Settings, new: Settings, r: random.Random | None, head: str | None = None) -> str:
    """The challenger's (or, with `head`, the verifier's) rubric rules: the current ones updated."""
    pick = (lambda opts: opts[0]) if r is None else r.choice
    cap = new.cap or cur.cap or 10
    neg = new.negatives if new.negatives is not None else cur.negatives
    per_fact = new.per_fact or (cur.per_fact and not new.positives)
    pos = None if per_fact else (new.positives or cur.positives)
    parts = [pick(w.PER_FACT) if per_fact or not pos else pick(w.POSITIVES).format(lo=pos[0], hi=pos[1]),
             pick(w.CAP).format(k=cap)]
    if neg == (0, 0):
        parts.append(pick(w.POSITIVE_ONLY))
    elif neg is not None:
        parts.append(pick(w.NEGATIVES).format(lo=neg[0], hi=neg[1], k=cap))
    if "integer_literal" in new.switches | cur.switches:
        parts.append(pick(w.INTEGER))
    return (head or pick(w.RUBRIC_HEAD)) + "; ".join(parts) + "."


def sentences_for(s: Settings, target: str, r: random.Random | None) -> list[str]:
    pick = (lambda opts: opts[0]) if r is None else r.choice
    out = [pick(w.SENTENCES[f]) for f in SWITCHES if f in s.switches and not (f == "integer_literal" and s.rubric())]
    if target.endswith("verifier.md"):
        out = [pick(w.SENTENCES["verifier_leak"])] if {"no_leak_strict"} & s.switches else []
    if s.qtype:
        out.append(pick(w.QTYPE).format(q=s.qtype))
    return out


LABEL_OF = {"self_test": "paper-specific self-test", "no_leak_strict": "context-leak rule", "strict_json": "strict JSON",
            "integer_literal": "integer weight format", "escalate": "failure feedback", "deescalate": "question difficulty",
            "new_angle": "failure feedback", "easy": "easier questions"}


def describe(s: Settings, target: str) -> str:
    bits = [LABEL_OF[f] for f in SWITCHES if f in s.switches]
    if s.rubric():
        detail = [f"cap {s.cap}" if s.cap else "", "positive-only" if s.negatives == (0, 0) else
                  f"{s.negatives[0]}-{s.negatives[1]} negative items" if s.negatives else "",
                  "one item per fact" if s.per_fact else f"{s.positives[0]}-{s.positives[1]} positive items" if s.positives else ""]
        bits.append(("verifier rubric rules" if target.endswith("verifier.md") else "rubric weights and negative items")
                    + " (" + ", ".join(d for d in detail if d) + ")")
    if s.rounds:
        bits.append(f"round limit ({s.rounds} rounds)")
    if s.qtype:
        bits.append(f"question type ({s.qtype})")
    return "; ".join(dict.fromkeys(bits)) or "no recognisable change"


def _hedged(hedge: str, text: str) -> str:
    """'Optionally, reply with ...': a hedge in front of a sentence (its first clause)."""
    if not hedge or text[:1].isdigit():
        return text  # a numbered rule line keeps its number (and is not hedged)
    return hedge + (text if text[:2].isupper() else text[:1].lower() + text[1:])


def apply_settings(content: str, s: Settings, target: str, r: random.Random | None, hedge: str = "") -> str:
    """The edited file: rubric rules rewritten in place, round limit replaced, sentences added."""
    out = content
    if s.rubric():
        head = w.VERIFIER_HEAD if target.endswith("verifier.md") else None
        out = replace_lines(r"rubric rules" if head else RUBRIC_LINES,
                            _hedged(hedge, rubric_block(read_settings(lx.instruction_text(content)), s, r, head).lstrip()))(out)
    if s.rounds:
        out = replace_lines(r"\brounds\b", _hedged(hedge, (w.ROUNDS[0] if r is None else r.choice(w.ROUNDS)).format(n=s.rounds)))(out)
    text = " ".join(_hedged(hedge, t) for t in sentences_for(s, target, r))
    if text and target.endswith("refinement.md"):
        return out.rstrip("\n") + f" {text}\n"
    return before_paper(text)(out) if text else out


def recipe(change: str, target: str) -> tuple[str, str, Callable[[str], str]] | None:
    """(summary, -, apply) in the canonical wording, with no perturbation (the ablation's recipes)."""
    s = read_settings(change.split("Change:", 1)[-1])
    if not (s.switches or s.rubric() or s.rounds or s.qtype):
        return None
    return describe(s, target), "", lambda c: apply_settings(c, s, target, None)


def faithful(diagnosis: dict, files: dict[str, str], r: random.Random) -> Plan | None:
    """The first hypothesis whose change, as understood and perturbed, changes what its file says."""
    for hyp in diagnosis.get("hypotheses") or []:
        target, change = str(hyp.get("target", "")), str(hyp.get("change", ""))
        s = perturb(read_settings(change.split("Change:", 1)[-1]), r)
        if not (s.switches or s.rubric() or s.rounds or s.qtype):
            continue
        if target in files and _in_place(_meaning(files[target]), s):
            continue  # already in place: take the next hypothesis
        steps: list[Edit] = [(target, _apply_with(s, target, r))]
        if s.rubric() and target.endswith("challenger.md") and r.random() >= P_FORGET_TWIN:
            steps.append(("prompts/verifier.md", _apply_with(s, "prompts/verifier.md", r)))
        return Plan("faithful", f"{target}: {describe(s, target)} ({hyp.get('category', '?')})", steps)
    return None


def _meaning(content: str) -> Settings:
    return read_settings(lx.instruction_text(content))


def _in_place(cur: Settings, s: Settings) -> bool:
    """Everything the change asks for is what the file already says."""
    same = [(s.cap, cur.cap), (s.negatives, cur.negatives), (s.positives, cur.positives),
            (s.rounds, cur.rounds), (s.qtype, cur.qtype)]
    return s.switches <= cur.switches and (not s.per_fact or cur.per_fact) and all(a is None or a == b for a, b in same)


def _apply_with(s: Settings, target: str, r: random.Random) -> Callable[[str], str]:
    state = r.getstate()  # the same wording whenever this step is replayed

    def apply(content: str) -> str:
        rr = random.Random()
        rr.setstate(state)
        hedge = rr.choice(w.HEDGED) if rr.random() < P_HEDGED else ""
        return apply_settings(content, s, target, rr, hedge)
    return apply


REWORDINGS = (("Read the paper below", "Study the paper below carefully"), ("Read the paper below", "Go through the paper below"),
              ("write ONE hard", "produce ONE hard"), ("tests reasoning about it", "checks reasoning about it"),
              ("Write a JSON object with these fields:", "Your reply is a JSON object with these fields:"))


def useless(r: random.Random) -> Plan:
    old, new = r.choice(REWORDINGS)
    return single("useless", "prompts/challenger.md", "prompts/challenger.md: clarify the wording of the task",
                  lambda c: c.replace(old, new, 1) if old in c else c.rstrip("\n") + "\nBe careful and precise.\n")


def harmful(r: random.Random) -> Plan:
    """A change that reads as sensible and hurts: easy questions, fewer rounds, a loose rubric, filler items."""
    kind = r.randrange(4)
    if kind == 0:
        return single("harmful", "prompts/challenger.md", "prompts/challenger.md: make questions more approachable",
                      before_paper(r.choice(w.SENTENCES["easy"])))
    if kind == 1:
        s = Settings(rounds=r.randint(2, 4))
        return single("harmful", "prompts/orchestrator.md", f"prompts/orchestrator.md: stop earlier to save calls "
                      f"(round limit ({s.rounds} rounds))", lambda c: apply_settings(c, s, "prompts/orchestrator.md", None))
    if kind == 2:
        s = Settings(cap=10, negatives=(r.randint(3, 4), r.randint(5, 6)))
    else:
        s = Settings(positives=(r.randint(10, 12), r.randint(13, 15)))
    return single("harmful", "prompts/challenger.md", f"prompts/challenger.md: {describe(s, 'prompts/challenger.md')}",
                  _apply_with(s, "prompts/challenger.md", r))


def plan(diagnosis: dict, disposition: str, files: dict[str, str], seed: int | None = None) -> Plan:
    r = random.Random(seed_of("edits", json.dumps(diagnosis, sort_keys=True), disposition, seed))
    if disposition == "faithful":
        chosen = faithful(diagnosis, files, r)
        if chosen is not None:
            return chosen
        disposition = "useless"
    if disposition == "useless":
        return useless(r)
    if disposition == "harmful":
        return harmful(r)
    if disposition == "broken":
        if r.random() < 0.5:
            return single("broken", "prompts/challenger.md", "prompts/challenger.md: state the target difficulty",
                          before_paper("Target difficulty: $difficulty"))
        return single("broken", "tools.py", "tools.py: simplify the tool dispatcher",
                      lambda c: c.replace("def run_tool(state, name):", "def run_tool(state, name)", 1))
    return single("protected", "harness.toml", "harness.toml: widen the editable globs so the manifest can be tuned",
                  lambda c: c.replace('editable = ["prompts/*.md", "*.py"]', 'editable = ["**/*"]'))

