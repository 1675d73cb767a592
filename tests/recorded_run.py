"""A small real run for the read-side tests (reports, export, evaluate, plots): a real DuckDB
store and a real harness git repo, built through Store / HarnessRepo exactly as the loop writes
them. `copy_of_run` builds it once per test session and copies it; `cli` runs the CLI in-process.
WRITER is a script that holds the run open for writing from another process."""

import json
import shutil
import textwrap
from pathlib import Path

from evolve.cli import main
from evolve.repo import HarnessRepo
from evolve.context import RunSettings, make_run_config
from evolve.run import prepare_run_dir
from evolve.store import Store
from inner_loop.config import load_config
from inner_loop.episode import EpisodeRecord, RoundRecord
from inner_loop.evaluation import JudgedSample, SolverEval
from inner_loop.example import Example, RubricItem

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "harness"
PROMPT = "prompts/challenger.md"
PAPERS = ["acl2023:1b4c7543b4", "acl2023:2417fdf0c1", "openreview:YLglAn-USkf"]
THRESHOLDS = {"weak_avg_max": 0.65, "weak_avg_strict": False, "weak_max_max": 0.75, "weak_no_zero": True,
              "strong_avg_min": 0.6, "strong_avg_below": 0.95, "min_gap": 0.2}
DIAGNOSIS = {"summary": "weak solver answers too well", "failure_counts": {"too_easy": 2}, "evidence": [],
             "hypotheses": [{"category": "too_easy", "target": PROMPT, "change": "ask about one mechanism",
                             "confidence": 0.6}]}


def solver_eval(solver, met_counts, n_items=10):
    """A SolverEval whose stored scores are what its judgments give (10 items of weight 1)."""
    samples = [JudgedSample(sample_index=i, answer=f"{solver} answer {i}", judgments=[k < m for k in range(n_items)],
                            score=m / n_items, judge_attempts=1) for i, m in enumerate(met_counts)]
    scores = [s.score for s in samples]
    return SolverEval(solver=solver, samples=samples, scores=scores, avg=sum(scores) / len(scores),
                      max=max(scores), min=min(scores), passed=True)


def example(tag, question=None):
    return Example(question_type="mechanism explanation", reasoning_skills=["causal reasoning", "synthesis"],
                   context=f"The paper studies a setting ({tag}).",
                   question=question or f"Why does the method of {tag} work?",
                   reference_answer=f"Because of the mechanism of {tag}.",
                   rubric=[RubricItem(criterion=f"States fact {k} of {tag}", weight=1, category="content")
                           for k in range(10)])


def episode(paper_id, accepted, tag, weak=(2, 3, 4), strong=(8, 7, 9), question=None):
    """An EpisodeRecord: a too_easy round, then (when accepted) an accepted round."""
    ex = example(f"{tag} {paper_id}", question)
    rounds = [RoundRecord(index=1, example=ex, weak=solver_eval("weak", (9, 9, 8)), outcome="too_easy",
                          failed_rule="weak_avg")]
    if accepted:
        rounds.append(RoundRecord(index=2, example=ex, weak=solver_eval("weak", weak),
                                  strong=solver_eval("strong", strong), outcome="accepted"))
    else:
        rounds.append(RoundRecord(index=2, example=ex, weak=solver_eval("weak", (3, 3, 3)),
                                  strong=solver_eval("strong", (4, 4, 4)), outcome="failed_on_strong",
                                  failed_rule="strong_avg_min"))
    return EpisodeRecord(
        paper_id=paper_id, paper_title=f"Title of {paper_id}", method="agentic", harness_version=tag,
        preset="deployed", thresholds=THRESHOLDS, max_rounds=6, status="accepted" if accepted else "exhausted",
        accepted=accepted, accepted_example=ex if accepted else None, accepted_round=2 if accepted else None,
        rounds=rounds, simulated=True).model_dump(mode="json")


def record_episodes(store, candidate, iteration, repeat, outcomes, tag=None, **kw):
    for paper_id, accepted in zip(PAPERS, outcomes):
        store.record_episode(episode(paper_id, accepted, tag or candidate, **kw), candidate, "validation",
                             repeat, iteration)


def calls(iteration, candidate, t0_s):
    out = []
    for k, (role, usd) in enumerate([("analyzer", 0.02), ("implementer", 0.05), ("judge", 0.001)]):
        out.append({"call_id": f"{candidate}-{k}", "role": role, "model": f"sim-{role}", "endpoint": "sim",
                    "tag": f"it{iteration}/{candidate}/{role}",
                    "messages": [{"role": "system", "content": f"You are the {role}."},
                                 {"role": "user", "content": f"prompt of {role} in iteration {iteration}"}],
                    "response": {"content": f"reply of {role} {iteration}", "usage": {"input_tokens": 100,
                                 "output_tokens": 20}},
                    "started_at": f"2026-01-01T00:{iteration:02d}:{t0_s + k:02d}+00:00", "duration_ms": 5.0,
                    "attempts": 1, "cost_usd": usd, "simulated": True})
    return out


def edit_and_propose(store, repo, candidate, parent_sha, text, diagnosis=DIAGNOSIS, path=PROMPT):
    scratch = repo.scratch(parent_sha, candidate)
    target = scratch / path
    target.write_text(target.read_text() + text)
    diff = repo.diff(scratch)
    store.record_proposal(candidate, diff, json.dumps(diagnosis), f"{path}: {text.strip()[:40]}",
                          [p.model_dump() for p in repo.changed_paths(scratch)])
    return scratch, diff


def build_run(run_dir: Path, run_id="rtest", finish=True):
    """seed (1/3, then 1/3 again) -> c1 accepted (2/3) -> c2 rejected (1/3), c3 invalid."""
    config = load_config(None, [])
    rc = make_run_config(config, RunSettings(validation_limit=3), run_id)
    prepare_run_dir(run_dir, rc)
    repo = HarnessRepo.init(run_dir, SEED, run_id)
    store = Store.open(run_dir, create=True)
    store.record_run(run_id, rc.model_dump_json(), repo.tree_sha(repo.seed_sha), True)
    store.record_run_event("running")
    store.record_seed(repo.seed_sha)
    record_episodes(store, "seed", 0, 0, [True, False, False])
    store.record_calls(calls(0, "seed", 0), iteration=0, candidate_id="seed")
    # iteration 1: accepted
    store.record_candidate(1, "c1", "seed")
    scratch, _ = edit_and_propose(store, repo, "c1", repo.seed_sha, "\nAsk about one concrete mechanism.\n")
    for state in ("validating", "scoring"):
        store.record_candidate_event("c1", state)
    record_episodes(store, "c1", 1, 0, [True, True, False])
    record_episodes(store, "seed", 1, 1, [True, False, False])
    store.record_candidate_event("c1", "scored")
    store.record_decision("c1", "accepted", "child 0.667 > parent 0.333", "strict", 2 / 3, 1 / 3)
    c1_sha = repo.commit_candidate(scratch, repo.seed_sha, "c1", 1, 2 / 3, "ask about one mechanism")
    store.record_commit("c1", c1_sha)
    repo.remove_scratch("c1")
    store.record_iteration(1, "c1", "seed", "accepted", "ask about one mechanism", 1 / 3, 2 / 3)
    store.record_calls(calls(1, "c1", 10), iteration=1, candidate_id="c1")
    # iteration 2: rejected
    store.record_candidate(2, "c2", "c1")
    edit_and_propose(store, repo, "c2", c1_sha, "\nPrefer questions about numbers.\n")
    for state in ("validating", "scoring"):
        store.record_candidate_event("c2", state)
    record_episodes(store, "c2", 2, 0, [False, True, False])
    store.record_candidate_event("c2", "scored")
    store.record_decision("c2", "rejected", "child 0.333 <= parent 0.667", "strict", 1 / 3, 2 / 3)
    repo.remove_scratch("c2")
    store.record_iteration(2, "c2", "c1", "rejected", "prefer numbers", 2 / 3, 1 / 3)
    store.record_calls(calls(2, "c2", 20), iteration=2, candidate_id="c2")
    # iteration 3: invalid (a protected file)
    store.record_candidate(3, "c3", "c1")
    edit_and_propose(store, repo, "c3", c1_sha, "\n# widened\n", path="harness.toml")
    store.record_decision("c3", "invalid", "touches protected path harness.toml")
    repo.remove_scratch("c3")
    store.record_iteration(3, "c3", "c1", "invalid", "widen the manifest", 2 / 3, None)
    repo.point_main(c1_sha)
    if finish:
        store.record_run_event("finished")
    store.close()
    return {"run_dir": run_dir, "seed_sha": repo.seed_sha, "c1_sha": c1_sha}


def copy_of_run(tmp_path_factory, dest: Path, finish=True):
    """A copy of one run built once per test session (building takes seconds, copying does not)."""
    template = tmp_path_factory.getbasetemp() / "reports-template-run"
    if not template.exists():
        building = template.with_name(template.name + ".building")
        shutil.rmtree(building, ignore_errors=True)
        paths = build_run(building / "run", finish=False)
        (building / "shas.json").write_text(json.dumps({k: paths[k] for k in ("seed_sha", "c1_sha")}))
        building.rename(template)
    shutil.copytree(template / "run", dest, symlinks=True)
    if finish:
        with Store.open(dest) as store:
            store.record_run_event("finished")
    return {**json.loads((template / "shas.json").read_text()), "run_dir": dest}




def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def cli_json(capsys, *argv):
    rc, out, err = cli(capsys, *argv, "--json")
    assert rc == 0, err
    return json.loads(out)


WRITER = textwrap.dedent("""
    import sys
    from evolve.lock import RunLock
    from evolve.store import Store
    lock = RunLock(sys.argv[1]); lock.acquire()
    store = Store.open(sys.argv[1], snapshot_interval_s=0.05)
    store.record_run_event("resumed")
    store.publish_snapshot()
    print("ready", flush=True)
    sys.stdin.readline()  # hold the database and the lock until the test is done
    store.close(); lock.release()
""")
