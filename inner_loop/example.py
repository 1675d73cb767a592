"""The example a challenger writes: one reasoning question with a reference answer and a rubric.

`Example.model_validate` is the structural check at the edge: a weight written as a string
("+8") or a float is a validation error, never coerced.
"""

from __future__ import annotations

import hashlib
import json

from pydantic import Field, StrictInt, field_validator

from inner_loop.strict import Strict


class RubricItem(Strict):
    criterion: str = Field(min_length=1)
    weight: StrictInt
    category: str = ""

    @field_validator("weight")
    @classmethod
    def _weight_range(cls, v: int) -> int:
        if v == 0 or not -10 <= v <= 10:
            raise ValueError("weight must be a non-zero integer in -10..+10")
        return v


class Example(Strict):
    question_type: str = Field(min_length=1)
    reasoning_skills: list[str] = Field(default_factory=list)
    context: str = ""
    question: str = Field(min_length=1)
    reference_answer: str = Field(min_length=1)
    rubric: list[RubricItem] = Field(min_length=1)

    def example_id(self) -> str:
        """Content address of the example (stable across processes)."""
        blob = json.dumps(self.model_dump(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    def solver_prompt_fields(self) -> dict[str, str]:
        """What a solver may see: context and question, nothing else."""
        return {"context": self.context, "question": self.question}
