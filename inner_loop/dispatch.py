"""The parent's side of the sandbox RPC: every request of one episode, answered and recorded.

`Dispatcher` is the only place that decides an episode's outcome, from its own records; what a
round is and what counts lives in `inner_loop/rounds.py` (shared with the CoT baseline):
- `llm`: harness roles only (orchestrator, challenger, verifier). Each challenger call starts a
  new round (refused once `max_rounds` rounds exist); its reply is parsed with the protected
  `parse_example` and the example or the parse error is recorded on the round. A verifier call
  attaches its verdict (`parsing.parse_verdict`: JSON `verdict`, else the first PASS/FAIL
  word) and feedback to the current round, and the reply carries that verdict (`verdict`:
  "PASS", "FAIL" or null), so the harness and the records read a verifier reply alike.
- `evaluate(example, "weak")`: invalid example -> `failed_quality_check`; otherwise the protected
  solvers and judge. Each evaluation of a new example is a round: it fills the challenger round
  that proposed it, or the latest round if that holds no evaluation, else it opens a new round
  (refused beyond `max_rounds`). A near-duplicate of an evaluated example (`rounds.example_key`)
  gets the recorded result back: no fishing for lucky samples. `evaluate(example, "strong")` is
  refused unless this example passed the weak check in this episode.
- `submit(example)`: accepted only if the records show weak and strong passed for this example
  (the one first evaluated, for a near-duplicate) and the final guard, which reads the paper,
  passes; then the episode ends.
Infrastructure failures are retried once more, then recorded as `infrastructure`, never as a
quality verdict. BudgetExceeded propagates (the runner ends the episode with status `budget`).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from inner_loop.thresholds import Rules, thresholds_for
from inner_loop.config import Config
from inner_loop.episode import EpisodeRecord, RoundRecord
from inner_loop.evaluation import evaluate_with_retry
from inner_loop.example import Example
from inner_loop.guard import guard_with_retry
from inner_loop.harness_requests import eval_reply, normalise_messages, normalise_tools
from inner_loop.llm.episode_client import EpisodeClient
from inner_loop.llm.types import REJECTED_TEXT, FatalLLMError, Message, RequestRejected
from inner_loop.parsing import parse_example_arg, parse_verdict
from inner_loop.papers import Paper
from inner_loop.roles import HARNESS_ROLES
from inner_loop.rounds import RoundBook, Slot, finalise, settle, settle_guard
from inner_loop.strict import first_error

REJECTED = "the endpoint rejected a request the harness shaped"  # a harness_error's prefix
FEEDBACK_CHARS = 4000


class EpisodeEnd(Exception):
    """Raised by a handler when the episode is over; `reply` (if any) still goes to the child."""

    def __init__(self, reply: Any = None):
        super().__init__("episode ended")
        self.reply = reply


class Dispatcher:
    """Answers one episode's RPC requests and keeps the records its outcome is decided from."""

    def __init__(self, paper: Paper, *, config: Config, client: EpisodeClient,
                 rules: Rules | None = None):
        """`rules`: the episode's (preset, thresholds), as the runner resolved them."""
        self.paper, self.config, self.client = paper, config, client
        self.preset, self.thresholds = rules or thresholds_for(config)
        self.max_rounds = config.inner_loop.max_rounds
        self.book = RoundBook(self.max_rounds)
        self.rounds = self.book.rounds  # the same list: every round of this episode
        self.transcript: list[dict[str, Any]] = []
        self.confinement = ""
        self.status: str | None = None
        self.error: str | None = None
        self.infra_error: str | None = None  # the first model call that failed after retries
        self.accepted: tuple[Example, int] | None = None
        self._role_calls: dict[str, int] = {}
        self._last_messages: dict[str, list[dict[str, Any]]] = {}
        self._handlers = {"ready": self._ready, "llm": self._llm, "evaluate": self._evaluate,
                          "submit": self._submit, "log": self._log, "done": self._done,
                          "crash": self._crash}

    def dispatch(self, msg: dict[str, Any]) -> Any:
        """The reply to one request; raises EpisodeEnd when the episode is over."""
        handler = self._handlers.get(msg["op"])
        if handler is None:
            return self._note({"op": msg["op"]}, {"error": f"unknown request {msg['op']!r}"})
        return handler(msg.get("args") or {})

    def end(self, status: str, error: str | None) -> None:
        """Set the episode status once; the first decision stands."""
        if self.status is None:
            self.status, self.error = status, error

    def _note(self, entry: dict[str, Any], reply: Any) -> Any:
        self.transcript.append({**entry, "reply": reply})
        return reply

    # --- lifecycle -------------------------------------------------------------------------
    def _ready(self, args: dict[str, Any]) -> Any:
        if self.confinement:
            return {"error": "already ready"}
        self.confinement = str(args.get("confinement", ""))[:500] or "(not reported)"
        return {"ok": True}

    def _log(self, args: dict[str, Any]) -> Any:
        self.transcript.append({"op": "log", "text": str(args.get("text", ""))[:FEEDBACK_CHARS]})
        return {"ok": True}

    def _done(self, args: dict[str, Any]) -> Any:
        self.transcript.append({"op": "done", "result": str(args.get("result", ""))[:2000]})
        if self.infra_error is None:  # else record() says `infrastructure`
            self.end("exhausted", None if self.rounds else self._no_round_reason())
        raise EpisodeEnd({"ok": True})

    def _no_round_reason(self) -> str:
        """Why an episode that never called the challenger produced nothing (e.g. a real model's
        orchestrator that answered in prose instead of calling a tool): never a silent zero."""
        logs = [e["text"] for e in self.transcript if e.get("op") == "log"]
        last = f"; last harness log: {' '.join(logs[-1].split())[:300]}" if logs else ""
        return f"no round: the harness returned before any challenger call{last}"

    def _crash(self, args: dict[str, Any]) -> Any:
        error = str(args.get("error", ""))[:2000]
        self.transcript.append({"op": "crash", "error": error,
                                "traceback": str(args.get("traceback", ""))[-8000:]})
        self.end("harness_error", error if not self.confinement else f"harness raised {error}")
        raise EpisodeEnd({"ok": True})

    # --- model calls -----------------------------------------------------------------------
    def _llm(self, args: dict[str, Any]) -> Any:
        role = args.get("role")
        entry: dict[str, Any] = {"op": "llm", "role": role}
        if role not in HARNESS_ROLES:
            return self._note(entry, {"error": f"role {role!r} is not allowed; harness roles: "
                                               f"{list(HARNESS_ROLES)}"})
        try:
            messages = normalise_messages(args.get("messages"))
            tools = normalise_tools(args.get("tools"))
            fmt = args.get("response_format") or "text"
            if fmt not in ("text", "json"):
                raise ValueError("response_format must be 'text' or 'json'")
        except (ValueError, TypeError) as exc:  # pydantic ValidationError is a ValueError
            why = first_error(exc) if isinstance(exc, ValidationError) else str(exc).splitlines()[0]
            return self._note(entry, {"error": f"bad request: {why}"})
        rnd = None
        if role == "challenger":
            rnd = self.book.open_challenger()
            if rnd is None:
                return self._note(entry, {"error": self.book.budget_error()})
        entry.update(self._message_delta(role, messages))
        if tools:
            entry["tools"] = [t.name for t in tools]
        index = self._role_calls.get(role, 0)
        self._role_calls[role] = index + 1
        try:
            response = self.client.complete(role, messages, tools=tools, response_format=fmt,
                                            sample_index=index, tag=role)
        except RequestRejected as exc:  # a 4xx on the request the harness shaped: its fault
            if rnd is not None:
                self.rounds.remove(rnd)  # no challenger answer: no round
            self.end("harness_error", f"{REJECTED}: {exc}")
            raise EpisodeEnd(self._note(entry, {"error": f"{role} call rejected: {exc}"}))
        except FatalLLMError as exc:
            if rnd is not None:
                rnd.outcome, rnd.reason = "infrastructure", f"challenger call failed: {exc}"
            self.infra_error = self.infra_error or f"{role} call failed: {exc}"
            return self._note(entry, {"error": f"{role} call failed: {exc}"})
        reply = {"content": response.content,
                 "tool_calls": [c.model_dump() for c in response.tool_calls]}
        if rnd is not None:
            self._on_challenger(rnd, response.content)
        elif role == "verifier":  # the runtime's one reading of a verdict, handed to the harness
            reply["verdict"] = parse_verdict(response.content)
            if self.rounds:
                self.rounds[-1].verifier_verdict = reply["verdict"]
                self.rounds[-1].verifier_feedback = (response.content or "")[:FEEDBACK_CHARS]
        return self._note(entry, reply)

    def _rejected(self, error: str | None) -> None:
        """A protected call built from the harness's example was rejected (a 4xx such as a
        context overflow): the harness's fault, like a rejected harness-role call."""
        if error and REJECTED_TEXT in error:
            self.end("harness_error", f"{REJECTED}: {' '.join(error.split())[:500]}")
            raise EpisodeEnd({"ok": False, "error": error})

    def _message_delta(self, role: str, messages: list[Message]) -> dict[str, Any]:
        """Transcript compression: `prefix` = how many leading messages equal the previous
        call of this role; only the rest is stored."""
        dumped = [m.model_dump(exclude_none=True) for m in messages]
        prev = self._last_messages.get(role, [])
        prefix = len(prev) if dumped[: len(prev)] == prev else 0
        self._last_messages[role] = dumped
        return {"prefix": prefix, "messages": dumped[prefix:]}

    def _on_challenger(self, rnd: RoundRecord, content: str | None) -> None:
        rnd.challenger_raw = content
        example, error = parse_example_arg(content or "")
        rnd.example, rnd.parse_error = example, error
        if example is not None:
            self.book.propose(rnd, example)

    # --- evaluation and submission ---------------------------------------------------------
    def _evaluate(self, args: dict[str, Any]) -> Any:
        solver = args.get("solver")
        entry: dict[str, Any] = {"op": "evaluate", "solver": solver}
        if solver not in ("weak", "strong"):
            return self._note(entry, {"ok": False, "error": "solver must be 'weak' or 'strong'"})
        example, error = parse_example_arg(args.get("example"))
        if example is None:
            rnd = self.book.open_round()
            if rnd is not None:
                rnd.outcome, rnd.reason = "failed_quality_check", f"invalid example: {error}"
            return self._note(entry, {"ok": False, "error": f"invalid example: {error}"})
        entry["example_id"] = example.example_id()
        slot = self.book.slot(example)
        if solver == "strong" and not (slot and slot.weak and slot.weak.passed):
            return self._note(entry, {"ok": False,
                                      "error": "weak check not passed for this example"})
        if slot is None:
            slot = self.book.claim(example)
            if slot is None:
                return self._note(entry, {"ok": False, "error": self.book.budget_error()})
        entry["round"] = slot.round.index
        done = slot.weak if solver == "weak" else slot.strong
        if done is not None:  # evaluated once per example: no fishing for lucky samples
            return self._note({**entry, "repeat": True}, eval_reply(done, slot.example))
        return self._note(entry, self._run_evaluation(slot, solver))

    def _run_evaluation(self, slot: Slot, solver: str) -> dict[str, Any]:
        example, rnd = slot.example, slot.round
        ev, infra = evaluate_with_retry(
            example, solver, client=self.client, config=self.config,
            thresholds=self.thresholds, weak_eval=slot.weak if solver == "strong" else None,
            tag=f"{solver}:{example.example_id()}")
        if ev is None:
            self._rejected(infra)
            rnd.outcome, rnd.reason = "infrastructure", infra
            self.infra_error = self.infra_error or infra
            return {"ok": False, "error": infra}
        if solver == "weak":
            slot.weak = ev
            settle(rnd, example, ev)
        else:
            slot.strong = ev
            settle(rnd, example, slot.weak, ev)  # type: ignore[arg-type]
        return eval_reply(ev, example)

    def _submit(self, args: dict[str, Any]) -> Any:
        entry: dict[str, Any] = {"op": "submit"}
        example, error = parse_example_arg(args.get("example"))
        if example is None:
            return self._note(entry, {"accepted": False, "reason": f"invalid example: {error}"})
        entry["example_id"] = example.example_id()
        slot = self.book.slot(example)
        if not (slot and slot.weak and slot.weak.passed and slot.strong and slot.strong.passed):
            return self._note(entry, {"accepted": False, "reason": "the runtime has no passing "
                                      "weak and strong evaluation of this example"})
        rnd = slot.round
        if slot.guard is None:
            slot.guard, infra = guard_with_retry(slot.example, self.paper, client=self.client,
                                                 config=self.config)
            if slot.guard is None:
                self._rejected(infra)
                rnd.outcome, rnd.reason = "infrastructure", infra
                self.infra_error = self.infra_error or infra
                return self._note(entry, {"accepted": False, "reason": infra})
        settle(rnd, slot.example, slot.weak, slot.strong)
        if not settle_guard(rnd, slot.guard):
            return self._note(entry, {"accepted": False,
                                      "reason": "final guard: " + "; ".join(slot.guard.problems)})
        self.accepted = (slot.example, rnd.index)
        self.end("accepted", None)
        raise EpisodeEnd(self._note(entry, {"accepted": True}))

    # --- the record ------------------------------------------------------------------------
    def record(self, base: dict[str, Any]) -> EpisodeRecord:
        """The EpisodeRecord of everything served so far (`base`: paper, method, preset...)."""
        finalise(self.rounds)
        # not accepted after a model call failed beyond its retries: unknowable, never a quality
        # verdict (status `infrastructure`: no evaluation; the run stops, resume runs it again)
        unfinished = "infrastructure" if self.infra_error else "exhausted"
        status = "accepted" if self.accepted else (self.status or unfinished)
        example, index = self.accepted if self.accepted else (None, None)
        return EpisodeRecord(**{**base, "status": status}, accepted=self.accepted is not None,
                             accepted_example=example, accepted_round=index, rounds=self.rounds,
                             error=None if self.accepted else (self.error or self.infra_error),
                             confinement=self.confinement or "(the child never reported)",
                             usage=dict(self.client.usage), transcript=self.transcript)
