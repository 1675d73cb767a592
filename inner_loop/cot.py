"""The CoT Self-Instruct baseline (paper §1): the challenger once, no loop, same filters.

Protected, no harness code runs: the harness's `challenger` prompt is rendered here with the
paper (`title`, `paper` = the paper's text cut at PAPER_CHARS — the seed harness's cut, so both
methods see the same text and a long paper fits a small context —, `feedback` = "" — whichever
of these the manifest declares), ONE challenger call, the protected `parse_example`, then the weak AND the
strong solver always (so the solver statistics are comparable with the agentic method), the
preset's decision, and the final guard (which reads the paper). One round, recorded as the same
EpisodeRecord; the round rules (what a round is, its outcome) are `inner_loop/rounds.py`'s, as in
the agentic path.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path

from inner_loop.thresholds import Thresholds, thresholds_for
from inner_loop.config import Config
from inner_loop.episode import EpisodeRecord, RoundRecord
from inner_loop.evaluation import evaluate_with_retry
from inner_loop.example import Example
from inner_loop.guard import PAPER_CHARS, guard_with_retry
from inner_loop.harness import Harness, HarnessInvalid, PromptRenderError, load_harness
from inner_loop.llm.episode_client import EpisodeClient
from inner_loop.llm.protocol import Client
from inner_loop.llm.types import BudgetExceeded, FatalLLMError
from inner_loop.papers import Paper
from inner_loop.parsing import parse_example_arg
from inner_loop.rounds import RoundBook, settle, settle_guard
from inner_loop.runner import base_record

CONFINEMENT = "none needed: the CoT baseline runs no harness code (protected runtime only)"
# PAPER_CHARS (guard.py): harness/tools.py cuts the paper for its challenger and verifier there too


def challenger_prompt(harness: Harness, paper: Paper) -> str:
    """The harness's challenger prompt for `paper` (the variables its manifest declares)."""
    values = {"title": paper.title, "paper": paper.full_text[:PAPER_CHARS], "feedback": ""}
    declared = harness.manifest.prompts["challenger"].variables if \
        "challenger" in harness.manifest.prompts else []
    return harness.render("challenger", **{k: v for k, v in values.items() if k in declared})


def _judge_example(rnd: RoundRecord, example: Example, paper: Paper, *, client: Client,
                   config: Config, thresholds: Thresholds) -> None:
    """Weak and strong always, then the preset's decision and the final guard."""
    weak, infra = evaluate_with_retry(example, "weak", client=client, config=config,
                                      thresholds=thresholds, tag="weak")
    strong = None
    if weak is not None:
        strong, infra = evaluate_with_retry(example, "strong", client=client, config=config,
                                            thresholds=thresholds, weak_eval=weak, tag="strong")
    if weak is None or strong is None:
        rnd.example, rnd.weak, rnd.strong = example, weak, strong
        rnd.outcome, rnd.reason = "infrastructure", infra
        return
    settle(rnd, example, weak, strong)
    if rnd.outcome != "abandoned":  # too easy, or failed on strong
        return
    guard, infra = guard_with_retry(example, paper, client=client, config=config)
    if guard is None:
        rnd.outcome, rnd.reason = "infrastructure", infra
    else:
        settle_guard(rnd, guard)


def _one_round(harness: Harness, paper: Paper, book: RoundBook, transcript: list, *,
               client: EpisodeClient, config: Config, thresholds: Thresholds) -> None:
    rnd = book.open_challenger()
    assert rnd is not None  # a fresh book of one round
    prompt = challenger_prompt(harness, paper)
    messages = [{"role": "user", "content": prompt}]
    try:
        response = client.complete("challenger", messages, tag="challenger")
    except FatalLLMError as exc:
        rnd.outcome, rnd.reason = "infrastructure", f"challenger call failed: {exc}"
        transcript.append({"op": "llm", "role": "challenger", "prefix": 0,
                           "messages": messages, "reply": {"error": str(exc)}})
        return
    transcript.append({"op": "llm", "role": "challenger", "prefix": 0, "messages": messages,
                       "reply": {"content": response.content, "tool_calls": []}})
    rnd.challenger_raw = response.content
    example, error = parse_example_arg(response.content or "")
    if example is None:
        rnd.outcome, rnd.parse_error, rnd.reason = "parse_error", error, error
        return
    book.propose(rnd, example)
    slot = book.claim(example)
    assert slot is not None and slot.round is rnd  # the challenger's round holds its example
    _judge_example(rnd, example, paper, client=client, config=config, thresholds=thresholds)


def run_cot_episode(paper: Paper, harness_dir: str | Path | Harness, *, config: Config,
                    client: Client, harness_version: str | None = None,
                    tag: str = "") -> EpisodeRecord:
    """One CoT Self-Instruct episode of `paper` (never raises, like run_episode)."""
    t0 = time.monotonic()
    rules = thresholds_for(config)
    base = base_record(paper, config, "cot", harness_version, "exhausted", rules)
    base["max_rounds"] = 1
    try:
        harness = harness_dir if isinstance(harness_dir, Harness) else load_harness(harness_dir)
    except HarnessInvalid as exc:
        return EpisodeRecord(**{**base, "status": "harness_error"},
                             error=f"harness invalid: {exc}", confinement=CONFINEMENT)
    base["harness_version"] = harness_version or harness.digest
    eclient = EpisodeClient(client, tag or f"cot:{paper.id}")
    book, transcript = RoundBook(max_rounds=1), []
    status, error = "exhausted", None
    try:
        _one_round(harness, paper, book, transcript, client=eclient, config=config,
                   thresholds=rules[1])
    except PromptRenderError as exc:
        status, error = "harness_error", f"challenger prompt: {exc}"
    except BudgetExceeded as exc:
        status, error = "budget", f"budget exceeded: {exc}"
    except Exception as exc:  # noqa: BLE001 — the episode boundary: a runtime bug is recorded
        status, error = "runtime_error", f"{type(exc).__name__}: {exc}\n" \
                                         f"{traceback.format_exc()[-4000:]}"
    rnd = book.rounds[0] if book.rounds else RoundRecord(index=1)
    accepted = rnd.outcome == "accepted"
    rounds = [rnd] if rnd.challenger_raw is not None or rnd.outcome != "abandoned" else []
    return EpisodeRecord(
        **{**base, "status": "accepted" if accepted else status}, accepted=accepted,
        accepted_example=rnd.example if accepted else None,
        accepted_round=1 if accepted else None, rounds=rounds, error=error,
        confinement=CONFINEMENT, usage=dict(eclient.usage),
        duration_ms=(time.monotonic() - t0) * 1000.0, transcript=transcript,
    )
