"""Backends: a role's `backend` name -> the function that answers its requests.

A backend is `(LLMRequest, RoleConfig) -> LLMResponse`, raising `TransientLLMError` (retried)
or `FatalLLMError` (not). `LLMClient` looks the role's backend up here on every attempt; it
never knows which backends exist. Two are registered:

  sim     the simulated model world, in this process: `inner_loop.sim` registers it when it is
          imported, and importing `inner_loop` imports it (inner_loop/__init__.py)
  openai  any OpenAI-compatible endpoint (llm/openai_backend.py, the only `openai` import),
          registered below; the module is imported at its first call, as the openai SDK
          takes about 2 s to import and a run on the sim never needs it

A role whose backend is not registered fails its call with a `FatalLLMError` naming it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from inner_loop.config import RoleConfig
from inner_loop.llm.types import FatalLLMError, LLMRequest, LLMResponse

Backend = Callable[[LLMRequest, RoleConfig], LLMResponse]

_lock = threading.Lock()
_BACKENDS: dict[str, Backend] = {}


def register(name: str, backend: Backend) -> None:
    """Answer the requests of every role with `backend = name` by `backend`."""
    with _lock:
        _BACKENDS[name] = backend


def registered() -> list[str]:
    with _lock:
        return sorted(_BACKENDS)


def dispatch(request: LLMRequest, role_config: RoleConfig) -> LLMResponse:
    """One attempt of `request` on the role's backend."""
    with _lock:
        backend = _BACKENDS.get(role_config.backend)
    if backend is None:
        raise FatalLLMError(f"{request.role}: no backend {role_config.backend!r} is registered "
                            f"(registered: {', '.join(registered()) or 'none'})")
    return backend(request, role_config)


def _openai(request: LLMRequest, role_config: RoleConfig) -> LLMResponse:
    from inner_loop.llm import openai_backend  # start-up time: the openai SDK (about 2 s)

    return openai_backend.complete(request, role_config)


register("openai", _openai)
