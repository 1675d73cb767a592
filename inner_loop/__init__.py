"""inner_loop: the protected runtime of one episode (paper -> rubric-graded examples).

Never imports `evolve`. Everything a harness can edit lives in a harness directory
(`harness/` is the seed); everything in this package is protected.
"""

__version__ = "0.1.0"

# The model backends this runtime has (inner_loop/llm/backends.py): the simulated world
# registers "sim" as it is imported; "openai" registers itself in llm/backends.py.
from inner_loop import sim  # noqa: E402, F401
