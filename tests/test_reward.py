"""RubricReward: the protected judge and score as a TRL reward function, on the sim backend."""

import json

import pytest

from inner_loop.config import Config, ConfigError, RoleConfig
from inner_loop.evaluation import judge_answer
from inner_loop.example import RubricItem
from inner_loop.llm.client import LLMClient
from inner_loop.reward import RubricReward, parse_rubric
from inner_loop.scoring import score
from inner_loop.sim.server import SimServer

RUBRIC = [
    {"criterion": "Explains that gradient checkpointing recomputes activations", "weight": 5,
     "category": "core"},
    {"criterion": "States that peak memory drops with sqrt(n) checkpoint segments", "weight": 4,
     "category": "core"},
    {"criterion": "Mentions the extra forward pass costs roughly one third more compute",
     "weight": 2, "category": "detail"},
    {"criterion": "Claims that checkpointing reduces total compute", "weight": -3,
     "category": "error"},
]
QUESTION = "Why does gradient checkpointing trade compute for memory, and by how much?"
GOOD = ("Gradient checkpointing recomputes activations during the backward pass instead of "
        "storing them. Peak memory drops with sqrt(n) checkpoint segments. The extra forward "
        "pass costs roughly one third more compute.")
BAD = "I am not sure."


@pytest.fixture(scope="module")
def reward():
    return RubricReward(Config())


def test_reward_has_the_name_trl_logs():
    assert RubricReward(Config()).__name__ == "rubric_reward"


def test_reward_equals_the_protected_score_of_the_judge_verdicts(reward):
    client = LLMClient(Config())
    items = [RubricItem.model_validate(r) for r in RUBRIC]
    verdicts, _ = judge_answer(items, QUESTION, GOOD, client=client, tag="reward")
    expected = score([i.weight for i in items], verdicts)
    assert reward(prompts=[QUESTION], completions=[GOOD], rubric=[RUBRIC],
                  question=[QUESTION]) == [expected]


def test_answer_covering_the_rubric_beats_an_empty_one(reward):
    good, bad = reward(prompts=[QUESTION] * 2, completions=[GOOD, BAD], rubric=[RUBRIC] * 2,
                       question=[QUESTION] * 2)
    assert 0.0 <= bad < good <= 1.0


def test_chat_completions_score_like_plain_strings(reward):
    chat = [[{"role": "assistant", "content": GOOD}]]
    assert reward(prompts=[QUESTION], completions=chat, rubric=[RUBRIC], question=[QUESTION]) \
        == reward(prompts=[QUESTION], completions=[GOOD], rubric=[RUBRIC], question=[QUESTION])


def test_rubric_as_json_string_or_list_of_json_strings(reward):
    as_dicts = reward(prompts=[QUESTION], completions=[GOOD], rubric=[RUBRIC])
    as_string = reward(prompts=[QUESTION], completions=[GOOD], rubric=[json.dumps(RUBRIC)])
    as_items = reward(prompts=[QUESTION], completions=[GOOD],
                      rubric=[[json.dumps(r) for r in RUBRIC]])
    assert as_dicts == as_string == as_items


def test_question_defaults_to_the_last_user_message_of_a_chat_prompt(reward):
    prompt = [{"role": "system", "content": "Be helpful."}, {"role": "user", "content": QUESTION}]
    assert reward(prompts=[prompt], completions=[GOOD], rubric=[RUBRIC]) \
        == reward(prompts=[QUESTION], completions=[GOOD], rubric=[RUBRIC], question=[QUESTION])


def test_extra_trl_columns_are_ignored(reward):
    out = reward(prompts=[QUESTION], completions=[BAD], rubric=[RUBRIC], completion_ids=[[1, 2]],
                 trainer_state=None)
    assert len(out) == 1


def test_missing_rubric_column_is_an_error(reward):
    with pytest.raises(ValueError, match="'rubric' column"):
        reward(prompts=[QUESTION], completions=[GOOD])


def test_mismatched_column_lengths_are_an_error(reward):
    with pytest.raises(ValueError, match="one of each per row"):
        reward(prompts=[QUESTION], completions=[GOOD, BAD], rubric=[RUBRIC])


def test_invalid_rubric_is_an_error():
    with pytest.raises(ValueError, match="invalid rubric item"):
        parse_rubric([{"criterion": "x", "weight": "+5"}])
    with pytest.raises(ValueError, match="non-empty list"):
        parse_rubric("[]")


def test_a_simulated_judge_is_said_on_stderr_once_at_construction(capsys):
    reward = RubricReward(Config())
    assert capsys.readouterr().err.count("SIMULATED judge") == 1
    reward(prompts=[QUESTION] * 3, completions=[GOOD, BAD, GOOD], rubric=[RUBRIC] * 3)
    reward(prompts=[QUESTION], completions=[GOOD], rubric=[RUBRIC])
    assert "SIMULATED" not in capsys.readouterr().err


def _openai_judge(base_url, key_env=None):
    config = Config()
    config.roles["judge"] = RoleConfig(backend="openai", base_url=base_url, model="sim-judge",
                                       api_key_env=key_env, timeout_s=30.0)
    return config


def test_a_missing_judge_key_fails_at_construction_naming_the_variable(monkeypatch):
    monkeypatch.delenv("AUTODATA_TEST_JUDGE_KEY", raising=False)
    with pytest.raises(ConfigError, match="AUTODATA_TEST_JUDGE_KEY"):
        RubricReward(_openai_judge("http://127.0.0.1:9/v1", "AUTODATA_TEST_JUDGE_KEY"))
    monkeypatch.setenv("AUTODATA_TEST_JUDGE_KEY", "k")
    assert RubricReward(_openai_judge("http://127.0.0.1:9/v1", "AUTODATA_TEST_JUDGE_KEY"))


def test_an_endpoint_answering_as_the_sim_is_said_once_at_the_first_reward(capsys):
    with SimServer() as server:
        reward = RubricReward(_openai_judge(server.base_url))
        assert "SIMULATED" not in capsys.readouterr().err  # nothing known before an answer
        out = reward(prompts=[QUESTION] * 2, completions=[GOOD, BAD], rubric=[RUBRIC] * 2)
        reward(prompts=[QUESTION], completions=[GOOD], rubric=[RUBRIC])
    assert out[0] > out[1]
    err = capsys.readouterr().err
    assert err.count("SIMULATED judge (the endpoint answered as the simulated world)") == 1


def test_the_readme_recipe_without_its_key_stops_before_any_training(monkeypatch):
    """README "Train on the data": RubricReward(load_config("configs/paper.toml", []))."""
    from pathlib import Path

    from inner_loop.config import load_config

    monkeypatch.delenv("MOONSHOT_API_KEY", raising=False)
    paper = Path(__file__).resolve().parents[1] / "configs" / "paper.toml"
    with pytest.raises(ConfigError, match="MOONSHOT_API_KEY"):
        RubricReward(load_config(paper, []))
