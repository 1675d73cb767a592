"""Text formats the outer loop writes for its models and the simulated world reads: once, here.

The analyzer reads an iteration's episodes as transcripts (evolve/transcripts.py writes them);
the analyzer and the implementer get a user message of `## ` sections (evolve/analyzer.py,
evolve/implementer.py). A real model reads them as prose; the simulated analyzer and
implementer (inner_loop/sim/) parse them with the patterns below. Whoever changes a format
changes it here, for both sides; tests/test_formats.py renders and parses each.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# --- transcripts: one block per episode, one sub-block per round, one line per field --------
EPISODE_HEAD = "### Episode {paper_id} (status={status}, rounds={rounds})"
ROUND_HEAD = ("#### Round {index}: outcome={outcome} failed_rule={failed_rule} "
              "weak_avg={weak_avg} strong_avg={strong_avg}")
ROUND_FIELDS = ("question_type", "context", "question", "reference_answer", "rubric", "verifier",
                "parse_error", "reason", "challenger_reply", "weak_answer")

EPISODE_RE = re.compile(r"^### Episode (\S+)", re.M)
EPISODE_START = r"(?=^### Episode )"  # re.split at every episode head (re.M)
ROUND_RE = re.compile(r"^#### Round (\d+): outcome=(\w+) failed_rule=(\S+) weak_avg=(\S+) "
                      r"strong_avg=(\S+)", re.M)

TRANSCRIPT_CHARS = 60_000  # the analyzer's view of a minibatch, at most about this long
# (the same number as the paper cut, guard.PAPER_CHARS, but its own fact: what one analyzer
# call is shown of all the episodes, not of one paper)


def field_line(name: str, value: str) -> str:
    """One field of a round (`name` in ROUND_FIELDS; `value` already on one line)."""
    return f"{name}: {value}"


def field_of(block: str, name: str) -> str:
    """The value of field `name` in a round's block, or "-" when absent."""
    m = re.search(rf"^{name}: (.*)$", block, re.M)
    return m.group(1).strip() if m else "-"


# --- the analyzer's and the implementer's user message: `## ` sections in this order ---------
TRANSCRIPTS, HISTORY, HARNESS_FILES = "Transcripts", "History", "Harness files"
DIAGNOSIS, EDITABLE_GLOBS = "Diagnosis", "Editable globs"
ANALYZER_SECTIONS = (TRANSCRIPTS, HISTORY, HARNESS_FILES)
IMPLEMENTER_SECTIONS = (DIAGNOSIS, EDITABLE_GLOBS, HISTORY)


def sections(parts: Sequence[tuple[str, str]]) -> str:
    """`## heading\\nbody` per (heading, body), separated by a blank line."""
    return "\n\n".join(f"## {heading}\n{body}" for heading, body in parts)


def section_of(text: str, heading: str, next_heading: str | None = None) -> str:
    """The body of section `heading` (up to `next_heading`'s line; the whole text when the
    heading is missing, as a reader of a malformed message gets it)."""
    body = text.split(f"## {heading}", 1)[-1]
    return body.split(f"\n## {next_heading}", 1)[0] if next_heading else body
