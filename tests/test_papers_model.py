"""The Paper model: full_text format (the harness renders papers with it), n_chars, strictness."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from inner_loop.papers import Paper, Section


def make(**changes) -> Paper:
    fields = dict(id="arxiv:1", title="A Title", abstract="Abs one.\n\nAbs two.",
                  sections=[Section(heading="1 Intro", text="Para.\n\nMore."), Section(heading="", text="Loose.")])
    return Paper(**{**fields, **changes})


def test_full_text_format():
    assert make().full_text == (
        "# A Title\n\n## Abstract\n\nAbs one.\n\nAbs two.\n\n## 1 Intro\n\nPara.\n\nMore.\n\nLoose."
    )


def test_full_text_leaves_out_an_empty_abstract():
    assert make(abstract="").full_text.startswith("# A Title\n\n## 1 Intro\n\n")


def test_n_chars_counts_section_text_only():
    assert make().n_chars == len("Para.\n\nMore.") + len("Loose.")


def test_unknown_field_is_rejected():
    with pytest.raises(ValidationError, match="extra"):
        Paper(id="a", title="t", abstract="", sections=[], authors=[])


def test_empty_id_is_rejected():
    with pytest.raises(ValidationError):
        make(id="")


def test_id_prefix():
    assert make().id_prefix == "arxiv" and make(id="plain").id_prefix == ""
