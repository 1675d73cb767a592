"""What a run shows its user: progress on stderr (rich) — iteration, best validation pass rate
(the pooled tally: all validation evaluations so far, labelled so), accepted/rejected/invalid
counts, spend; a live bar on a terminal, else one line per event. The end-of-run summary is
evolve/summary.py."""

from __future__ import annotations

import sys
import threading
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class RunProgress:
    def __init__(self, total: int, *, simulated: bool, enabled: bool = True):
        self.console = Console(file=sys.stderr)
        self.enabled = enabled
        self.live = enabled and self.console.is_terminal
        self.label = "SIMULATED " if simulated else ""
        self._lock = threading.Lock()
        self._progress = Progress(
            TextColumn("[bold]evolve[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), console=self.console,
        )
        self._task = self._progress.add_task(self.label + "iterations", total=total, stats="")
        if self.live:
            self._progress.start()

    def note(self, text: str) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self.live:
                self._progress.console.log(text)
            else:
                self.console.print(f"evolve: {text}", highlight=False, soft_wrap=True)

    def update(self, done: int, *, best: float, counts: dict[str, int], spend_usd: float,
               event: str = "") -> None:
        stats = (f"best {best:.1%} (pooled tally)  accepted {counts.get('accepted', 0)}  "
                 f"rejected {counts.get('rejected', 0)}  invalid {counts.get('invalid', 0)}  "
                 f"${spend_usd:.4f}")
        with self._lock:
            self._progress.update(self._task, completed=done, stats=stats)
        if event:
            self.note(f"{event} | {done} done | {stats}")

    def close(self) -> None:
        if self.live:
            self._progress.stop()


def best_accepted(store: Any) -> str | None:
    """The accepted candidate with the highest validation pass rate (ties: the earliest)."""
    scores = store.candidate_scores(accepted_only=True)
    order = {r.candidate_id: r.iteration for r in store.candidate_statuses()}
    return max(scores, key=lambda c: (scores[c][0], -order[c]), default=None)
