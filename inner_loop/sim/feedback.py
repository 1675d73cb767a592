"""What a simulated challenger reads out of a refinement message (earlier failures of this paper).

The harness renders earlier failures under the headings TOO EASY, FAILED ON STRONG and
FAILED QUALITY CHECK, one `- ` line per failed round. The sim counts the entries, collects the
quoted earlier questions (to avoid repeating them when asked for a new angle) and the stated
reasons (a leak or a rubric rule named in a quality failure is taken into account).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

HEADINGS = {
    "too_easy": re.compile(r"^\W*TOO EASY", re.IGNORECASE),
    "failed_on_strong": re.compile(r"^\W*FAILED ON STRONG", re.IGNORECASE),
    "failed_quality_check": re.compile(r"^\W*FAILED QUALITY CHECK", re.IGNORECASE),
}
SCORE_RE = re.compile(r"weak(?:[ _]avg)?\s*[=:]\s*(\d(?:\.\d+)?)", re.IGNORECASE)


@dataclass
class Feedback:
    counts: dict[str, int] = field(default_factory=lambda: {k: 0 for k in HEADINGS})
    questions: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    weak_scores: list[float] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def mentions(self, word: str) -> bool:
        return any(word in r.lower() for r in self.reasons)


def read_feedback(text: str) -> Feedback:
    fb = Feedback()
    current: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        heading = next((k for k, rx in HEADINGS.items() if rx.match(line)), None)
        if heading:
            current = heading
            continue
        if not line.startswith(("-", "*")):
            if line:
                current = None  # any other non-empty line ends the group
            continue
        if current is None:
            continue
        fb.counts[current] += 1
        body = line.lstrip("-* ").strip()
        question, _, reason = body.partition(" | ")
        fb.questions.append(question.removeprefix("Q:").strip())
        if reason:
            fb.reasons.append(reason)
        m = SCORE_RE.search(body)
        if m:
            fb.weak_scores.append(float(m.group(1)))
    return fb
