"""One batch of project-days: the tasks, their results as they come, and a stop that keeps what finished.

The vocabulary shared by evmon.run.many (which runs a batch) and every executor
(evmon.run.executors), which computes its days and records each result here as it arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from evmon.config.model import EvmonConfig, Project
from evmon.run.day import DayResult
from evmon.storage.base import Workspace

Progress = Callable[[DayResult], None]


class Interrupted(Exception):
    """run_many was asked to stop: the days finished so far are kept, the rest were not started."""

    def __init__(self, done: list[DayResult], total: int) -> None:
        super().__init__(f"stopped after {len(done)} of {total} days")
        self.done = done
        self.total = total


@dataclass(frozen=True)
class DayTask:
    """One project-day to run; `still_due`, if given, is asked under the day's lock (see run_day)."""

    project: Project
    day: date
    still_due: Callable[[], bool] | None = None  # picklable (a partial of a module function)


class Batch:
    """One run_many call: its settings, and its results as they come (from any executor)."""

    def __init__(
        self,
        config: EvmonConfig,
        workspace: Workspace,
        force: bool,
        today: date | None,
        trigger: str,
        started_by: str | None,
        progress: Progress | None,
        results: dict[int, DayResult],
    ) -> None:
        self.config = config
        self.workspace = workspace
        self.day_kwargs: dict[str, Any] = {"today": today, "force": force, "trigger": trigger, "started_by": started_by}
        self.progress = progress
        self.results = results

    def record(self, index: int, result: DayResult) -> None:
        self.results[index] = result
        if self.progress is not None:
            self.progress(result)

    def done(self) -> list[DayResult]:
        return [self.results[i] for i in sorted(self.results)]


def summarize(results: list[DayResult]) -> str:
    """'7 days: 5 ok, 2 already there, 0 skipped (no rows), 0 failed'."""
    counts = {
        kind: sum(1 for r in results if r.outcome == kind) for kind in ("ok", "exists", "skipped", "busy", "failed")
    }
    parts = [f"{counts['ok']} ok", f"{counts['exists']} already there", f"{counts['skipped']} skipped (no rows)"]
    if counts["busy"]:
        parts.append(f"{counts['busy']} busy elsewhere")
    parts.append(f"{counts['failed']} failed")
    return f"{len(results)} days: " + ", ".join(parts)
