"""`Strict`: the one base of every pydantic model the project writes or reads as a record.

Unknown fields are errors (`extra="forbid"`): a record, a manifest, a model's JSON reply or a
settings file with a misspelt or smuggled key is refused, never silently dropped.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
