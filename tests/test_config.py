"""Configuration: TOML + --set overrides, validation errors as one-line user errors."""

import pytest

from inner_loop.config import ConfigError, RoleConfig, load_config


def test_defaults_put_every_role_on_the_simulated_world():
    config = load_config()
    assert config.simulated
    assert {r.backend for r in config.roles.values()} == {"sim"}
    assert config.roles["weak_solver"].temperature == 1.0


def test_overrides_parse_json_values_and_dotted_keys():
    config = load_config(overrides=["inner_loop.max_rounds=3", "roles.judge.temperature=0.2", "seed=7"])
    assert (config.inner_loop.max_rounds, config.roles["judge"].temperature, config.seed) == (3, 0.2, 7)


def test_a_file_configuring_one_role_keeps_the_others_simulated(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[roles.challenger]\nbackend = "openai"\nbase_url = "http://localhost:9/v1"\nmodel = "m"\n')
    config = load_config(path)
    assert config.roles["challenger"].backend == "openai"
    assert config.roles["verifier"].backend == "sim"


def test_bad_input_is_a_one_line_config_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[inner_loop]\nmax_rounds = 'many'\n")
    with pytest.raises(ConfigError, match=r"inner_loop.max_rounds") as exc:
        load_config(bad)
    assert "\n" not in str(exc.value)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="key=value"):
        load_config(overrides=["no-equals-sign"])
    with pytest.raises(ConfigError, match="base_url"):
        load_config(overrides=['roles.judge.backend="openai"', 'roles.judge.model="m"'])


def test_endpoint_key_never_carries_login_details():
    role = RoleConfig(backend="openai", base_url="https://user:s3cret@api.example.com:8443/v1?token=abc", model="m")
    key = role.endpoint_key()
    assert key == "openai:https://api.example.com:8443/v1"
    assert "s3cret" not in key and "abc" not in key


def test_paper_config_loads_and_is_not_simulated():
    from pathlib import Path
    config = load_config(Path(__file__).resolve().parents[1] / "configs" / "paper.toml")
    assert not config.simulated
    assert config.roles["strong_solver"].model == "Qwen/Qwen3.5-397B-A17B"
    assert config.roles["challenger"].api_key_env == "MOONSHOT_API_KEY"
