"""Backends: a role's `backend` name -> the function that answers its requests.

A backend is `(LLMRequest, RoleConfig) -> LLMResponse`, raising `TransientLLMError` (retried)
or `FatalLLMError` (not). `LLMClient` looks the role's backend up here on every attempt; it
never knows which backends exist. A backend is found by its name among

  - the ones registered in this process with `register(name, backend)`, else
  - the entry points of the group `autodata.backends` of the installed packages, loaded at the
    first call that needs one. This project declares two (pyproject.toml):
      sim     `inner_loop.sim:backend`, the simulated model world in this process
      openai  `inner_loop.llm.openai_backend:complete`, any OpenAI-compatible endpoint (the only
              module that imports the openai SDK, about 2 s: a run on the sim never loads it)

So llm/ imports neither the sim nor the SDK. A role whose backend is found nowhere fails its
call with a `FatalLLMError` naming it. A backend may carry a `prepare(role_config)` attribute:
`prepare` calls it when LLMClient is built (the openai backend builds its SDK client then).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib.metadata import entry_points

from inner_loop.config import RoleConfig
from inner_loop.llm.types import FatalLLMError, LLMRequest, LLMResponse

Backend = Callable[[LLMRequest, RoleConfig], LLMResponse]
GROUP = "autodata.backends"

_lock = threading.Lock()
_BACKENDS: dict[str, Backend] = {}


def register(name: str, backend: Backend) -> None:
    """Answer the requests of every role with `backend = name` by `backend` (in this process,
    ahead of an installed entry point of that name)."""
    with _lock:
        _BACKENDS[name] = backend


def registered() -> list[str]:
    """Every backend name a role can use here."""
    with _lock:
        names = set(_BACKENDS)
    return sorted(names | {ep.name for ep in entry_points(group=GROUP)})


def backend_for(name: str) -> Backend | None:
    with _lock:
        found = _BACKENDS.get(name)
    if found is not None:
        return found
    for ep in entry_points(group=GROUP, name=name):
        loaded = ep.load()
        with _lock:
            return _BACKENDS.setdefault(name, loaded)
    return None


def prepare(role_config: RoleConfig) -> None:
    """Load the role's backend and let it prepare for the role (its `prepare` attribute, if any)."""
    backend = backend_for(role_config.backend)
    ready = getattr(backend, "prepare", None)
    if ready is not None:
        ready(role_config)


def dispatch(request: LLMRequest, role_config: RoleConfig) -> LLMResponse:
    """One attempt of `request` on the role's backend."""
    backend = backend_for(role_config.backend)
    if backend is None:
        raise FatalLLMError(f"{request.role}: no backend {role_config.backend!r} is registered "
                            f"(registered: {', '.join(registered()) or 'none'}; is the package "
                            "installed? pip install -e .)")
    return backend(request, role_config)
