"""Configuration: TOML validated by pydantic, with `--set key=value` overrides.

Each role maps to an endpoint (backend, base_url, model), the *name* of the env var that holds
its API key (never the key itself), sampling settings, a concurrency cap and prices. With no file
at all, every role runs on the embedded simulated model world (`backend = "sim"`).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from inner_loop.errors import UserError
from inner_loop.roles import ROLES, Role


class ConfigError(UserError, ValueError):
    """A user error in configuration; the CLI prints it on one line and exits 1."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RoleConfig(Strict):
    backend: Literal["sim", "openai"] = "sim"
    base_url: str | None = None  # required for backend="openai"
    model: str = ""  # default for sim: "sim-<role>"
    api_key_env: str | None = None  # name of the env var holding the key; never the key
    temperature: float = 1.0
    max_tokens: int = 4096
    timeout_s: float = 120.0
    max_concurrency: int = 16  # per endpoint (backend + base_url); the lowest cap of its roles wins
    price_input_per_mtok: float = 0.0
    price_output_per_mtok: float = 0.0
    json_mode: Literal["schema", "object", "none"] = "schema"

    @model_validator(mode="after")
    def _check(self) -> "RoleConfig":
        if self.backend == "openai" and not self.base_url:
            raise ValueError("backend 'openai' needs base_url")
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        return self

    def endpoint_key(self) -> str:
        """Names the endpoint in records and concurrency groups; login details in a URL
        (`https://user:secret@host/v1`) are dropped so they never reach a record."""
        if self.backend == "sim":
            return "sim"
        parts = urlsplit(self.base_url or "")
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return f"openai:{urlunsplit((parts.scheme, netloc, parts.path, '', ''))}"


def _default_roles() -> dict[str, RoleConfig]:
    out = {}
    for role in ROLES:
        solver = role in ("weak_solver", "strong_solver")
        out[role] = RoleConfig(model=f"sim-{role}", temperature=1.0 if solver else 0.7)
    out["judge"] = RoleConfig(model="sim-judge", temperature=0.0)
    return out


class BudgetConfig(Strict):
    max_usd: float | None = None
    max_calls: int | None = None
    max_wall_s: float | None = None


class RetryConfig(Strict):
    max_attempts: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0


class CacheConfig(Strict):
    enabled: bool = False
    path: str | None = None  # default: <run or output dir>/llm_cache.sqlite


class InnerLoopConfig(Strict):
    preset: Literal["deployed", "paper_prose", "custom"] = "deployed"
    custom_thresholds: dict[str, float] | None = None
    max_rounds: int = 6
    samples_per_solver: int = 3
    episode_timeout_s: float = 300.0
    memory_mb: int = 1024
    # What one sandboxed episode may use (inner_loop/sandbox/README.md); exceeding one ends the
    # episode as the harness's failure (`harness_error`, "sandbox limit: ...").
    workdir_quota_mb: int = Field(default=256, ge=1)  # bytes on disk in its working dir
    workdir_max_files: int = Field(default=2000, ge=1)  # files, dirs and links in it
    max_harness_calls: int = Field(default=400, ge=1)  # llm + evaluate requests per episode
    max_record_mb: int = Field(default=32, ge=1)  # RPC bytes kept for the episode record
    concurrency: int = 8  # episodes in flight
    # Draw solver samples one by one and stop once the check's failure is settled (exact: the
    # report is the same prefix either way); false draws them together at the paper's cost.
    stop_sampling_early: bool = True


class EvolveConfig(Strict):
    iterations: int = 12
    concurrency: int = 2
    minibatch: int = 6
    repeats: int = 1
    selection_temperature: float = 0.1
    acceptance: Literal["strict", "confident"] = "strict"
    confidence: float = 0.9
    racing: bool = True  # strict only: stop scoring a child once it can no longer beat its parent
    share_calls: bool = True  # child and parent scoring send an identical request once
    # End of run: the top `final_top` accepted candidates by tally and the seed, re-evaluated
    # `final_repeats` times on the validation papers with fresh repeats (0: none; evolve/final.py)
    final_repeats: int = Field(default=4, ge=0, le=1000)
    final_top: int = Field(default=2, ge=1, le=100)


class SimConfig(Strict):
    """Settings of the simulated world that are part of the *request*, never hidden state."""

    latency_ms: float = 0.0


class Config(Strict):
    seed: int = 0
    roles: dict[Role, RoleConfig] = Field(default_factory=_default_roles)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    inner_loop: InnerLoopConfig = Field(default_factory=InnerLoopConfig)
    evolve: EvolveConfig = Field(default_factory=EvolveConfig)
    sim: SimConfig = Field(default_factory=SimConfig)

    @model_validator(mode="before")
    @classmethod
    def _fill_roles(cls, data: Any) -> Any:
        """A file may configure only some roles; the others keep the simulated default."""
        if isinstance(data, dict) and isinstance(data.get("roles"), dict):
            defaults = {k: v.model_dump() for k, v in _default_roles().items()}
            for role, over in data["roles"].items():
                if role in defaults and isinstance(over, dict):
                    base = dict(defaults[role])
                    if over.get("backend") == "openai":
                        base["model"] = ""
                    base.update(over)
                    defaults[role] = base
                else:
                    defaults[role] = over
            data = {**data, "roles": defaults}
        return data

    def role(self, role: str) -> RoleConfig:
        return self.roles[role]  # type: ignore[index]

    @property
    def simulated(self) -> bool:
        """True when any role answers from the simulated world (label every output)."""
        return any(r.backend == "sim" or "sim" in (r.model or "") for r in self.roles.values())


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `a.b.c=value` overrides (values parsed as JSON when they parse, else strings)."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. inner_loop.max_rounds=4")
        key, value = item.split("=", 1)
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {part} is not a table")
        node[parts[-1]] = _parse_value(value)
    return data


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: invalid TOML: {exc}") from None
    data = apply_overrides(data, overrides or [])
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(top level)"
        src = str(path) if path else "config"
        raise ConfigError(f"{src}: {where}: {first['msg']} ({exc.error_count()} error(s))") from None
