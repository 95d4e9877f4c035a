"""`evmon status`: each project's last days from the run log, as a table or JSON (evmon.storage.status)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from evmon.cli.options import DAY, EXIT_FAILED, config_option, handle_errors, load_config_file

if TYPE_CHECKING:
    from evmon.storage.status import ProjectStatus

MESSAGE_WIDTH = 70  # the table's message column; --json gives the whole message
_COLUMNS = ("DAY", "STATUS", "LAST RUN (UTC)", "BY", "MESSAGE")
_WIDTHS = (10, 7, 19, 9)


@click.command()
@config_option
@click.argument("project", required=False)
@click.option("--days", type=click.IntRange(1, 3660), default=14, show_default=True, help="How many days to show.")
@click.option("--today", type=DAY, default=None, help="Pretend today is this day (the days shown end the day before).")
@click.option("--json", "as_json", is_flag=True, help="A JSON list of projects, each with its days, on stdout.")
@handle_errors
def status(config_path: Path, project: str | None, days: int, today: date | None, as_json: bool) -> None:
    """Each enabled project's (or PROJECT's) last days up to yesterday in its timezone, from the run log.

    A day is ok, failed (with its message), busy (another process was running it), skipped (no rows)
    or missing (no snapshot). Exit 0, or 1 if a day shown failed.
    """
    from evmon.storage.registry import workspace_for
    from evmon.storage.status import workspace_status

    config = load_config_file(config_path)
    if project is not None:
        config.project(project)  # an unknown name is bad input before any workspace is opened
    workspace = workspace_for(config)
    workspace.prepare()
    projects = workspace_status(config, workspace, project, days, today)
    if as_json:
        click.echo(json.dumps([_as_json(p) for p in projects], indent=2))
    else:
        click.echo("\n\n".join(_table(p) for p in projects))
    if any(p.failed for p in projects):
        sys.exit(EXIT_FAILED)


def _table(project: ProjectStatus) -> str:
    counts = ", ".join(f"{n} {state}" for state, n in project.counts().items())
    first, last = project.days[0].day, project.days[-1].day
    lines = [f"{project.project} ({project.timezone}) {first}..{last}: {counts}", _row(_COLUMNS)]
    for day in project.days:
        when = _utc(day.last_run) if day.last_run is not None else "-"
        lines.append(_row((str(day.day), day.status, when, day.trigger or "-", _short(day.message))))
    return "\n".join(lines)


def _row(cells: tuple[str, ...]) -> str:
    padded = [cell.ljust(width) for cell, width in zip(cells, _WIDTHS, strict=False)]
    return "  ".join([*padded, cells[-1]]).rstrip()


def _short(message: str) -> str:
    """The message on one line, cut to MESSAGE_WIDTH characters ("..." says it was)."""
    text = " ".join(message.split())
    return text if len(text) <= MESSAGE_WIDTH else text[: MESSAGE_WIDTH - 3] + "..."


def _utc(moment: datetime) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _as_json(project: ProjectStatus) -> dict[str, Any]:
    return {
        "project": project.project,
        "timezone": project.timezone,
        "first_day": project.days[0].day.isoformat(),
        "last_day": project.days[-1].day.isoformat(),
        "counts": project.counts(),
        "days": [
            {
                "day": d.day.isoformat(),
                "status": d.status,
                "snapshot": d.snapshot,
                "message": d.message,
                "last_run": None if d.last_run is None else d.last_run.isoformat(),
                "trigger": d.trigger,
                "runs": d.runs,
            }
            for d in project.days
        ],
    }


COMMANDS = (status,)
