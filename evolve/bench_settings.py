"""`autodata bench`'s settings and the run configuration every scenario starts from.

`BenchSettings` holds each scenario's size (small defaults: the whole benchmark in about 5
minutes on 2 cores; `quick()` for tests and `bench --quick`); `bench_config` is the evolution
run's `Config` a scenario uses: the bench's seed and round budget, a 1-paper minibatch, no final
re-evaluation, and, against a `sim-serve` endpoint, every role pointed at it under one cap.
`SCENARIOS` names what `bench --only` can pick.
"""

from __future__ import annotations

from dataclasses import dataclass

from inner_loop.config import Config, load_config
from inner_loop.roles import ROLES

SCENARIOS = ("saturation", "overhead", "scaling", "economy", "resume")


@dataclass
class BenchSettings:
    """Small defaults so the whole benchmark stays under 5 minutes on 2 cores."""

    latency_ms: float = 50.0  # scaling scenarios
    cap: int = 8  # C: the endpoint's concurrency cap for the saturation scenario
    saturation_latency_ms: float = 200.0  # C / L must stay below what 2 cores can serve
    saturation_papers: int = 25
    saturation_inflight: int = 25
    overhead_papers: tuple[int, int] = (5, 25)  # marginal CPU per call between the two sizes
    overhead_repeats: int = 3  # pairs measured; the median is reported
    scaling_papers: tuple[int, ...] = (10, 25, 50, 100)  # above 50: 50 papers × repeats
    scaling_inflight: tuple[int, ...] = (1, 4, 16, 64)
    scaling_cap: int = 16
    scaling_inflight_papers: int = 10
    economy_iterations: int = 3
    economy_papers: int = 10
    economy_sets: tuple[str, ...] = ("seed=1", "inner_loop.max_rounds=6",
                                     "inner_loop.concurrency=4")
    resume_iterations: int = 1
    sdk_calls: int = 400  # the bare openai client's identical requests, per overhead pair
    max_rounds: int = 2
    seed: int = 2
    only: tuple[str, ...] = SCENARIOS  # the scenarios run (`bench --only`)

    def quick(self) -> "BenchSettings":
        """The smallest sizes that still measure every figure (`bench --quick`)."""
        self.saturation_papers, self.scaling_papers, self.scaling_inflight = 5, (3, 6, 100), (1, 8)
        self.scaling_inflight_papers, self.economy_iterations, self.economy_papers = 3, 2, 4
        self.overhead_papers, self.overhead_repeats = (2, 4), 1
        return self


def bench_config(bs: BenchSettings, sets: list[str], base_url: str | None, cap: int) -> Config:
    """The run's config: the in-process simulated world (`base_url` None), or every role at the
    `sim-serve` endpoint `base_url` with `cap` calls in flight (one endpoint, one cap)."""
    # the bench measures the loop's own work: no end-of-run final re-evaluation (evolve/final.py)
    config = load_config(None, [f"seed={bs.seed}", f"inner_loop.max_rounds={bs.max_rounds}",
                                "evolve.minibatch=1", "evolve.final_repeats=0"] + sets)
    if base_url is None:
        return config
    roles = {r: config.roles[r].model_copy(update={  # type: ignore[index]
        "backend": "openai", "base_url": base_url, "model": f"sim-{r}",
        "max_concurrency": cap, "timeout_s": 60.0}) for r in ROLES}
    return config.model_copy(update={"roles": roles})
