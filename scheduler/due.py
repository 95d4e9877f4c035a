"""Which days a project's scheduled run must do: pure functions of what the workspace holds.

The workspace is the scheduler's only state (no job store). For a project on a given local
`today`, the due days are:

- the days MISSING since its newest daily snapshot, oldest first, within the catch-up
  window: the `max_catchup_days` days ending yesterday (a week of downtime is caught up on
  start; older gaps are a backfill's job, not the scheduler's);
- the days whose labels have ARRIVED (``labels_arrived(day, today, label_lag_days)``) but
  whose snapshot was made without them, for days whose labels arrived within the catch-up
  window (the window start minus the label lag), so an old workspace never triggers a mass
  re-run. A day whose label state is unknown is left alone.

The I/O that gathers the inputs (which snapshots exist, the run log's labels_included, the
snapshot metadata as a fallback) lives in scheduler.service; everything here is pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from evmon.config.model import Project
from evmon.days import day_range, labels_arrived, last_due_day

# day -> whether its snapshot holds the quality metrics (True/False), None when unknown
DoneDays = Mapping[date, bool | None]


@dataclass(frozen=True)
class DuePolicy:
    """The project settings that decide its due days."""

    max_catchup_days: int
    label_lag_days: int
    has_quality: bool

    @classmethod
    def of(cls, project: Project) -> DuePolicy:
        return cls(project.max_catchup_days, project.label_lag_days, project.has_quality)


def catchup_window(today: date, policy: DuePolicy) -> tuple[date, date]:
    """The first and last day (yesterday) the scheduler may run, both inclusive."""
    yesterday = last_due_day(today)
    return yesterday - timedelta(days=policy.max_catchup_days - 1), yesterday


def scan_window(today: date, policy: DuePolicy) -> tuple[date, date]:
    """The days whose state due_days looks at: the catch-up window, widened by the label lag."""
    first, yesterday = catchup_window(today, policy)
    return first - timedelta(days=policy.label_lag_days), yesterday


def needs_labels(day: date, labels: bool | None, today: date, policy: DuePolicy) -> bool:
    """Whether a day's existing snapshot must be redone because its labels have now arrived."""
    return policy.has_quality and labels is False and labels_arrived(day, today, policy.label_lag_days)


def day_is_due(day: date, exists: bool, labels: bool | None, today: date, policy: DuePolicy) -> bool:
    """Whether one planned day still has to run: no snapshot yet, or one lacking arrived labels.

    Asked again under the day's lock, just before running it (another process may have done it).
    """
    return not exists or needs_labels(day, labels, today, policy)


def due_days(done: DoneDays, today: date, policy: DuePolicy) -> list[date]:
    """The days to run now, oldest first; `done` maps each day holding a snapshot to its labels."""
    first, yesterday = catchup_window(today, policy)
    scan_first, _ = scan_window(today, policy)
    known = {day: labels for day, labels in done.items() if day <= yesterday}
    newest = max(known, default=None)
    start = first if newest is None else max(first, newest + timedelta(days=1))
    due = set(day_range(start, yesterday)) if start <= yesterday else set()
    due.update(day for day, labels in known.items() if day >= scan_first and needs_labels(day, labels, today, policy))
    return sorted(due)
