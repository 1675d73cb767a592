"""Endpoint faults through a whole (tiny) evolution run (docs/reliability.md §1, §5).

Every role talks HTTP to the loopback `SimServer` with faults injected on 25% of requests (all
kinds but `timeout`, which `scripts/chaos` adds; timeouts are proven on one call in
test_sim_server.py and test_llm_client.py). The run must end exactly as the fault-free run of the
same seed, with every injected fault in `llm_calls.error_kinds`, attempts = requests seen, the
same USD, and the fake key in no file and no git object."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from inner_loop.config import load_config
from inner_loop.roles import ROLES
from inner_loop.sim.server import SimServer
from evolve.context import RunSettings
from evolve.run import start_run
from evolve.store import StoreReader

from test_loop import attempt_facts

KEY_ENV, FAKE_KEY = "AUTODATA_RELIABILITY_KEY", "sk-reliability-FAKE-0123456789abcdef"
SETS = ["seed=2", "evolve.iterations=1", "evolve.minibatch=1", "inner_loop.max_rounds=1",
        "retry.max_attempts=8", "retry.base_delay_s=0.01", "retry.max_delay_s=0.05",
        "evolve.final_repeats=0"]
KIND = {"429": "rate_limit", "500": "server_error", "503": "server_error",
        "reset": "connection", "bad_json": "bad_response", "truncated": "bad_response",
        "empty_choices": "bad_response"}


def _run(path: Path, url: str):
    roles = [f"roles.{r}.{k}" for r in ROLES for k in (
        "backend=openai", f"base_url={url}", f"model=sim-{r}", f"api_key_env={KEY_ENV}",
        "price_input_per_mtok=1.5", "price_output_per_mtok=4.0")]
    return start_run(load_config(None, SETS + roles), RunSettings(validation_limit=2), path,
                     show_progress=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv(KEY_ENV, FAKE_KEY)
    base = tmp_path_factory.mktemp("faults")
    with SimServer() as clean:
        ref = _run(base / "clean", clean.base_url)
    with SimServer(fault_rate=0.25, fault_seed=3, faults=tuple(KIND), retry_after_s=0.01) as s:
        faulty = _run(base / "faulty", s.base_url)
        injected, requests = s.faults_injected, s.requests
    mp.undo()
    return base, ref, faulty, injected, requests


def _q(path: Path, sql: str) -> list[dict]:
    with StoreReader.open(path) as reader:
        return reader.query(sql)


def test_faulty_run_ends_exactly_like_the_fault_free_run(runs):
    base, ref, faulty, injected, _ = runs
    assert sum(injected.values()) >= 15
    assert faulty.status == ref.status == "finished"
    assert attempt_facts(base / "faulty") == attempt_facts(base / "clean")


def test_every_injected_fault_is_recorded_by_kind(runs):
    base, _, _, injected, requests = runs
    expected: dict[str, int] = {}
    for fault, n in injected.items():
        expected[KIND[fault]] = expected.get(KIND[fault], 0) + n
    recorded = {r["k"]: r["n"] for r in _q(base / "faulty", "SELECT k, count(*) AS n FROM "
                                           "(SELECT unnest(error_kinds) AS k FROM llm_calls) GROUP BY k")}
    assert recorded == expected
    calls = _q(base / "faulty", "SELECT sum(attempts) AS a, max(attempts) AS m FROM llm_calls")[0]
    assert calls["a"] == requests and calls["m"] <= 8


def test_spend_is_exact_under_faults(runs):
    base, ref, faulty, _, _ = runs
    usd = {name: _q(base / name, "SELECT sum(cost_usd) AS usd, sum(input_tokens) AS i, "
                                 "sum(output_tokens) AS o FROM llm_calls WHERE NOT cached")[0]
           for name in ("clean", "faulty")}  # cached (shared) calls carry tokens, cost nothing
    f = usd["faulty"]
    assert f["usd"] == pytest.approx((f["i"] * 1.5 + f["o"] * 4.0) / 1e6, abs=1e-12)
    assert f["usd"] == pytest.approx(usd["clean"]["usd"], abs=1e-12)
    assert faulty.spend_usd == pytest.approx(f["usd"], abs=1e-12)


def test_the_key_is_in_no_file_and_no_git_object(runs):
    base = runs[0]
    key = FAKE_KEY.encode()
    files = [p for p in base.rglob("*") if p.is_file() and not p.is_symlink()]
    assert files and [p for p in files if key in p.read_bytes()] == []
    for name in ("clean", "faulty"):
        objects = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"],
                                 cwd=base / name / "harness", capture_output=True, check=True)
        assert objects.stdout and key not in objects.stdout
