"""Candidate scoring's order at the endpoint (evolve/racing.py, "Longest first at the endpoint"):
the expected length of each paper's episode from the parent's earlier calls, the slot place a
job's episode runs at, and that an episode's calls carry that place."""

from __future__ import annotations

from pathlib import Path

import pytest

from evolve.context import RunSettings
from evolve.jobs import Job
from evolve.racing import expected_calls, longest_first
from evolve.run import start_run
from evolve.store import Store, StoreReader
from inner_loop.config import load_config
from inner_loop.llm import slots
from inner_loop.llm.client import LLMClient
from inner_loop.llm.episode_client import EpisodeClient
from inner_loop.llm.protocol import Client
from inner_loop.papers import select_papers


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("order") / "run"
    sets = ["seed=2", "inner_loop.max_rounds=2", "evolve.iterations=1", "evolve.concurrency=1",
            "evolve.minibatch=1", "evolve.final_repeats=0"]
    start_run(load_config(None, sets), RunSettings(validation_limit=3), path, show_progress=False)
    return path


def test_expected_calls_are_the_parents_earlier_calls_per_paper(run_dir):
    with StoreReader.open(run_dir) as r:
        tags = [x["tag"] for x in r.query("SELECT tag FROM llm_calls")]
    seed0 = [t.split("/")[3] for t in tags if t.startswith("it0/seed/validation/")]
    store = Store.open(run_dir)
    try:
        got = expected_calls(store, "seed", 0)
        assert got == {p: float(seed0.count(p)) for p in set(seed0)} and len(got) == 3
        # iteration 1 re-scored the seed: with upto 1 the mean covers both repeats
        both = [t.split("/")[3] for t in tags if t.split("/")[1:3] == ["seed", "validation"]]
        assert expected_calls(store, "seed", 1) == {p: both.count(p) / 2 for p in set(both)}
        assert expected_calls(store, "c9999-none", 5) == {}
        # a tag a harness could not shape into SQL: the candidate id is a bound parameter
        assert expected_calls(store, "seed' OR '1'='1", 5) == {}
    finally:
        store.close()


def test_the_longest_expected_episode_goes_first_and_unknown_papers_last():
    papers = select_papers(None, None, "validation")[:3]
    length = {papers[0].id: 30.0, papers[1].id: 12.0}
    seen = {}
    run = longest_first(lambda job: seen.setdefault(job.paper.id, slots.current_priority()),
                        length)
    for p in papers:
        run(Job("seed", Path("."), p, 0))
    assert seen == {papers[0].id: 0, papers[1].id: 18, papers[2].id: 30}
    assert slots.current_priority() == 0  # restored after each job


class _Observed(Client):
    """The real client, and the slot priority each call was sent at."""

    def __init__(self, client: LLMClient):
        self._client, self.config, self.places = client, client.config, []

    def build_request(self, role, messages, **kwargs):
        return self._client.build_request(role, messages, **kwargs)

    def send(self, request, *, tag=""):
        self.places.append(slots.current_priority())
        return self._client.send(request, tag=tag)


def test_an_episodes_calls_wait_at_its_jobs_place_plus_its_calls_so_far():
    observed = _Observed(LLMClient(load_config(None, [])))
    with slots.priority(40):
        episode = EpisodeClient(observed, "it1/c/validation/p/r1")
    for _ in range(3):
        episode.complete("weak_solver", [{"role": "user", "content": "What is 2 + 2?"}])
    assert observed.places == [41, 42, 43]
    plain = EpisodeClient(observed, "it0/seed/validation/p/r0")
    plain.complete("weak_solver", [{"role": "user", "content": "What is 2 + 2?"}])
    assert observed.places[-1] == 1


def test_the_next_iterations_minibatch_runs_in_the_seed_scorings_tail_and_only_once(run_dir):
    with StoreReader.open(run_dir) as r:
        mini = r.query("SELECT iteration, paper_id FROM evaluations WHERE purpose = 'minibatch'")
        seed_end = r.query("SELECT max(epoch(started_at) + duration_ms / 1000) AS t FROM "
                           "llm_calls WHERE tag LIKE 'it0/%'")[0]["t"]
        mini_start = r.query("SELECT min(epoch(started_at)) AS t FROM llm_calls WHERE tag "
                             "LIKE 'it1/seed/minibatch/%'")[0]["t"]
    # drawn before the seed was scored, the same paper select() drew after: one episode, not two
    assert [x["iteration"] for x in mini] == [1]
    assert mini_start < seed_end  # it started while the seed scoring was still running
