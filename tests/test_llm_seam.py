"""The model seam (inner_loop/llm/protocol.py, backends.py): every wrapper of the run's client is
a `Client`, and a role's backend is looked up in the registry, never branched on.

Real calls: the in-process simulated world and a loopback HTTP endpoint."""

import ast
from pathlib import Path

import pytest

from evolve.jobs import RepeatClient
from inner_loop.config import Config, RoleConfig
from inner_loop.llm import Client, SharingClient, backends
from inner_loop.llm.client import LLMClient
from inner_loop.llm.episode_client import EpisodeClient
from inner_loop.llm.shared import SharedCalls
from inner_loop.llm.types import FatalLLMError
from canned_endpoint import Canned, completion

ROOT = Path(__file__).resolve().parents[1]
HI = [{"role": "user", "content": "Why does attention scale quadratically?"}]


def test_every_wrapper_of_the_client_is_a_client():
    client = LLMClient(Config())
    assert isinstance(client, SharingClient)
    for view in (EpisodeClient(client, "episode:p"), RepeatClient(client, 1, SharedCalls())):
        assert isinstance(view, Client) and view.config is client.config
        assert view.complete("weak_solver", HI).content  # build_request + send, through the view


def test_a_view_changes_what_it_wraps_and_nothing_else():
    records = []
    client = LLMClient(Config(), recorder=records.append)
    direct = client.complete("weak_solver", HI, sample_index=2)
    via = EpisodeClient(client, "episode:p").complete("weak_solver", HI, sample_index=2, tag="x")
    assert via.content == direct.content and [r.tag for r in records] == ["", "episode:p/x"]
    shifted = RepeatClient(client, 1).build_request("weak_solver", HI, sample_index=2)
    assert shifted.sample_index == 2 + RepeatClient(client, 1).sample_offset


def test_the_client_calls_the_registered_backend(monkeypatch):
    """Attack: a backend registered under the role's name is what answers (no if/else on the
    name inside the client)."""
    seen = []
    sim = backends.backend_for("sim")

    def counting(request, role_config):
        seen.append(request.role)
        return sim(request, role_config)

    monkeypatch.setitem(backends._BACKENDS, "sim", counting)
    response = LLMClient(Config()).complete("judge", HI)
    assert seen == ["judge"] and response.simulated


def test_an_unregistered_backend_fails_the_call_and_reaches_no_endpoint(monkeypatch):
    """As in a process where the package is not installed: no entry points, nothing registered."""
    monkeypatch.setattr(backends, "GROUP", "autodata.backends.none")
    monkeypatch.setattr(backends, "_BACKENDS", {})
    records = []
    with Canned(lambda body, h: (200, {}, completion({"content": "hi"}))) as ep:
        config = Config()
        config.roles["weak_solver"] = RoleConfig(backend="openai", base_url=ep.base_url,
                                                 model="m", api_key_env=None)
        with pytest.raises(FatalLLMError, match="no backend 'openai' is registered"):
            LLMClient(config, recorder=records.append).complete("weak_solver", HI)
        assert ep.seen == []
    assert [r.error_kinds for r in records] == [["fatal"]]


def test_default_backends_and_no_import_from_llm_to_sim():
    assert backends.registered() == ["openai", "sim"]  # pyproject.toml's entry points
    for path in (ROOT / "inner_loop" / "llm").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not [n for n in names if n.startswith("inner_loop.sim")], path.name
            if isinstance(node, ast.ImportFrom) and node.module == "inner_loop":
                assert "sim" not in [a.name for a in node.names], path.name


def test_the_ray_workers_client_is_a_client():
    """An episode on a Ray worker builds requests as the driver does (no cluster needed)."""
    ray_worker = pytest.importorskip("inner_loop.ray_worker", exc_type=ImportError)
    config = Config()
    view = ray_worker.DriverClient(broker=None, token="t", config=config, sample_offset=7)
    assert isinstance(view, Client)
    built = view.build_request("judge", HI, sample_index=2)
    assert built == LLMClient(config).build_request("judge", HI, sample_index=9)
