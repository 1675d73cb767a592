"""One verdict parser (parsing.parse_verdict), whose reading the runtime hands to the harness.

Before, the seed harness read a verifier reply with `startswith("PASS")` and the records with
`parse_verdict`: a reply `**PASS**` was FAIL to the harness and PASS in the records. Now the
`llm` reply of a verifier call carries the runtime's verdict and the seed harness acts on it.
A real episode: the seed harness in the sandbox, the sim for every role but the verifier, whose
replies come from a scripted loopback endpoint through the openai client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inner_loop.config import load_config
from inner_loop.llm.client import LLMClient
from inner_loop.papers import select_papers
from inner_loop.parsing import parse_verdict
from inner_loop.runner import run_episode
from scripted_endpoint import ScriptedEndpoint, Tools

SEED = Path(__file__).resolve().parents[1] / "harness"


def _episode(tmp_path: Path, verifier_says: str):
    script = lambda role, body: Tools([], content=verifier_says) if role == "verifier" else None  # noqa: E731
    with ScriptedEndpoint(script) as ep:
        config = load_config(None, ["roles.verifier.backend=openai",
                                    f"roles.verifier.base_url={ep.base_url}",
                                    "roles.verifier.model=sim-verifier",
                                    "inner_loop.max_rounds=2"])
        config.roles["verifier"].api_key_env = None
        paper = select_papers(subset="validation", limit=1)[0]
        return run_episode(paper, SEED, config=config, client=LLMClient(config),
                           workdir_root=tmp_path)


def _harness_verdicts(record) -> list[str]:
    """What the seed harness's call_verifier told its orchestrator (its tool results)."""
    out = []
    for entry in record.transcript:
        for m in entry.get("messages") or []:
            if m.get("role") == "tool" and '"verdict"' in (m.get("content") or ""):
                out.append(json.loads(m["content"])["verdict"])
    return out


@pytest.mark.parametrize("says, verdict", [("**PASS**\nevery check holds", "PASS"),
                                           ('{"verdict": "pass", "problems": []}', "PASS"),
                                           ("The example fails.\nFAIL: leaks", "FAIL")])
def test_the_harness_and_the_records_read_a_verifier_reply_alike(tmp_path, says, verdict):
    assert parse_verdict(says) == verdict
    record = _episode(tmp_path, says)
    replies = [e["reply"] for e in record.transcript
               if e.get("op") == "llm" and e.get("role") == "verifier"]
    assert replies and {r["verdict"] for r in replies} == {verdict}
    assert {r.verifier_verdict for r in record.rounds if r.verifier_verdict} == {verdict}
    assert set(_harness_verdicts(record)) == {verdict}  # before: "FAIL" for both PASS replies
