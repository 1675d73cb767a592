"""The model roles of the paper, one vocabulary for config, code, SQL and docs."""

from typing import Literal, get_args

Role = Literal[
    "orchestrator",
    "challenger",
    "verifier",
    "judge",
    "weak_solver",
    "strong_solver",
    "analyzer",
    "implementer",
]
ROLES: tuple[str, ...] = get_args(Role)

# Roles a harness may reach through the sandbox RPC `llm(role, messages)`.
HARNESS_ROLES: tuple[str, ...] = ("orchestrator", "challenger", "verifier")
# Roles only the protected runtime calls (evaluation) or only `evolve` calls (meta-optimisation).
PROTECTED_ROLES: tuple[str, ...] = ("judge", "weak_solver", "strong_solver")
EVOLVE_ROLES: tuple[str, ...] = ("analyzer", "implementer")
