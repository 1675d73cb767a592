"""How a simulated model reads its instructions: clause by clause, for meaning.

A feature (an instruction the world reacts to, phrasings in phrasings.py) is *on* only when some
clause addressed to the reader affirms it. Before any clause is read, the text a model would not
take as instructions is removed: the paper (`<paper>...</paper>`), the refinement's failure lists
(the `- ` lines under TOO EASY / FAILED ON STRONG / FAILED QUALITY CHECK), quotations ("...",
“...”, `...`, fenced blocks), HTML comments, and labelled metadata (a line that opens with
"Keywords:", "Index terms", "Examples of bad prompts:", ..., or says "(not instructions)", and
the list lines that follow such a label). Then each line is cut into clauses (at . ! ? ; and at
", and" / ", but" / "; instead"), and in each clause a match counts unless
- a negation precedes it in the clause ("do not", "never", "no need to", "need not", "without",
  "avoid", "not", ...; NEGATION below), or a clause-final "... is not needed" / "is optional"
  follows it (POST_NEGATION);
- the clause is hedged ("optionally", "if you like", "you may", "feel free", ...; HEDGES);
- the clause is addressed to another role ("The verifier checks each context sentence" does not
  instruct the challenger), when the reader's role is known.
Numbers (a weight cap, a range of negative items, a rubric size, a round limit) are read the
same way: only from affirmed clauses. The README lists every phrasing with examples.
"""

from __future__ import annotations

import re
from functools import lru_cache

from inner_loop.sim.phrasings import FEATURES, expand

NEGATION = re.compile(
    r"\b(?:do not|don't|does not|doesn't|did not|must not|mustn't|should not|shouldn't|never|no need to|"
    r"need not|needn't|there is no need|without|avoid(?:ing)?|not|no longer|refrain from|instead of|"
    r"rather than|skip(?:ping)?|stop(?:ping)?|forget|ignore|neither|nor|cannot|can't|won't|will not|"
    r"it is unnecessary to|unnecessary|do away with|drop(?:ping)? the)\b")
POST_NEGATION = re.compile(
    r"\b(?:is|are|isn't|aren't)? ?(?:not (?:needed|required|necessary|wanted|important)|unnecessary|optional|"
    r"a bad idea|discouraged|forbidden|not allowed|not something you need)\b")
HEDGES = re.compile(
    r"\b(?:optionally|optional|if you like|if you wish|if you want|if you prefer|you may|you might|"
    r"feel free|at your discretion|if convenient|if you have time|perhaps|maybe|up to you)\b")
LABEL = re.compile(
    r"^\W*(?:key ?words?|index terms?|tags?|metadata|topics?|glossary|terms|search terms|"
    r"examples? of (?:bad|poor|wrong|weak) (?:prompts?|instructions?|questions?|examples?)|bad examples?|"
    r"anti[- ]?patterns?|what not to do|changelog|revision history|notes? to self|comments?)\b[^:\n]{0,80}:",
    re.IGNORECASE)
NOT_INSTRUCTIONS = re.compile(r"\((?:[^)]*\b)?not (?:an? )?instructions?\b[^)]*\)|\bnot instructions\b", re.IGNORECASE)
OTHER_ROLE = re.compile(
    r"^(?:the |a |our )?(verifier|judge|weak solver|strong solver|solvers?|orchestrator|analy[sz]er|implementer|"
    r"challenger|reviewer)'?s?\b")
ROLE_NAMES = {"solver": "solver", "solvers": "solver", "analyser": "analyzer"}

PAPER_BLOCK = re.compile(r"<paper>.*?</paper>", re.DOTALL | re.IGNORECASE)
FENCED = re.compile(r"```.*?```", re.DOTALL)
JSON_BLOCK = FENCED  # kept for callers that strip quoted JSON examples
COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
QUOTED = re.compile(r"\"[^\"\n]{0,400}\"|“[^”\n]{0,400}”|`[^`\n]{0,400}`")
FAILURE_HEADING = re.compile(r"^\W*(?:TOO EASY|FAILED ON STRONG|FAILED QUALITY CHECK)\b", re.IGNORECASE)
CLAUSE_SPLIT = re.compile(r"(?<=[.!?;])\s+|;\s*|,\s+(?=(?:and|but|then|instead|while)\b)|(?<!nothing)(?<!anything)\s+but\s+|\.$")
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20}
NUMBER_WORD_RE = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + r")\b")
_COMPILED = {k: tuple(re.compile(expand(p)) for p in v) for k, v in FEATURES.items()}


def _drop_labelled(lines: list[str]) -> list[str]:
    """Metadata lines (a label, or '(not instructions)') and the list lines that follow a bare label."""
    out, in_list = [], False
    for line in lines:
        stripped = line.strip()
        if LABEL.match(stripped) or NOT_INSTRUCTIONS.search(stripped):
            in_list = True
            continue
        if in_list and stripped.startswith(("-", "*", "•")) or in_list and re.match(r"\d+[.)]\s", stripped):
            continue
        in_list = False
        out.append(line)
    return out


def _drop_failures(lines: list[str]) -> list[str]:
    """The failure lists of a refinement message: data about earlier rounds, not instructions."""
    out, in_group = [], False
    for line in lines:
        stripped = line.strip()
        if FAILURE_HEADING.match(stripped):
            in_group = True
            continue
        if in_group and (stripped.startswith(("-", "*")) or not stripped):
            continue
        in_group = False
        out.append(line)
    return out


def instruction_text(text: str) -> str:
    """The text a model would read as instructions (see the module docstring for what goes)."""
    text = COMMENT.sub(" ", FENCED.sub(" ", PAPER_BLOCK.sub(" ", text)))
    lines = _drop_failures(_drop_labelled(text.splitlines()))
    return "\n".join(QUOTED.sub(" ", line) for line in lines)


def normalise(clause: str) -> str:
    s = clause.replace("’", "'").replace("‘", "'").lower()
    s = NUMBER_WORD_RE.sub(lambda m: str(NUMBER_WORDS[m.group(1)]), s)
    return re.sub(r"\s+", " ", s).strip()


@lru_cache(maxsize=256)
def clauses(text: str, role: str | None = None) -> tuple[str, ...]:
    """The normalised clauses of `text` that are instructions to `role` (None: to whoever reads)."""
    out = []
    for line in instruction_text(text).splitlines():
        for raw in CLAUSE_SPLIT.split(line):
            c = normalise(raw.strip(" -*•\t"))
            if not c:
                continue
            m = OTHER_ROLE.match(c)
            addressee = ROLE_NAMES.get(m.group(1), m.group(1)) if m else None
            if role is not None and addressee not in (None, role, role.split("_")[-1]):
                continue
            out.append(c)
    return tuple(out)


def affirmed(match: re.Match, clause: str) -> bool:
    """A match counts when nothing before it in the clause negates it, nothing after it says it is
    not needed, and the clause is not hedged."""
    before, after = clause[: match.start()], clause[match.end():]
    return not (NEGATION.search(before) or POST_NEGATION.search(after[:60]) or HEDGES.search(clause))


def affirmed_matches(pattern: re.Pattern, text: str, role: str | None = None) -> list[tuple[re.Match, str]]:
    found = []
    for clause in clauses(text, role):
        for m in pattern.finditer(clause):
            if affirmed(m, clause):
                found.append((m, clause))
    return found


def has(feature: str, text: str, role: str | None = None) -> bool:
    return any(affirmed_matches(p, text, role) for p in _COMPILED[feature])


@lru_cache(maxsize=256)
def features(text: str, role: str | None = None) -> frozenset[str]:
    return frozenset(name for name in FEATURES if has(name, text, role))


# --- numbers an instruction states (read from affirmed clauses only) ---------------------------
WEIGHTY = re.compile(r"\bweight|\bpoints?\b|\bscale\b|\bscores?\b")
CAP_PATTERNS = tuple(re.compile(p) for p in (
    r"(?<![\d.\-])\+?1\s?(?:-|–|\.\.|to)\s?\+?(\d{1,2})\b(?!\s?(?:negative|rounds?|items|positive|criteria|%))",
    r"\bbetween \+?1 and \+?(\d{1,2})\b",
    r"\b(?:at most|maximum(?: of| is)?|max(?:imum)? weight(?: of| is)?|capped at|cap(?: of| at| them at)?|"
    r"no (?:more|higher|larger|greater|bigger) than|not (?:exceed(?:ing)?|above|over|more than)|up to|"
    r"never (?:above|over|more than|exceeding)|limit(?:ed)? (?:of|to)|ceiling of|≤|<=) \+?(\d{1,2})\b"
    r"(?![\-–.]?\d)(?!\s?(?:-|–|to|rounds?|items|negative|positive|criteria|%))",
    r"\bcap (?:every|each|all|the|all the) (?:weights?|items?|scores?) at \+?(\d{1,2})\b",
    r"\b(\d{1,2}) (?:or (?:less|lower|fewer)|at most|is the (?:maximum|cap|ceiling|highest))\b",
    r"\b(?:no|none|never) (?:\w+ )?(?:above|over|higher than|greater than|larger than|exceeding) \+?(\d{1,2})\b"
    r"(?!\s?(?:rounds?|items|negative|positive|criteria|%))",
))
NEG_RANGE = re.compile(r"\b(\d{1,2})\s?(?:-|–|to)\s?(\d{1,2}) negative")
NEG_COUNT = re.compile(r"(?<![\d\-–.])(?<!to )\b(?:exactly |only |use |include |add |write |at least )?(\d{1,2}) negative (?:items|criteria|weights)")
POS_RANGE = re.compile(r"\b(\d{1,2})\s?(?:-|–|to)\s?(\d{1,2}) positive")
POS_COUNT = re.compile(r"(?<![\d\-–.])(?<!to )\b(?:exactly |only |use |about |at most )?(\d{1,2}) positive (?:items|criteria)")
PER_FACT = re.compile(r"\b(?:1|a single|an?) (?:rubric )?(?:item|criterion) (?:per|for each|for every) (?:key )?(?:fact|point|claim)")
ROUNDS = re.compile(r"\b(?:at most|up to|no more than|a maximum of|a limit of|only|within|stop after) (\d{1,2}) rounds")
QTYPE = re.compile(r"\b(counterfactual|quantitative|comparative|mechanism|mechanistic|causal)\b.{0,30}?\bquestions?")


def _numbers(pattern: re.Pattern, text: str, role: str | None, need: re.Pattern | None = None) -> list[tuple[int, ...]]:
    out = []
    for m, clause in affirmed_matches(pattern, text, role):
        if need is None or need.search(clause):
            out.append(tuple(int(g) for g in m.groups() if g is not None))
    return out


def stated_cap(text: str, role: str | None = None) -> int | None:
    """The highest positive weight the instructions allow (the strictest one stated), e.g. '+1..+10'."""
    caps = [g[0] for p in CAP_PATTERNS for g in _numbers(p, text, role, WEIGHTY) if 1 <= g[0] <= 10]
    return min(caps) if caps else None


def stated_negatives(text: str, role: str | None = None) -> tuple[int, int] | None:
    """How many negative items the instructions ask for: (lo, hi), (0, 0) when positive-only."""
    if has("positive_only", text, role):
        return (0, 0)
    ranges = [(min(a, b), max(a, b)) for a, b in _numbers(NEG_RANGE, text, role)]
    ranges += [(n, n) for (n,) in _numbers(NEG_COUNT, text, role)]
    return (min(lo for lo, _ in ranges), min(hi for _, hi in ranges)) if ranges else None


def stated_positives(text: str, role: str | None = None) -> tuple[int, int] | None:
    """How many positive items the instructions ask for, or None ('one item per fact' is None)."""
    if any(affirmed_matches(PER_FACT, text, role)):
        return None
    ranges = [(min(a, b), max(a, b)) for a, b in _numbers(POS_RANGE, text, role)]
    ranges += [(n, n) for (n,) in _numbers(POS_COUNT, text, role)]
    return ranges[-1] if ranges else None


def stated_rounds(text: str, role: str | None = None) -> int | None:
    found = [g[0] for g in _numbers(ROUNDS, text, role)]
    return min(found) if found else None


def stated_question_type(text: str, role: str | None = None) -> str | None:
    found = [m.group(1) for m, _ in affirmed_matches(QTYPE, text, role)]
    return found[-1] if found else None
