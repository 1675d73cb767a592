"""The final guard (protected): the last filter on an accepted example (paper §2, step 7).

It judges the example, never the harness's word about it. Three stages, in order; the first that
finds problems decides, later ones are skipped:
1. `structural_problems`: rubric size and weights, duplicates, empty fields, skills count, and
   `style_problems`: every criterion checks content, not style or format (the documented
   STYLE_CRITERION_LEXICON: "reasons step by step", "uses bullet points", "is concise", "is well
   organised", length limits). A style item is met by the strong solver's habits, not by
   knowing the paper, so it buys a weak/strong gap without better data.
2. `solver_instruction_problems` on the context AND the question: neither may instruct the
   solver how to answer (solvers read both). The paper's known reward hack was a harness telling
   the weak solver to "be weak"; asking for a short, unexplained or role-played answer games the
   weak/strong gap the same way. SOLVER_INSTRUCTION_LEXICON lists such phrasings.
3. A protected verifier pass (role `verifier`, prompt `final_verifier.md`) that reads the paper
   (cut at PAPER_CHARS) and checks its four points: no leak, reasoning grounded in this paper
   (the reference answer too), every positive criterion grounded and about content, no solver
   instructions. JSON verdict `{"verdict": "PASS"|"FAIL", "problems": [...]}`. An unparseable
   reply is re-asked; when none parses, or the call fails, InfrastructureError is raised: an
   outage is never a FAIL.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from inner_loop.config import Config
from inner_loop.evaluation import INFRA_ATTEMPTS, InfrastructureError, ask_json
from inner_loop.example import Example
from inner_loop.llm.protocol import Client
from inner_loop.llm.types import FatalLLMError
from inner_loop.papers import Paper
from inner_loop.parsing import parse_verifier_reply
from inner_loop.prompting import final_verifier_messages
from inner_loop.strict import Strict

MIN_RUBRIC_ITEMS = 3
MAX_RUBRIC_ITEMS = 20
MIN_SKILLS, MAX_SKILLS = 1, 5
PAPER_CHARS = 60_000  # the paper as the verifier reads it (the seed harness's cut, cot.py's too)

_N = r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|a single|a few)"
_UNITS = r"(?:words?|sentences?|lines?|tokens?|characters?|paragraphs?|bullet points?)"

# name -> regex of a phrasing that instructs the solver about length, effort, style or identity
SOLVER_INSTRUCTION_LEXICON: dict[str, str] = {
    "answer briefly": r"\b(?:answer|respond|reply)\s+(?:very\s+)?(?:briefly|concisely|tersely)\b",
    "in N sentences/words": rf"\bin\s+(?:just\s+|only\s+|exactly\s+)?{_N}\s+{_UNITS}\b",
    "be concise": r"\bbe\s+(?:very\s+)?(?:concise|brief|terse|succinct)\b",
    "keep it short": r"\bkeep\s+(?:it|your\s+(?:answer|response|reply))\s+(?:very\s+)?"
                     r"(?:short|brief|concise)\b",
    "do not explain": r"\b(?:do\s+not|don'?t|never)\s+(?:explain|elaborate|justify)\b"
                      r"|\bwithout\s+(?:any\s+)?(?:explanation|elaboration|justification)\b"
                      r"|\bno\s+explanations?\s+(?:needed|required|necessary)\b",
    "don't show your work": r"\b(?:do\s+not|don'?t)\s+(?:show|include|give|write)\s+(?:out\s+)?"
                            r"(?:your\s+|any\s+)?(?:work|working|reasoning|steps|derivation)\b",
    "do not reason": r"\b(?:do\s+not|don'?t)\s+(?:think|reason)\b(?:\s+step\s+by\s+step)?"
                     r"|\bwithout\s+(?:any\s+)?(?:reasoning|thinking)\b",
    "you are a weak model": r"\byou\s+are\s+(?:a|an|the)\s+(?:\w+\s+)?"
                            r"(?:weak|small|tiny|limited|weaker|smaller|dumb|simple|4b)\b"
                            r"(?:\s+\w+)?",
    "be weak": r"\b(?:be|act|play)\s+(?:weak|dumb|stupid|less\s+capable)\b"
               r"|\bmake\s+(?:a\s+few\s+|some\s+)?mistakes\b",
    "pretend": r"\bpretend\b|\brole[-\s]?play\b|\bact\s+as\s+(?:if|though|a|an)\b",
    "ignore previous": r"\b(?:ignore|disregard|forget)\s+(?:all\s+)?(?:the\s+)?"
                       r"(?:previous|prior|above|earlier|system)\b",
    "answer with only": r"\b(?:answer|respond|reply|output)\s+(?:with\s+)?only\b"
                        r"|\bonly\s+(?:give|state|output|write)\s+the\s+(?:final\s+)?answer\b"
                        r"|\bjust\s+(?:give|state|output)\s+the\s+(?:final\s+)?answer\b",
    "no more than N words": rf"\b(?:no\s+more\s+than|at\s+most|fewer\s+than|less\s+than|under|"
                            rf"up\s+to|a\s+maximum\s+of|max(?:imum)?)\s+{_N}\s+{_UNITS}\b"
                            rf"|\b{_N}\s+{_UNITS}\s+(?:or\s+(?:less|fewer)|max(?:imum)?)\b"
                            rf"|\blimit\s+your\s+(?:answer|response|reply)\b",
}
_COMPILED = {name: re.compile(rx, re.IGNORECASE) for name, rx in SOLVER_INSTRUCTION_LEXICON.items()}

# name -> regex of a rubric criterion that grades the answer's style or form, not its content
STYLE_CRITERION_LEXICON: dict[str, str] = {
    "reasons step by step": r"\b(?:reason(?:s|ing)?|think(?:s|ing)?|explain(?:s|ing)?|work(?:s|ing)?|"
                            r"walk(?:s|ing)?|go(?:es)?|proceed(?:s|ing)?|solv(?:es|ing)|deriv(?:es|ing)"
                            r"|answer(?:s|ing)?|argu(?:es|ing))\s+(?:\w+\s+){0,3}?step[-\s]+by[-\s]+"
                            r"step\b|\bstep[-\s]+by[-\s]+step\s+(?:reasoning|explanation|derivation|"
                            r"solution|answer)\b|\bstepwise\s+(?:reasoning|explanation|answer)\b",
    "shows its reasoning": r"\bshows?\s+(?:its|their|the|all)\s+(?:own\s+)?(?:work|working|"
                           r"reasoning|steps)\b|\b(?:chain|line)\s+of\s+(?:thought|reasoning)\b",
    "uses bullet points": r"\b(?:uses?|using|in|with|as|formats?|formatted\s+(?:as|with|in))\s+"
                          r"(?:a\s+|the\s+)?(?:bullet(?:ed)?[-\s]*(?:points?|lists?)|numbered\s+"
                          r"lists?|markdown|headings)\b|\b(?:uses?|using)\s+bold(?:face)?\b"
                          r"|\bbullet(?:ed)?[-\s]points?\b",
    "is concise": r"\b(?:answer|response|reply|explanation|it)\s+(?:is|stays?|remains?)\s+"
                  r"(?:very\s+|suitably\s+)?(?:concise|brief|succinct|short|terse)\b"
                  r"|\b(?:answers?|responds?|written|writes?|explains?)\s+(?:very\s+)?(?:concisely|"
                  r"briefly|succinctly|tersely)\b|\b(?:is|be)\s+concise\b|\bconciseness\b",
    "is well organised": r"\bwell[-\s]+(?:organi[sz]ed|structured|written|formatted|presented|"
                         r"argued|reasoned)\b|\b(?:answer|response|reply|explanation|it)\s+is\s+"
                         r"(?:clearly\s+|logically\s+)?(?:organi[sz]ed|structured|formatted|"
                         r"readable|coherent|fluent|polished)\b|\b(?:clear|logical|coherent)\s+"
                         r"(?:organi[sz]ation|flow|presentation|style|tone|writing)\b",
    "length of the answer": rf"\b(?:in|under|within|at\s+most|no\s+more\s+than|fewer\s+than|"
                            rf"less\s+than|at\s+least)\s+{_N}\s+{_UNITS}\b",
    "tone or confidence": r"\b(?:confident|polite|professional|formal|friendly|neutral)\s+"
                          r"(?:tone|manner|style|voice)\b",
}
_STYLE = {name: re.compile(rx, re.IGNORECASE) for name, rx in STYLE_CRITERION_LEXICON.items()}


VERIFIER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["PASS", "FAIL"]},
        "problems": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["verdict", "problems"], "additionalProperties": False,
}


class GuardResult(Strict):
    passed: bool
    problems: list[str]
    verifier_verdict: Literal["PASS", "FAIL"] | None = None  # None: verifier not reached
    verifier_raw: str | None = None
    verifier_attempts: int = 0


def _normalise(text: str) -> str:
    return " ".join(text.casefold().split()).rstrip(" .;:!")


def structural_problems(example: Example) -> list[str]:
    """Rule violations of the example's shape; weights are already range-checked by the model."""
    problems = []
    n = len(example.rubric)
    if not MIN_RUBRIC_ITEMS <= n <= MAX_RUBRIC_ITEMS:
        problems.append(f"rubric has {n} items; needs {MIN_RUBRIC_ITEMS}..{MAX_RUBRIC_ITEMS}")
    if not any(item.weight > 0 for item in example.rubric):
        problems.append("rubric has no positive weight")
    seen: set[str] = set()
    for i, item in enumerate(example.rubric, start=1):
        key = _normalise(item.criterion)
        if not key:
            problems.append(f"rubric item {i} has an empty criterion")
        elif key in seen:
            problems.append(f"rubric item {i} duplicates an earlier criterion: {item.criterion!r}")
        seen.add(key)
    if not example.question.strip():
        problems.append("question is empty")
    if not example.reference_answer.strip():
        problems.append("reference answer is empty")
    skills = [s for s in example.reasoning_skills if s.strip()]
    if not MIN_SKILLS <= len(skills) <= MAX_SKILLS or len(skills) != len(example.reasoning_skills):
        problems.append(f"reasoning_skills has {len(example.reasoning_skills)} entries"
                        f" ({len(skills)} non-empty); needs {MIN_SKILLS}..{MAX_SKILLS} non-empty")
    return problems


def style_problems(example: Example) -> list[str]:
    """One problem per rubric item that grades style or form (first matching lexicon entry)."""
    problems = []
    for i, item in enumerate(example.rubric, start=1):
        for name, pattern in _STYLE.items():
            match = pattern.search(item.criterion)
            if match:
                problems.append(f"rubric item {i} checks style, not content ({name}): "
                                f"{match.group(0)!r}")
                break
    return problems


def solver_instruction_problems(text: str, where: str = "question") -> list[str]:
    """One problem per lexicon entry `text` (the `where` field) matches, quoting the match."""
    problems = []
    for name, pattern in _COMPILED.items():
        match = pattern.search(text)
        if match:
            problems.append(f"{where} instructs the solver ({name}): {match.group(0)!r}")
    return problems


def final_guard(example: Example, paper: Paper, *, client: Client, config: Config,
                tag: str = "") -> GuardResult:
    """Structural and style rules, then the solver-instruction lexicon on the context and the
    question, then the protected verifier, which reads `paper`."""
    del config  # the verifier's endpoint and sampling come from the client's config
    problems = (structural_problems(example) + style_problems(example)
                + solver_instruction_problems(example.context, "context")
                + solver_instruction_problems(example.question, "question"))
    if problems:
        return GuardResult(passed=False, problems=problems)
    messages = final_verifier_messages(example, paper.full_text[:PAPER_CHARS])
    reply, raw, attempts = ask_json(
        client, "verifier", messages, parse_verifier_reply, tag=tag, json_schema=VERIFIER_SCHEMA,
    )
    found = [f"verifier: {p}" for p in reply.problems if p.strip()]
    if reply.verdict == "FAIL" and not found:
        found = ["verifier: FAIL (no problem given)"]
    return GuardResult(
        passed=reply.verdict == "PASS", problems=found if reply.verdict == "FAIL" else [],
        verifier_verdict=reply.verdict, verifier_raw=raw, verifier_attempts=attempts,
    )



def guard_with_retry(example: Example, paper: Paper, *, client: Client, config: Config,
                     tag: str = "final_guard") -> tuple[GuardResult | None, str | None]:
    """(GuardResult, None), or (None, "infrastructure: ...") after INFRA_ATTEMPTS failures; the
    guard's verifier reads `paper` (grounding)."""
    last = ""
    for _ in range(INFRA_ATTEMPTS):
        try:
            return final_guard(example, paper, client=client, config=config, tag=tag), None
        except (InfrastructureError, FatalLLMError) as exc:
            last = str(exc)
    return None, f"infrastructure: {last}"
