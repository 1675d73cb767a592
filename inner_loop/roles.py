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
# Roles only the protected runtime calls (evaluation). The other two, analyzer and implementer,
# are the outer loop's: it names them itself; they are in `Role` because the model seam (config,
# clients, the simulated world, the call records) serves every role with one vocabulary.
PROTECTED_ROLES: tuple[str, ...] = ("judge", "weak_solver", "strong_solver")
