"""Read-only reports of runs: list, show, log, diff, plot, HTML report, SQL, export. See README.md.

Nothing here writes to a run folder: every database access goes through
`evolve.store.StoreReader` (read-only; the published snapshot while a run is live) and every git
access only reads the harness repo."""

# The figure kinds of `autodata plot`; here so the CLI can list them without importing matplotlib.
KINDS = ("trajectory", "failures", "cost", "lineage")
