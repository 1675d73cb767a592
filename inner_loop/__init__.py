"""inner_loop: the protected runtime of one episode (paper -> rubric-graded examples).

Never imports `evolve`. Everything a harness can edit lives in a harness directory
(`harness/` is the seed); everything in this package is protected.
"""

__version__ = "0.1.0"
