"""RubricReward: the protected rubric score as a TRL GRPO reward function.

TRL calls `reward_func(prompts=..., completions=..., **columns)` with one entry per generated
completion, each dataset column repeated per row. This reward reads the `rubric` column (a list
of `{criterion, weight, category}` dicts, or its JSON string, or a list of JSON strings) and the
optional `question` column (otherwise the question is taken from the prompt: its text, or the
last user message of a chat prompt), has the protected judge grade the completion, and returns
`scoring.score` — the same judge prompt and formula the inner loop accepts examples with.

A judge that fails (no parseable reply after the re-asks, or the call fails) raises
InfrastructureError: a made-up reward would silently corrupt training. Before any of that, the
constructor checks the judge's key variable (`roles.judge.api_key_env`: ConfigError, one line,
before the trainer loads a model), and says once on stderr when the judge is simulated — the
embedded sim backend (at construction) or an endpoint answering as the sim, e.g. `sim-serve`
(at the first reward call): such rewards are for testing a pipeline, never for training.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import ValidationError

from inner_loop.config import Config, ConfigError
from inner_loop.evaluation import judge_answer
from inner_loop.example import RubricItem
from inner_loop.llm.client import LLMClient
from inner_loop.llm.protocol import Client, ClientView
from inner_loop.llm.types import LLMRequest, LLMResponse
from inner_loop.scoring import score
from inner_loop.strict import first_error


def _text_of(value: Any) -> str:
    """A completion or prompt as text: a string, or the content of a chat message list."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(str(m.get("content") or "") for m in value if isinstance(m, dict))
    raise TypeError(f"expected a string or a list of chat messages, got {type(value).__name__}")


def _question_of(prompt: Any) -> str:
    if isinstance(prompt, list):
        users = [m for m in prompt if isinstance(m, dict) and m.get("role") == "user"]
        if users:
            return str(users[-1].get("content") or "")
    return _text_of(prompt)


def parse_rubric(value: Any) -> list[RubricItem]:
    """A rubric from a dataset cell: list of dicts, a JSON string of it, or list of JSON strings."""
    data = json.loads(value) if isinstance(value, str) else value
    if not isinstance(data, list) or not data:
        raise ValueError("rubric must be a non-empty list of {criterion, weight, category} items")
    try:
        return [RubricItem.model_validate(json.loads(i) if isinstance(i, str) else i) for i in data]
    except ValidationError as exc:
        raise ValueError(f"invalid rubric item: {first_error(exc)}") from None


SIMULATED_NOTICE = ("RubricReward: SIMULATED judge ({why}): these rewards come from the simulated "
                    "model world, not a real model; point roles.judge at a real endpoint to train")


class _NoticingClient(ClientView):
    """The judge's client, noticing (once) an answer that says it was simulated."""

    def __init__(self, client: Client, say: Callable[[str], None]):
        super().__init__(client)
        self._say = say

    def send(self, request: LLMRequest, *, tag: str = "") -> LLMResponse:
        response = self._client.send(request, tag=tag)
        if response.simulated:
            self._say("the endpoint answered as the simulated world")
        return response


class RubricReward:
    """Callable reward `(prompts, completions, **kwargs) -> list[float]` for TRL's GRPOTrainer."""

    __name__ = "rubric_reward"

    def __init__(self, config: Config | None = None, client: Client | None = None, *, tag: str = "reward",
                 max_workers: int = 16):
        self._said, self._lock = False, threading.Lock()
        if client is None:
            config = config or Config()
            judge = config.roles["judge"]
            if judge.backend == "openai" and judge.api_key_env and not os.environ.get(judge.api_key_env):
                raise ConfigError(f"RubricReward: the judge's API key variable {judge.api_key_env} is "
                                  "not set (roles.judge.api_key_env names it); export it first")
            if judge.backend == "sim":
                self._say_simulated("roles.judge.backend = 'sim', the default")
            client = LLMClient(config)
        self.client = _NoticingClient(client, self._say_simulated)
        self.tag = tag
        self.max_workers = max_workers
        self.__name__ = "rubric_reward"

    def _say_simulated(self, why: str) -> None:
        with self._lock:  # reward calls run in a thread pool: one line, not one per thread
            said, self._said = self._said, True
        if not said:
            print(SIMULATED_NOTICE.format(why=why), file=sys.stderr, flush=True)

    def _one(self, prompt: Any, completion: Any, rubric: Any, question: Any) -> float:
        items = parse_rubric(rubric)
        q = str(question) if question is not None else _question_of(prompt)
        verdicts, _attempts = judge_answer(items, q, _text_of(completion), client=self.client,
                                           tag=self.tag)
        return score([item.weight for item in items], verdicts)

    def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float]:
        rubrics = kwargs.get("rubric")
        if rubrics is None:
            raise ValueError("RubricReward needs a 'rubric' column in the dataset")
        if not len(prompts) == len(completions) == len(rubrics):
            raise ValueError(f"{len(prompts)} prompts, {len(completions)} completions, "
                             f"{len(rubrics)} rubrics: one of each per row")
        questions = kwargs.get("question") or [None] * len(completions)
        rows = list(zip(prompts, completions, rubrics, questions, strict=True))
        if not rows:
            return []
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(rows))) as pool:
            return list(pool.map(lambda row: self._one(*row), rows))
