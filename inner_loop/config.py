"""Configuration: TOML validated by pydantic, with `--set key=value` overrides.

Each role maps to an endpoint (backend, base_url, model), the *name* of the env var that holds
its API key (never the key itself), sampling settings, a concurrency cap and prices. With no file
at all, every role runs on the embedded simulated model world (`backend = "sim"`).

`Config` holds the sections the inner loop reads. A package built on it adds its own sections by
subclassing `Config` and naming the subclass as the entry point `autodata.config` (the outer
loop adds `[evolve]` so, pyproject.toml); `load_config` validates a file against that schema
(`schema()`), so one call loads every section while this package names none but its own.
"""

from __future__ import annotations

import json
import tomllib
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, model_validator

from inner_loop import strict
from inner_loop.errors import UserError
from inner_loop.redact import MARK, redact_url, remember_secrets, url_secrets
from inner_loop.roles import ROLES, Role


class ConfigError(UserError, ValueError):
    """A user error in configuration; the CLI prints it on one line and exits 1."""


class Strict(strict.Strict):
    model_config = ConfigDict(allow_inf_nan=False)  # and strict.Strict's extra="forbid"


class RoleConfig(Strict):
    backend: Literal["sim", "openai"] = "sim"
    base_url: str | None = None  # required for backend="openai"
    model: str = ""  # default for sim: "sim-<role>"
    api_key_env: str | None = None  # name of the env var holding the key; never the key
    temperature: float = Field(default=1.0, ge=0, le=2)
    max_tokens: int = Field(default=4096, ge=1)
    timeout_s: float = Field(default=120.0, gt=0)
    # per endpoint (backend + base_url); the lowest cap of its roles wins
    max_concurrency: int = Field(default=16, ge=1)
    price_input_per_mtok: float = Field(default=0.0, ge=0)
    price_output_per_mtok: float = Field(default=0.0, ge=0)
    # input tokens the endpoint served from its prefix cache (usage.cached_tokens); None: the input price
    price_cached_input_per_mtok: float | None = Field(default=None, ge=0)
    json_mode: Literal["schema", "object", "none"] = "schema"

    @model_validator(mode="after")
    def _check(self) -> "RoleConfig":
        if self.backend == "openai" and not self.base_url:
            raise ValueError("backend 'openai' needs base_url")
        if self.base_url:  # its login details are removed from every text we write or show
            remember_secrets(url_secrets(self.base_url))
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
    max_usd: float | None = Field(default=None, ge=0)
    max_calls: int | None = Field(default=None, ge=0)
    max_wall_s: float | None = Field(default=None, ge=0)


class RetryConfig(Strict):
    max_attempts: int = Field(default=6, ge=1)
    base_delay_s: float = Field(default=0.5, ge=0)
    max_delay_s: float = Field(default=30.0, ge=0)


class CacheConfig(Strict):
    enabled: bool = False
    path: str | None = None  # default: <run or output dir>/llm_cache.sqlite


class InnerLoopConfig(Strict):
    preset: Literal["deployed", "paper_prose", "custom"] = "deployed"
    custom_thresholds: dict[str, float] | None = None
    max_rounds: int = Field(default=6, ge=1)
    samples_per_solver: int = Field(default=3, ge=1)
    episode_timeout_s: float = Field(default=300.0, gt=0)
    memory_mb: int = Field(default=1024, ge=64)
    # What one sandboxed episode may use (inner_loop/sandbox/README.md); exceeding one ends the
    # episode as the harness's failure (`harness_error`, "sandbox limit: ...").
    workdir_quota_mb: int = Field(default=256, ge=1)  # bytes on disk in its working dir
    workdir_max_files: int = Field(default=2000, ge=1)  # files, dirs and links in it
    max_harness_calls: int = Field(default=400, ge=1)  # llm + evaluate requests per episode
    max_record_mb: int = Field(default=32, ge=1)  # RPC bytes kept for the episode record
    concurrency: int = Field(default=8, ge=1)  # episodes in flight
    # Draw solver samples one by one and stop once the check's failure is settled (exact: the
    # report is the same prefix either way); false draws them together at the paper's cost.
    stop_sampling_early: bool = True


class ExecutorConfig(Strict):
    """Where episodes run (inner_loop/executor.py, docs/scale-out.md): `local` threads in this
    process, or `ray` tasks on a Ray cluster (`address`: "local" starts a throw-away one-machine
    cluster, "auto" joins the cluster this host belongs to, "ray://host:10001" a remote head)."""

    kind: Literal["local", "ray"] = "local"
    address: str = Field(default="local", pattern=r"^(local|auto|ray://[^\s/]+(:\d+)?)$")
    episode_cpus: float = Field(default=1.0, gt=0, le=64)  # CPUs Ray reserves per episode
    max_retries: int = Field(default=3, ge=0, le=100)  # re-runs after its worker or node died


class SimConfig(Strict):
    """Settings of the simulated world that are part of the *request*, never hidden state."""

    latency_ms: float = Field(default=0.0, ge=0)


class Config(Strict):
    seed: int = 0
    roles: dict[Role, RoleConfig] = Field(default_factory=_default_roles)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    inner_loop: InnerLoopConfig = Field(default_factory=InnerLoopConfig)
    sim: SimConfig = Field(default_factory=SimConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)

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

    def public_dump(self) -> dict[str, Any]:
        """The config as JSON data with secrets in URLs redacted: what files and outputs hold."""
        data = self.model_dump(mode="json")
        for role in data["roles"].values():
            role["base_url"] = redact_url(role["base_url"])
        return data

    def redacted_roles(self) -> list[str]:
        """Roles whose base_url lost its login details when written (a resumed run needs them)."""
        return [name for name, rc in self.roles.items() if rc.base_url and MARK in rc.base_url]

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


SCHEMA_GROUP = "autodata.config"


@cache
def schema() -> type[Config]:
    """The configuration schema files are validated against: the `Config` subclass an installed
    package names as entry point `autodata.config` (the first one), else `Config` itself."""
    for ep in sorted(entry_points(group=SCHEMA_GROUP), key=lambda e: e.name):
        found = ep.load()
        if isinstance(found, type) and issubclass(found, Config):
            return found
    return Config


def load_config(path: str | Path | None = None, overrides: list[str] | None = None,
                model: type[Config] | None = None) -> Config:
    """The configuration of `path` (None: every default) with `overrides` applied, validated
    against `model` (default: `schema()`)."""
    model = model or schema()
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
        return model.model_validate(data)
    except ValidationError as exc:
        why = strict.first_error(exc, model=model, count=True)
        raise ConfigError(f"{str(path) if path else 'config'}: {why}") from None
