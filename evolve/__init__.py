"""evolve: the outer loop (meta-optimisation of the harness) and everything around a run."""
