"""The "evmon / Service health" dashboard, grafana/dashboards/service_health.json: the scheduler's runs and the
bridge."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from evmon.grafana.frame import board, project_variable
from evmon.grafana.panels import Column, columns, scale, stat_panel, table_panel, time_series

RUNS_IN_RANGE_SQL = """SELECT r.status, count(*) AS runs
FROM evmon.runs r
WHERE r.project = ANY(ARRAY[$project]::text[]) AND $__timeFilter(r.started_at)
GROUP BY r.status
ORDER BY 1
"""

BRIDGE_LAST_CHANGE_SYNCED_SQL = """SELECT extract(epoch FROM now() - (st.value->>'at')::timestamptz) AS since_last_change
FROM evmon.sync_state st
WHERE st.key = 'last_sync'
"""  # noqa: E501

RUNS_PER_DAY_BY_STATUS_SQL = """SELECT $__timeGroupAlias(r.started_at, '1d'), r.status AS metric, count(*) AS runs
FROM evmon.runs r
WHERE r.project = ANY(ARRAY[$project]::text[]) AND $__timeFilter(r.started_at)
GROUP BY 1, 2
ORDER BY 1, 2
"""


def _per_run(column: str) -> str:
    """A point per run started in the range (at its start), a series per project: the run's `column`."""
    return f"""SELECT r.started_at AS "time", r.project AS metric, r.{column}
FROM evmon.runs r
WHERE r.project = ANY(ARRAY[$project]::text[]) AND $__timeFilter(r.started_at)
ORDER BY 1, 2
"""


BRIDGE_LAG_SQL = """SELECT s.ingested_at AS "time", s.project AS metric,
       extract(epoch FROM s.ingested_at - to_timestamp(s.file_mtime_ns / 1e9)) AS lag_s
FROM evmon.snapshots s
WHERE s.project = ANY(ARRAY[$project]::text[]) AND $__timeFilter(s.ingested_at)
ORDER BY 1, 2
"""

PROJECT_HEALTH_SQL = """SELECT h.project, h.last_run_at, h.last_run_status, h.last_ok_day, h.failed_runs_7d, h.last_snapshot_day,
       h.snapshots, h.unreadable_files
FROM evmon.project_health h
WHERE h.project = ANY(ARRAY[$project]::text[])
ORDER BY 1
"""  # noqa: E501
PROJECT_HEALTH_COLUMNS = [
    Column("project", "Project"),
    Column("last_run_at", "Last run", "dateTimeAsIso"),
    Column(
        "last_run_status",
        "Last outcome",
        values={"ok": (None, "green"), "skipped": (None, "yellow"), "failed": (None, "red")},
        cell="color-text",
    ),
    Column("last_ok_day", "Last good day", "time:YYYY-MM-DD"),
    Column("failed_runs_7d", "Failed (7 days)", "none", 0, steps=((1, "red"),), cell="color-text"),
    Column("last_snapshot_day", "Newest snapshot day", "time:YYYY-MM-DD"),
    Column("snapshots", "Snapshots", "none", 0),
    Column("unreadable_files", "Unreadable files", "none", 0, steps=((1, "red"),), cell="color-text"),
]

FAILED_RUNS_SQL = """SELECT r.started_at, r.project, r.day, r.trigger, r.duration_s, r.error
FROM evmon.runs r
WHERE r.project = ANY(ARRAY[$project]::text[]) AND $__timeFilter(r.started_at) AND r.status = 'failed'
ORDER BY r.started_at DESC
LIMIT 200
"""
FAILED_RUNS_COLUMNS = [
    Column("started_at", "Started", "dateTimeAsIso"),
    Column("project", "Project"),
    Column("day", "Day", "time:YYYY-MM-DD"),
    Column("trigger", "Trigger"),
    Column("duration_s", "Duration", "s", 1),
    Column("error", "Error"),
]

UNREADABLE_SNAPSHOT_FILES_SQL = """SELECT e.reported_at, p.name AS project, e.file_path, e.error
FROM evmon.ingest_errors e
LEFT JOIN evmon.projects p ON p.project_id = e.project_id
WHERE p.name = ANY(ARRAY[$project]::text[]) OR p.name IS NULL
ORDER BY e.reported_at DESC
LIMIT 200
"""
UNREADABLE_SNAPSHOT_FILES_COLUMNS = [
    Column("reported_at", "Reported", "dateTimeAsIso"),
    *columns(project="Project", file_path="File", error="Error"),
]

QUARANTINED_SNAPSHOT_FILES_SQL = """SELECT q.quarantined_at, q.project, q.original_path, q.quarantine_path, q.reason, q.found_by
FROM evmon.quarantined_files q
WHERE q.project = ANY(ARRAY[$project]::text[]) OR q.project IS NULL
ORDER BY q.quarantined_at DESC
LIMIT 200
"""  # noqa: E501
QUARANTINED_SNAPSHOT_FILES_COLUMNS = [
    Column("quarantined_at", "Quarantined", "dateTimeAsIso"),
    *columns(project="Project", original_path="Was at", quarantine_path="Now at", reason="Why"),
    Column("found_by", "Found by"),
]


def build() -> model.Dashboard:
    """The "evmon / Service health" dashboard."""
    return board(
        "evmon-service-health",
        "evmon / Service health",
        "The scheduler's runs (outcomes, durations, rows) and the bridge (lag from snapshot to Postgres, unreadable "
        "files).",
        [project_variable()],
        [(5, 16, 8), (8, 12, 12), (8, 12, 12), (7, 24), (8, 24), (6, 24), (6, 24)],
        [
            stat_panel(
                "Runs in the time range", RUNS_IN_RANGE_SQL, scale("none", 0, "blue"), ["status", "runs"]
            ).description(
                "Scheduler runs by outcome (ok, skipped: no rows that day, failed), all triggers (schedule, backfill, "
                "app, cli), started in the time range."
            ),
            stat_panel(
                "Bridge: last change synced",
                BRIDGE_LAST_CHANGE_SYNCED_SQL,
                scale("s", 1, "green"),
                ["since_last_change"],
            ).description(
                "Time since the bridge last wrote a change to Postgres (a snapshot ingested or deleted, or the run log "
                "exported). Syncs that find nothing new do not count."
            ),
            time_series(
                "Runs per day by status",
                RUNS_PER_DAY_BY_STATUS_SQL,
                style="stacked bars",
                colors={"ok": "green", "failed": "red", "skipped": "yellow"},
            ).description("Scheduler runs started per day (UTC), stacked by outcome."),
            time_series("Run duration", _per_run("duration_s"), "s", style="points", limits=(0, None)).description(
                "Wall-clock duration of each run (read the day's data, run the reports, write the snapshot)."
            ),
            time_series(
                "Rows per run", _per_run("rows"), "short", style="points", limits=(0, None), decimals=0
            ).description(
                "Rows of the day's data each run read (0 for skipped runs, empty when a run failed before reading)."
            ),
            time_series(
                "Bridge lag: snapshot written → ingested", BRIDGE_LAG_SQL, "s", style="points", limits=(0, None)
            ).description(
                "For each snapshot the bridge ingested in the time range: seconds from the snapshot file's write (its "
                "modification time) to its rows landing in Postgres."
            ),
            table_panel("Project health", PROJECT_HEALTH_SQL, PROJECT_HEALTH_COLUMNS).description(
                "Per project: the last run and its outcome, the last day computed without error, failed runs in the "
                "last 7 days, the newest daily snapshot's day, snapshots in Postgres, and snapshot files the bridge "
                "could not read."
            ),
            table_panel("Failed runs", FAILED_RUNS_SQL, FAILED_RUNS_COLUMNS).description(
                "Runs that ended in an error in the time range, newest first, with the error message."
            ),
            table_panel(
                "Unreadable snapshot files", UNREADABLE_SNAPSHOT_FILES_SQL, UNREADABLE_SNAPSHOT_FILES_COLUMNS
            ).description("Snapshot files the bridge could not read (reported once, retried when the file changes)."),
            table_panel(
                "Quarantined snapshot files", QUARANTINED_SNAPSHOT_FILES_SQL, QUARANTINED_SNAPSHOT_FILES_COLUMNS
            ).description(
                "Snapshot files the Evidently UI cannot load (not JSON, or not an Evidently snapshot), moved out of "
                "the workspace to the quarantine folder beside it, so one bad file does not take the UI down. The file "
                "is kept there as it was, with a record.json saying why; the scheduler re-runs its day when it is in "
                "the catch-up window."
            ),
        ],
        time_from="now-7d",
    )
