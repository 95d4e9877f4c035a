"""What `evmon status` shows: each project's last days, from its snapshots and the run log.

A project's days end at the newest day that can run (yesterday in its timezone, as the scheduler
plans them: evmon.days.last_due_day). Each day's status is its latest run's, where "latest" is
the run that finished last: a `busy` run (another process held the day) is logged when it is
refused, so the run it met, logged when it finishes, wins over it; a `busy` that is newest means
the day is being run now. A day without any run is `ok` when its snapshot is there (a copied
workspace, a run log that could not be written) and `missing` otherwise, as is a day whose
successful run left no snapshot (deleted, or quarantined as unreadable).

Read through the Workspace interface and the run log only, so the file workspace and the UI's
database answer alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from evmon.config.model import EvmonConfig, Project
from evmon.days import day_range, last_due_day, today_in
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.base import Workspace
from evmon.storage.runlog import RunLog, RunRecord

DayState = Literal["ok", "failed", "busy", "skipped", "missing"]
STATES: tuple[DayState, ...] = ("ok", "failed", "busy", "skipped", "missing")


@dataclass(frozen=True)
class DayStatus:
    """One project-day: its status, what its latest run said, and whether its snapshot is there."""

    day: date
    status: DayState
    snapshot: bool
    message: str = ""  # the failure's error, the rows of an ok run, "" when there is nothing to say
    last_run: datetime | None = None  # when the latest run started (UTC, as the run log keeps it)
    trigger: str | None = None  # who ran it: cli, backfill, scheduler, app, demo, recovered
    runs: int = 0


@dataclass(frozen=True)
class ProjectStatus:
    """A project's last days, oldest first."""

    project: str
    timezone: str
    days: tuple[DayStatus, ...]

    def counts(self) -> dict[DayState, int]:
        return {state: sum(d.status == state for d in self.days) for state in STATES}

    @property
    def failed(self) -> bool:
        return any(d.status == "failed" for d in self.days)


def project_status(workspace: Workspace, project: Project, days: int = 14, today: date | None = None) -> ProjectStatus:
    """The project's `days` newest days that can run on `today` (its local date, default: now)."""
    last = last_due_day(today if today is not None else today_in(project.timezone))
    first = last - timedelta(days=days - 1)
    existing = {f.snapshot_id for f in workspace.list_snapshots(project_id(project.name))}
    runs: dict[date, list[RunRecord]] = {}
    for record in RunLog(workspace.evmon_dir).day_runs(project.name, first, last):
        runs.setdefault(record.day, []).append(record)
    rows = tuple(
        _day(day, daily_snapshot_id(project.name, day) in existing, runs.get(day, [])) for day in day_range(first, last)
    )
    return ProjectStatus(project.name, project.timezone, rows)


def workspace_status(
    config: EvmonConfig,
    workspace: Workspace,
    project: str | None = None,
    days: int = 14,
    today: date | None = None,
) -> list[ProjectStatus]:
    """Every enabled project's status, or the one named (UnknownProjectError naming the config's projects)."""
    chosen = [config.project(project)] if project is not None else [p for p in config.projects if p.enabled]
    return [project_status(workspace, p, days, today) for p in chosen]


def _day(day: date, snapshot: bool, runs: list[RunRecord]) -> DayStatus:
    if not runs:
        return DayStatus(day, "ok" if snapshot else "missing", snapshot, "" if not snapshot else "no run logged")
    latest = max(runs, key=lambda r: (r.started_at + timedelta(seconds=r.duration_s), r.started_at))
    status: DayState = latest.status
    message = _message(latest)
    if status == "ok" and not snapshot:
        status, message = "missing", "its snapshot is gone (deleted, or quarantined as unreadable)"
    return DayStatus(day, status, snapshot, message, latest.started_at, latest.trigger, len(runs))


def _message(run: RunRecord) -> str:
    if run.status == "ok":
        labels = "" if run.labels_included is None else (", with labels" if run.labels_included else ", without labels")
        return f"{run.rows} rows{labels}"
    if run.status == "skipped":
        return "no rows"
    return run.error or ""
