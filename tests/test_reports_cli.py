"""Read-only report commands (runs, show, log, diff, sql) on a small real run: a real DuckDB store
and a real harness git repo on tmp_path, built through Store / HarnessRepo exactly as the loop
writes them. `build_run` is shared with test_reports_plot.py and test_export.py."""

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

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


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    return {**copy_of_run(tmp_path_factory, results / "rtest"), "results": results}


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def cli_json(capsys, *argv):
    rc, out, err = cli(capsys, *argv, "--json")
    assert rc == 0, err
    return json.loads(out)


# -- runs ---------------------------------------------------------------------------------------


def test_runs_lists_a_finished_run_with_its_numbers(run, capsys):
    [r] = cli_json(capsys, "runs", "--results", run["results"])
    assert (r["run_id"], r["status"], r["simulated"]) == ("rtest", "finished", True)
    assert (r["iterations"], r["accepted"], r["rejected"], r["invalid"]) == (3, 1, 1, 1)
    assert r["best_candidate"] == "c1" and r["best_pass_rate"] == pytest.approx(2 / 3)
    assert r["seed_pass_rate"] == pytest.approx(1 / 3)
    assert r["spend_usd"] == pytest.approx(3 * 0.071) and r["llm_calls"] == 9


def test_runs_lists_newest_first_and_marks_a_run_without_an_end_interrupted(tmp_path_factory, tmp_path, capsys):
    copy_of_run(tmp_path_factory, tmp_path / "old")
    # a newer run that died before it wrote its database: only config.json
    prepare_run_dir(tmp_path / "new", make_run_config(load_config(None, []), RunSettings(), "new"))
    rows = cli_json(capsys, "runs", "--results", tmp_path)
    assert [(r["run_id"], r["status"], r["source"]) for r in rows] == [
        ("new", "interrupted", None), ("rtest", "finished", "live")]
    rc, out, _ = cli(capsys, "runs", "--results", tmp_path)
    assert rc == 0 and out.splitlines()[1].startswith("new") and "interrupted" in out


@pytest.mark.parametrize("event,detail,status,shown", [
    ("stopped", "budget: max_usd 1.0 reached", "finished", "stopped: budget: max_usd 1.0 reached"),
    ("stopped", "interrupted", "interrupted", "interrupted"),  # Ctrl-C: resume continues it
    ("failed", "RuntimeError: boom", "failed", "RuntimeError: boom"),
])
def test_runs_status_follows_the_last_run_event(tmp_path_factory, tmp_path, capsys, event, detail, status, shown):
    copy_of_run(tmp_path_factory, tmp_path / "r", finish=False)
    with Store.open(tmp_path / "r") as store:
        store.record_run_event(event, detail)
    [r] = cli_json(capsys, "runs", "--results", tmp_path)
    assert (r["status"], r["detail"]) == (status, shown)


# -- show ---------------------------------------------------------------------------------------


def test_show_gives_config_lineage_counts_and_cost(run, capsys):
    data = cli_json(capsys, "show", "rtest", "--results", run["results"])
    assert data["preset"] == "deployed" and data["thresholds"]["min_gap"] == 0.2
    assert data["config"]["evolve"]["iterations"] >= 1 and data["settings"]["validation_limit"] == 3
    lineage = {r["candidate_id"]: r for r in data["lineage"]}
    assert list(lineage) == ["seed", "c1"] and data["best_path"] == ["seed", "c1"]
    assert (lineage["seed"]["n_evaluations"], lineage["seed"]["pass_rate"]) == (6, pytest.approx(1 / 3))
    assert lineage["c1"]["commit_sha"] == run["c1_sha"] and lineage["c1"]["parent_id"] == "seed"
    assert lineage["c1"]["se"] == pytest.approx((1 / 3) ** 0.5 / 3 ** 0.5)  # sd of (1,1,0) / sqrt(3)
    assert data["counts"] == {"accepted": 1, "rejected": 1, "invalid": 1, "committing": 0, "in_progress": 0}
    cost = {r["role"]: r for r in data["cost_by_role"]}
    assert cost["implementer"]["usd"] == pytest.approx(0.15) and cost["judge"]["calls"] == 3


def test_show_text_names_the_simulated_run_and_the_lineage(run, capsys):
    rc, out, _ = cli(capsys, "show", run["run_dir"])
    assert rc == 0 and out.startswith("SIMULATED run rtest: finished")
    assert "66.7%" in out and run["c1_sha"][:10] in out and "preset deployed" in out


# -- log ----------------------------------------------------------------------------------------


def test_log_lists_attempts_with_summary_diagnosis_and_decision(run, capsys):
    rows = cli_json(capsys, "log", run["run_dir"])
    assert [(r["iteration"], r["candidate_id"], r["status"]) for r in rows] == [
        (1, "c1", "accepted"), (2, "c2", "rejected"), (3, "c3", "invalid")]
    assert json.loads(rows[0]["diagnosis"]) == DIAGNOSIS and rows[0]["changed_paths"] == [PROMPT]
    assert rows[1]["reason"] == "child 0.333 <= parent 0.667" and rows[2]["changed_paths"] == ["harness.toml"]


def test_log_filters_by_status_iteration_and_count(run, capsys):
    assert [r["candidate_id"] for r in cli_json(capsys, "log", run["run_dir"], "--status", "rejected")] == ["c2"]
    assert [r["candidate_id"] for r in cli_json(capsys, "log", run["run_dir"], "--iteration", "3")] == ["c3"]
    assert [r["candidate_id"] for r in cli_json(capsys, "log", run["run_dir"], "-n", "2")] == ["c2", "c3"]


def test_log_text_shows_the_diagnosis_hypotheses(run, capsys):
    rc, out, _ = cli(capsys, "log", run["run_dir"], "--status", "accepted")
    assert rc == 0 and "diagnosis: weak solver answers too well" in out
    assert f"[too_easy] {PROMPT}: ask about one mechanism" in out and "ACCEPTED" in out


def test_log_calls_show_prompts_and_responses_by_role(run, capsys):
    rows = cli_json(capsys, "log", run["run_dir"], "--calls", "--role", "analyzer")
    assert [r["iteration"] for r in rows] == [0, 1, 2]
    assert rows[1]["messages"][1]["content"] == "prompt of analyzer in iteration 1"
    assert rows[1]["response"]["content"] == "reply of analyzer 1"
    rc, out, _ = cli(capsys, "log", run["run_dir"], "--calls", "-n", "1")
    assert rc == 0 and "--- system\nYou are the judge." in out and "reply of judge 2" in out


# -- diff ---------------------------------------------------------------------------------------


def test_diff_of_an_accepted_candidate_is_gits_diff_against_its_parent(run, capsys):
    data = cli_json(capsys, "diff", run["run_dir"], "1")
    assert (data["source"], data["against"], data["commit_sha"]) == ("git", "seed", run["c1_sha"])
    assert f"+++ b/{PROMPT}" in data["diff"] and "+Ask about one concrete mechanism." in data["diff"]
    rc, out, err = cli(capsys, "diff", run["run_dir"], run["c1_sha"][:8], "--against", "seed")
    assert rc == 0 and out == data["diff"] and "c1 (iteration 1, accepted) against seed: git" in err


def test_diff_defaults_to_the_best_candidate_and_compares_with_any_accepted_iteration(run, capsys):
    assert cli_json(capsys, "diff", run["run_dir"])["candidate_id"] == "c1"
    back = cli_json(capsys, "diff", run["run_dir"], "seed", "--against", "1")
    assert "-Ask about one concrete mechanism." in back["diff"]


def test_diff_of_a_rejected_or_invalid_attempt_is_its_recorded_diff(run, capsys):
    rejected = cli_json(capsys, "diff", run["run_dir"], "2")
    assert (rejected["source"], rejected["against"]) == ("recorded", "c1")
    assert "+Prefer questions about numbers." in rejected["diff"]
    assert "+++ b/harness.toml" in cli_json(capsys, "diff", run["run_dir"], "c3")["diff"]
    rc, _, err = cli(capsys, "diff", run["run_dir"], "2", "--against", "seed")
    assert rc == 1 and "only its diff against its parent" in err


# -- sql ----------------------------------------------------------------------------------------


def test_sql_runs_a_select_and_prints_json_rows(run, capsys):
    rows = cli_json(capsys, "sql", run["run_dir"],
                    "SELECT candidate_id, n_evaluations FROM candidate_scores ORDER BY candidate_id")
    assert rows == [{"candidate_id": "c1", "n_evaluations": 3}, {"candidate_id": "c2", "n_evaluations": 3},
                    {"candidate_id": "seed", "n_evaluations": 6}]
    rc, out, _ = cli(capsys, "sql", run["run_dir"], "DESCRIBE runs")
    assert rc == 0 and "config_json" in out


@pytest.mark.parametrize("sql,message", [
    ("DELETE FROM runs", "only read statements"),
    ("SELECT 1; SELECT 2", "exactly one statement"),
    ("PRAGMA version", "only read statements"),
    ("SELEC 1", "bad SQL"),
    ("SELECT * FROM no_such_table", "bad SQL"),
    ("SELECT * FROM read_text('/etc/hostname')", "bad SQL"),  # file access is off on the connection
])
def test_sql_refuses_anything_but_one_read_with_one_line(run, capsys, sql, message):
    rc, out, err = cli(capsys, "sql", run["run_dir"], sql)
    assert rc == 1 and out == "" and message in err and len(err.strip().splitlines()) == 1


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["show", "no-such-run"], ["log", "no-such-run"], ["diff", "no-such-run"], ["sql", "no-such-run", "SELECT 1"],
    ["plot", "no-such-run", "-o", "x.png"], ["report", "no-such-run", "-o", "x"],
    ["export", "no-such-run", "-o", "x"], ["runs", "--results", "no-such-folder"],
])
def test_a_missing_run_is_one_line_and_exit_1(tmp_path, capsys, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    rc, out, err = cli(capsys, *argv)
    assert rc == 1 and out == "" and err.startswith("autodata: error:") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [["diff", "{run}", "9"], ["diff", "{run}", "nope"], ["export", "{run}", "-o", "{out}",
                                                                                     "--harness", "c2"]])
def test_a_bad_id_is_one_line_and_exit_1(run, tmp_path, capsys, argv):
    rc, out, err = cli(capsys, *[a.format(run=run["run_dir"], out=tmp_path / "x") for a in argv])
    assert rc == 1 and err.startswith("autodata: error:") and len(err.strip().splitlines()) == 1


# -- live ---------------------------------------------------------------------------------------

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


def test_every_command_works_while_another_process_holds_the_run(tmp_path_factory, tmp_path, capsys):
    paths = copy_of_run(tmp_path_factory, tmp_path / "results" / "live", finish=False)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(paths["run_dir"])], cwd=ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert writer.stdout.readline().strip() == "ready", writer.stderr.read()
        run_dir = paths["run_dir"]
        [r] = cli_json(capsys, "runs", "--results", tmp_path / "results")
        assert (r["status"], r["source"]) == ("running", "snapshot")
        assert cli_json(capsys, "show", run_dir)["run"]["status"] == "running"
        assert len(cli_json(capsys, "log", run_dir)) == 3 and cli_json(capsys, "log", run_dir, "--calls")
        assert cli_json(capsys, "diff", run_dir)["commit_sha"] == paths["c1_sha"]
        assert cli_json(capsys, "sql", run_dir, "SELECT count(*) AS n FROM candidates") == [{"n": 4}]
        assert cli(capsys, "plot", run_dir, "-o", tmp_path / "live.png")[0] == 0
        assert cli(capsys, "report", run_dir, "-o", tmp_path / "report")[0] == 0
        assert cli_json(capsys, "export", run_dir, "-o", tmp_path / "export")["rows"] == 2
    finally:
        writer.communicate("done\n", timeout=30)
    assert writer.returncode == 0
    assert cli_json(capsys, "runs", "--results", tmp_path / "results")[0]["status"] == "interrupted"
