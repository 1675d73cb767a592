"""The run database's shared fixture and record builders for the store tests (real DuckDB on
tmp_path): a store with its run and seed, an episode record, a call record, a candidate
brought to scored, a table's row count."""

import pytest

from evolve.store import Store
from inner_loop.llm.accounting import CallRecord
from inner_loop.llm.types import LLMResponse, Usage


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path, create=True)
    s.record_run("run-1", '{"seed": 0}', "tree0", simulated=True)
    s.record_seed("a" * 40)
    yield s
    s.close()


def episode(paper_id, accepted, outcomes=("too_easy",), cost=0.0):
    rounds = [{"index": i, "outcome": o, "failed_rule": None if o == "accepted" else "weak_avg",
               "weak": {"avg": 0.8}, "strong": {"avg": 0.7} if o != "too_easy" else None}
              for i, o in enumerate(outcomes)]
    return {"paper_id": paper_id, "status": "accepted" if accepted else "exhausted", "accepted": accepted,
            "rounds": rounds, "duration_ms": 12.5, "usage": {"challenger": {"cost_usd": cost}}}


def to_scored(store, cid, iteration, parent="seed"):
    store.record_candidate(iteration, cid, parent)
    store.record_candidate_event(cid, "proposing")
    store.record_proposal(cid, f"diff of {cid}\n", "diagnosis", f"idea {cid}")
    store.record_candidate_event(cid, "validating")
    store.record_candidate_event(cid, "scoring")
    store.record_candidate_event(cid, "scored")


def count(store, table):
    return store.query(f"SELECT count(*) AS n FROM {table}")[0]["n"]


def call(call_id, role="judge", tokens=(10, 5), cost=0.01, response=True):
    rec = CallRecord(
        call_id=call_id, role=role, model=f"sim-{role}", endpoint="sim", messages=[{"role": "user", "content": "q"}],
        response=LLMResponse(content="a", usage=Usage(input_tokens=tokens[0], output_tokens=tokens[1])).model_dump()
        if response else None,
        started_at="2025-01-01T00:00:00+00:00", duration_ms=3.0, attempts=2 if not response else 1,
        error_kinds=["timeout"] if not response else [], cost_usd=cost, simulated=True,
        error=None if response else "retries exhausted",
    )
    return rec.model_dump(mode="json")
