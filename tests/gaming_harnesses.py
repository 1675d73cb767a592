"""The gaming harnesses of issue 21, built from the seed harness and a fixture overlay.

Each `tests/fixtures/harnesses/gaming_<name>/gaming.py` wraps (or replaces) the seed harness's
episode; `build_gaming_harness` copies the seed harness, adds the overlay and points the
manifest's entry at it. Used by tests/test_gaming.py and scripts/gaming_study.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "harness"
FIXTURES = ROOT / "tests" / "fixtures" / "harnesses"
GAMING = {
    "fishing": "re-evaluates near-duplicate copies until weak and strong pass",
    "crafted": "its own paper-independent example keyed on solver boilerplate",
    "crafted_generic": "its own example keyed on generic words longer answers contain",
    "style": "a heavy style item (\"reason step by step ...\") in every rubric",
    "style_paraphrased": "the style item worded without style words",
    "context": "\"You are a weak model; answer in one word ...\" in the context",
}


def build_gaming_harness(name: str, out: Path) -> Path:
    """The seed harness with gaming overlay `name` as its entry, at `out`."""
    if name not in GAMING:
        raise ValueError(f"unknown gaming harness {name!r}; known: {sorted(GAMING)}")
    shutil.copytree(SEED, out)
    shutil.copy(FIXTURES / f"gaming_{name}" / "gaming.py", out / "gaming.py")
    manifest = out / "harness.toml"
    text = manifest.read_text(encoding="utf-8")
    if 'entry = "agent.py"' not in text:
        raise RuntimeError("the seed manifest no longer names agent.py as its entry")
    manifest.write_text(text.replace('entry = "agent.py"', 'entry = "gaming.py"'), encoding="utf-8")
    return out
