"""Text primitives of the simulated world: tokens, sentences, vocabulary, seeded randomness.

Everything here is a pure function of its arguments; randomness comes only from `rng(*parts)`,
seeded by a hash of the parts (never from global state).
"""

from __future__ import annotations

import hashlib
import random
import re
from functools import lru_cache
from pathlib import Path

WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9]|\d+(?:\.\d+)?%?")
SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[])")
STOPWORDS = frozenset(
    """a an the and or but if then than that this these those is are was were be been being to of in
    on at by for with from as into onto over under between among about after before during while it its
    we our us they their them he she his her you your i my me not no nor so such can could may might must
    shall should will would do does did done have has had having which who whom whose what when where why
    how all any both each few more most other some same own only very also just there here out up down
    off again further once via per et al e g i e eg ie using use used uses one two three""".split()
)


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """General vocabulary (see scripts/build_common_words.py): words in >= 15% of train+val papers."""
    path = Path(__file__).with_name("common_words.txt")
    return frozenset(w.strip() for w in path.read_text(encoding="utf-8").split() if w.strip())


def tokens(text: str) -> list[str]:
    return [w.lower() for w in WORD_RE.findall(text)]


def content_terms(text: str) -> list[str]:
    """Lower-cased words that carry meaning (no stopwords, no 1-2 letter words), in order."""
    return [w for w in tokens(text) if w not in STOPWORDS and len(w) > 2]


def is_rare(term: str) -> bool:
    return term not in common_words() and not term.isdigit()


def sentences(text: str) -> list[str]:
    out = []
    for para in text.split("\n"):
        para = para.strip()
        if para:
            out.extend(s.strip() for s in SENTENCE_RE.split(para) if s.strip())
    return out


def seed_of(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(repr(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def rng(*parts: object) -> random.Random:
    """A private random stream for one decision, seeded by everything the decision depends on."""
    return random.Random(seed_of(*parts))


def coverage(needed: list[str] | set[str], have: set[str]) -> float:
    """Fraction of the needed terms present in `have` (1.0 when nothing is needed)."""
    needed = set(needed)
    return 1.0 if not needed else len(needed & have) / len(needed)


def clip(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))
