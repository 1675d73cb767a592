"""Every setting validated before anything is created or spent; config.json re-checked on resume.

Each bad value exits 1 with one line naming the key and its allowed range, before a run folder
exists. A hand-edited config.json is validated the same way at resume, and a change to anything
that defines the run is refused naming the key; budgets and concurrency may change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inner_loop.config import load_config
from evolve.cli import build_parser, main
from evolve.commands.evolve_cmd import split_overrides
from evolve.config import load_config as load_evolve_config
from evolve.repo import HarnessRepo
from evolve.context import RunSettings, make_run_config
from evolve.run import prepare_run_dir
from evolve.store import Store

BAD = [  # (--set, the key named, the allowed range named)
    ("evolve.selection_temperature=0", "evolve.selection_temperature", "must be > 0, got 0"),
    ("evolve.confidence=5", "evolve.confidence", "must be > 0 and < 1, got 5"),
    ("evolve.confidence=0", "evolve.confidence", "must be > 0 and < 1, got 0"),
    ("inner_loop.samples_per_solver=0", "inner_loop.samples_per_solver", "must be >= 1"),
    ("inner_loop.max_rounds=0", "inner_loop.max_rounds", "must be >= 1"),
    ("inner_loop.max_rounds=-2", "inner_loop.max_rounds", "must be >= 1"),
    ("roles.judge.temperature=5", "roles.judge.temperature", "must be >= 0 and <= 2, got 5"),
    ("roles.weak_solver.temperature=-0.1", "roles.weak_solver.temperature", ">= 0 and <= 2"),
    ("roles.judge.temperature=NaN", "roles.judge.temperature", "got nan"),
    ("roles.challenger.max_tokens=-5", "roles.challenger.max_tokens", "must be >= 1, got -5"),
    ("roles.verifier.timeout_s=-1", "roles.verifier.timeout_s", "must be > 0, got -1"),
    ("roles.verifier.max_concurrency=0", "roles.verifier.max_concurrency", "must be >= 1"),
    ("budget.max_usd=-1", "budget.max_usd", "must be >= 0, got -1"),
    ("budget.max_calls=-1", "budget.max_calls", "must be >= 0"),
    ("budget.max_wall_s=-1", "budget.max_wall_s", "must be >= 0"),
    ("inner_loop.episode_timeout_s=0", "inner_loop.episode_timeout_s", "must be > 0, got 0"),
    ("inner_loop.concurrency=0", "inner_loop.concurrency", "must be >= 1"),
    ("evolve.concurrency=0", "evolve.concurrency", "must be >= 1"),
    ("evolve.minibatch=0", "evolve.minibatch", "must be >= 1"),
    ("evolve.repeats=0", "evolve.repeats", "must be >= 1"),
    ("evolve.iterations=-1", "evolve.iterations", "must be >= 0"),
    ("retry.max_attempts=0", "retry.max_attempts", "must be >= 1"),
    ("run.validation_limit=0", "--set run.validation_limit", "must be >= 1, got 0"),
]


def one_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("autodata: error: "), err
    return lines[0]


@pytest.mark.parametrize("setting,key,allowed", BAD, ids=[b[0] for b in BAD])
def test_a_bad_setting_exits_1_in_one_line_before_a_run_folder_exists(tmp_path, capsys,
                                                                      setting, key, allowed):
    run_dir = tmp_path / "run"
    assert main(["evolve", "--run-dir", str(run_dir), "--set", setting]) == 1
    line = one_error(capsys.readouterr().err)
    assert f"{key}: " in line and allowed in line
    assert not run_dir.exists() and not (tmp_path / "results").exists()


def test_confident_policy_with_a_confidence_of_5_is_refused_up_front(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["evolve", "--run-dir", str(run_dir), "--policy", "confident",
                 "--set", "evolve.confidence=5"]) == 1
    assert "evolve.confidence: must be > 0 and < 1" in one_error(capsys.readouterr().err)
    assert not run_dir.exists()


def test_a_bad_budget_flag_is_refused_like_its_key(tmp_path, capsys):
    assert main(["evolve", "--run-dir", str(tmp_path / "run"), "--budget-usd", "-1"]) == 1
    assert "budget.max_usd: must be >= 0" in one_error(capsys.readouterr().err)


def test_a_bad_value_in_a_toml_file_names_the_file_and_key(tmp_path):
    from inner_loop.config import ConfigError
    path = tmp_path / "c.toml"
    path.write_text("[roles.judge]\ntemperature = 3.5\n")
    with pytest.raises(ConfigError, match=r"c.toml: roles.judge.temperature: must be >= 0 and <= 2"):
        load_config(path)


# -- config.json at resume --------------------------------------------------------------------


def _old_name(data):
    """config.json as a run written before `evolve.acceptance` was renamed `evolve.policy`."""
    data["config"]["evolve"]["acceptance"] = data["config"]["evolve"].pop("policy")


def _record(tmp_path: Path, old_name: bool = False) -> Path:
    run_dir = tmp_path / "run"
    rc = make_run_config(load_config(None, ["budget.max_calls=0", "evolve.iterations=1",
                                            "evolve.final_repeats=0"]),
                         RunSettings(validation_limit=1), run_dir.name)
    prepare_run_dir(run_dir, rc)
    recorded = rc.public_dump()
    if old_name:
        _old_name(recorded)
        (run_dir / "config.json").write_text(json.dumps(recorded))
    probe = HarnessRepo.init(tmp_path / "probe", rc.settings.seed_harness, "probe")
    with Store.open(run_dir, create=True) as store:  # the seed's tree: content-addressed
        store.record_run(rc.run_id, json.dumps(recorded, sort_keys=True),
                         probe.tree_sha(probe.seed_sha), rc.simulated)
    return run_dir


@pytest.fixture
def recorded_run(tmp_path: Path) -> Path:
    """A run folder as `autodata evolve` leaves it after its first write: config.json and the
    runs row in DuckDB (no episode yet)."""
    return _record(tmp_path)


def edit(run_dir: Path, fn) -> None:
    path = run_dir / "config.json"
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))


def _set(*keys: str, value):
    def fn(data):
        node = data
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return fn


DEFINING = [
    (("config", "seed"), 7, "config.seed is 7"),
    (("config", "roles", "judge", "model"), "other-judge", "config.roles.judge.model"),
    (("config", "roles", "judge", "temperature"), 0.5, "config.roles.judge.temperature"),
    (("config", "inner_loop", "preset"), "paper_prose", "config.inner_loop.preset"),
    (("preset",), "paper_prose", "preset is 'paper_prose'"),
    (("thresholds", "weak_avg_max"), 0.9, "thresholds.weak_avg_max"),
    (("settings", "split_path"), "/elsewhere/split.json", "settings.split_path"),
    (("settings", "corpus_path"), "/elsewhere/corpus.jsonl", "settings.corpus_path"),
    (("settings", "validation_limit"), 2, "settings.validation_limit"),
    (("config", "evolve", "policy"), "confident", "config.evolve.policy"),
]


@pytest.mark.parametrize("keys,value,named", DEFINING, ids=[".".join(d[0]) for d in DEFINING])
def test_resume_refuses_a_changed_key_that_defines_the_run(recorded_run, capsys, keys, value, named):
    edit(recorded_run, _set(*keys, value=value))
    before = sorted(p.name for p in recorded_run.iterdir())
    assert main(["resume", str(recorded_run)]) == 1
    line = one_error(capsys.readouterr().err)
    assert named in line and "may change on resume" in line
    assert sorted(p.name for p in recorded_run.iterdir()) == before  # no harness/, no lock


def test_resume_refuses_a_changed_run_id(recorded_run, capsys):
    edit(recorded_run, _set("run_id", value="someone-else"))
    assert main(["resume", str(recorded_run)]) == 1
    assert "run_id is 'someone-else', the run was recorded as 'run'" in one_error(
        capsys.readouterr().err)
    with Store.open(recorded_run) as store:
        assert [r["run_id"] for r in store.query("SELECT run_id FROM runs")] == ["run"]


@pytest.mark.parametrize("keys,value,named", [
    (("config", "evolve", "concurrency"), 0, "config.evolve.concurrency: must be >= 1, got 0"),
    (("config", "evolve", "selection_temperature"), 0, "config.evolve.selection_temperature: must be > 0"),
    (("config", "budget", "max_usd"), -1, "config.budget.max_usd: must be >= 0"),
    (("config", "inner_loop", "samples_per_solver"), 0, "must be >= 1"),
    (("config", "roles", "judge", "temperature"), 5,
     "config.roles.judge.temperature: must be >= 0 and <= 2, got 5"),
    (("settings", "validation_limit"), 0, "settings.validation_limit: must be >= 1, got 0"),
])
def test_resume_validates_config_json_like_the_cli(recorded_run, capsys, keys, value, named):
    edit(recorded_run, _set(*keys, value=value))
    assert main(["resume", str(recorded_run)]) == 1
    line = one_error(capsys.readouterr().err)
    assert "invalid run config" in line and named in line
    assert not (recorded_run / "harness").exists()


def test_resume_accepts_a_raised_budget_and_concurrency(recorded_run, capsys):
    """The documented way to continue a budget stop: raise the budget in config.json."""
    edit(recorded_run, _set("config", "budget", "max_calls", value=1))
    edit(recorded_run, _set("config", "evolve", "concurrency", value=4))
    edit(recorded_run, _set("config", "inner_loop", "concurrency", value=2))
    edit(recorded_run, _set("config", "evolve", "iterations", value=3))
    assert main(["resume", str(recorded_run)]) == 0
    capsys.readouterr()
    with Store.open(recorded_run) as store:
        assert store.run_info()["status"] == "stopped"  # the one call allowed, then the budget
        assert store.query("SELECT count(*) AS n FROM llm_calls WHERE NOT cached")[0]["n"] == 1


# -- the policy under its old name --------------------------------------------------------------

@pytest.mark.parametrize("flag", ["--policy", "--acceptance"])
def test_the_policy_flag_and_its_old_name_set_the_same_key(flag):
    args = build_parser().parse_args(["evolve", flag, "confident"])
    config_sets, _ = split_overrides(args)
    assert config_sets == ['evolve.policy="confident"']
    assert load_evolve_config(None, config_sets).evolve.policy == "confident"


def test_the_old_flag_is_documented_as_deprecated(capsys):
    with pytest.raises(SystemExit):
        main(["evolve", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--policy {strict,confident}" in help_text
    assert "--acceptance {strict,confident} deprecated: the old name of --policy" in help_text


def test_the_old_config_key_is_read_as_the_new_and_both_at_once_is_refused(tmp_path):
    from inner_loop.config import ConfigError
    assert load_evolve_config(None, ["evolve.acceptance=confident"]).evolve.policy == "confident"
    path = tmp_path / "c.toml"
    path.write_text('[evolve]\nacceptance = "confident"\n')
    config = load_evolve_config(str(path))
    assert config.evolve.policy == "confident" and "acceptance" not in config.model_dump()["evolve"]
    with pytest.raises(ConfigError, match="evolve.acceptance is the old name of evolve.policy"):
        load_evolve_config(None, ["evolve.acceptance=strict", "evolve.policy=confident"])


def test_a_run_recorded_under_the_old_key_resumes(tmp_path, capsys):
    """A run written before the rename: config.json and DuckDB's runs row both say
    `acceptance`; the resume reads it as `policy`, and the same value is no change."""
    run_dir = _record(tmp_path, old_name=True)
    assert main(["resume", str(run_dir)]) == 0
    capsys.readouterr()
    with Store.open(run_dir) as store:
        assert store.run_info()["status"] == "stopped"  # ran, up to the budget of 0 calls


def test_a_policy_changed_under_the_old_key_is_refused(tmp_path, capsys):
    run_dir = _record(tmp_path, old_name=True)
    edit(run_dir, _set("config", "evolve", "acceptance", value="confident"))
    assert main(["resume", str(run_dir)]) == 1
    line = one_error(capsys.readouterr().err)
    assert "config.evolve.policy is 'confident', the run was recorded with 'strict'" in line
