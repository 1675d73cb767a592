"""The round rules of an episode, in one place: the agentic dispatcher and the CoT baseline.

What a round is: one example under evaluation. A round starts with a challenger call, or with
the weak evaluation of an example that no open round holds (an example the harness wrote
itself): each evaluation of a new example is a round, with or without a challenger call. The
round budget (`max_rounds`) bounds both, so it bounds evaluations: an episode samples the
solvers on at most `max_rounds` distinct examples.

What counts as the same example: `example_key` — context, question, reference answer and
rubric (criteria and weights, in any order) compared after normalising Unicode, whitespace,
punctuation and case. A near-duplicate gets the recorded result of the first evaluation back
and is evaluated (and accepted) as that first example; it is never sampled again, so padding a
question with `?` or spaces buys no fresh samples.

Outcomes: `settle` (weak and strong evaluations), `settle_guard` (the final guard) and
`finalise` (rounds that ended without a verdict) are the only code that writes an outcome.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass

from inner_loop.episode import RoundRecord
from inner_loop.evaluation import SolverEval
from inner_loop.example import Example
from inner_loop.guard import GuardResult

_NON_WORD = re.compile(r"[\W_]+")


def normalise(text: str) -> str:
    """NFKC, case-folded, punctuation and every kind of whitespace folded to single spaces."""
    return " ".join(_NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split())


def example_key(example: Example) -> str:
    """The near-duplicate address: equal for examples that differ only in whitespace,
    punctuation, case, rubric order, category, question type or reasoning skills."""
    rubric = sorted((normalise(item.criterion), item.weight) for item in example.rubric)
    blob = json.dumps([normalise(example.context), normalise(example.question),
                       normalise(example.reference_answer), rubric], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


@dataclass
class Slot:
    """One evaluated example: its round, the example as first evaluated, and its verdicts."""

    round: RoundRecord
    example: Example
    weak: SolverEval | None = None
    strong: SolverEval | None = None
    guard: GuardResult | None = None


class RoundBook:
    """The rounds of one episode and which example each one evaluates."""

    def __init__(self, max_rounds: int):
        self.max_rounds = max_rounds
        self.rounds: list[RoundRecord] = []
        self._slots: dict[str, Slot] = {}  # example_key -> its one evaluation
        self._proposed: dict[str, RoundRecord] = {}  # example_key -> challenger round
        self._evaluated: set[int] = set()  # indexes of rounds that hold an evaluated example

    def budget_error(self) -> str:
        return (f"round budget spent: max_rounds={self.max_rounds} (each challenger call and "
                "each evaluation of a new example is a round)")

    def _open(self) -> RoundRecord | None:
        if len(self.rounds) >= self.max_rounds:
            return None
        rnd = RoundRecord(index=len(self.rounds) + 1)
        self.rounds.append(rnd)
        return rnd

    def open_challenger(self) -> RoundRecord | None:
        """A new round for a challenger call; None when the budget is spent."""
        return self._open()

    def propose(self, rnd: RoundRecord, example: Example) -> None:
        """The challenger's example of `rnd`: evaluating it later fills that round."""
        self._proposed.setdefault(example_key(example), rnd)

    def open_round(self) -> RoundRecord | None:
        """The latest round when it has evaluated nothing yet (an invalid example is charged to
        it), else None."""
        last = self.rounds[-1] if self.rounds else None
        return last if last is not None and last.index not in self._evaluated else None

    def slot(self, example: Example) -> Slot | None:
        """The recorded evaluation of this example or a near-duplicate of it."""
        return self._slots.get(example_key(example))

    def claim(self, example: Example) -> Slot | None:
        """A new slot for an example never evaluated: the challenger round that proposed it, else
        the latest round if it holds no evaluation, else a new round; None when spent."""
        key = example_key(example)
        rnd = self._proposed.get(key)
        if rnd is None or rnd.index in self._evaluated:
            rnd = self.open_round() or self._open()
        if rnd is None:
            return None
        self._evaluated.add(rnd.index)
        self._slots[key] = slot = Slot(round=rnd, example=example)
        return slot


def settle(rnd: RoundRecord, example: Example, weak: SolverEval,
           strong: SolverEval | None = None) -> None:
    """The outcome of a round's evaluations: weak failed -> too_easy; the full decision failed
    -> failed_on_strong; otherwise still open (`abandoned` until the guard or finalise)."""
    rnd.example, rnd.weak, rnd.strong = example, weak, strong
    if not weak.passed:
        rnd.outcome, decisive = "too_easy", weak
    elif strong is not None and not strong.passed:
        rnd.outcome, decisive = "failed_on_strong", strong
    else:
        rnd.outcome, decisive = "abandoned", strong or weak
    rnd.failed_rule, rnd.reason = decisive.failed_rule, decisive.detail or None


def settle_guard(rnd: RoundRecord, guard: GuardResult) -> bool:
    """A round that passed weak and strong, judged by the final guard; True when accepted."""
    if not guard.passed:
        rnd.outcome, rnd.guard_problems = "failed_final_guard", list(guard.problems)
        return False
    rnd.outcome, rnd.failed_rule, rnd.reason, rnd.guard_problems = "accepted", None, None, []
    return True


def finalise(rounds: list[RoundRecord]) -> None:
    """Rounds left `abandoned` get the reason why (or the verifier's or parser's verdict)."""
    for rnd in rounds:
        if rnd.outcome != "abandoned":
            continue
        if rnd.weak is not None:
            rnd.reason = ("weak check passed; the strong solver was never run"
                          if rnd.strong is None else "passed; never submitted")
        elif rnd.verifier_verdict == "FAIL":
            rnd.outcome = "failed_quality_check"
            feedback = " ".join((rnd.verifier_feedback or "FAIL").split())
            rnd.reason = "verifier: " + feedback[:300]
        elif rnd.parse_error:
            rnd.outcome, rnd.reason = "parse_error", rnd.parse_error
        elif rnd.verifier_feedback is not None and rnd.verifier_verdict is None:
            reply = " ".join(rnd.verifier_feedback.split())[:200] or "(empty)"
            rnd.reason = ("the example parsed but was never evaluated; the verifier's reply "
                          f"held no PASS/FAIL verdict: {reply}")
        else:
            rnd.reason = "the example parsed but was never evaluated"
