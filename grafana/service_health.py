"""The "evmon / Service health" dashboard, grafana/dashboards/service_health.json.

The scheduler's runs (outcomes, durations, rows) and the bridge (lag from snapshot to Postgres, unreadable
files). Each panel's SQL is a constant below, written into the JSON as it stands (Grafana expands its macros
and variables).
"""

from __future__ import annotations

from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from evmon.grafana.frame import board, project_variable
from evmon.grafana.panels import Column, series_colors, stacking, stat_panel, table_panel, thresholds, time_series

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

RUN_DURATION_SQL = """SELECT r.started_at AS "time", r.project AS metric, r.duration_s
FROM evmon.runs r
WHERE r.project = ANY(ARRAY[$project]::text[]) AND $__timeFilter(r.started_at)
ORDER BY 1, 2
"""

ROWS_PER_RUN_SQL = """SELECT r.started_at AS "time", r.project AS metric, r.rows
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

FAILED_RUNS_SQL = """SELECT r.started_at, r.project, r.day, r.trigger, r.duration_s, r.error
FROM evmon.runs r
WHERE r.project = ANY(ARRAY[$project]::text[]) AND $__timeFilter(r.started_at) AND r.status = 'failed'
ORDER BY r.started_at DESC
LIMIT 200
"""

UNREADABLE_SNAPSHOT_FILES_SQL = """SELECT e.reported_at, p.name AS project, e.file_path, e.error
FROM evmon.ingest_errors e
LEFT JOIN evmon.projects p ON p.project_id = e.project_id
WHERE p.name = ANY(ARRAY[$project]::text[]) OR p.name IS NULL
ORDER BY e.reported_at DESC
LIMIT 200
"""

QUARANTINED_SNAPSHOT_FILES_SQL = """SELECT q.quarantined_at, q.project, q.original_path, q.quarantine_path, q.reason, q.found_by
FROM evmon.quarantined_files q
WHERE q.project = ANY(ARRAY[$project]::text[]) OR q.project IS NULL
ORDER BY q.quarantined_at DESC
LIMIT 200
"""  # noqa: E501


def build() -> model.Dashboard:
    """The "evmon / Service health" dashboard."""
    return board(
        "evmon-service-health",
        "evmon / Service health",
        "The scheduler's runs (outcomes, durations, rows) and the bridge (lag from snapshot to Postgres, unreadable "
        "files).",
        [project_variable()],
        [
            stat_panel(
                "Runs in the time range",
                (16, 5),
                RUNS_IN_RANGE_SQL,
                description=(
                    "Scheduler runs by outcome (ok, skipped: no rows that day, failed), all triggers (schedule, "
                    "backfill, app, cli), started in the time range."
                ),
                unit="none",
                decimals=0,
                steps=thresholds("blue"),
                columns=["status", "runs"],
            ),
            stat_panel(
                "Bridge: last change synced",
                (8, 5),
                BRIDGE_LAST_CHANGE_SYNCED_SQL,
                description=(
                    "Time since the bridge last wrote a change to Postgres (a snapshot ingested or deleted, or the "
                    "run log exported). Syncs that find nothing new do not count."
                ),
                unit="s",
                decimals=1,
                steps=thresholds("green"),
                columns=["since_last_change"],
            ),
            series_colors(
                time_series(
                    "Runs per day by status",
                    (12, 8),
                    RUNS_PER_DAY_BY_STATUS_SQL,
                    description="Scheduler runs started per day (UTC), stacked by outcome.",
                    unit="none",
                    style="bars",
                ).stacking(stacking(common.StackingMode.NORMAL)),
                {"ok": "green", "failed": "red", "skipped": "yellow"},
            ),
            time_series(
                "Run duration",
                (12, 8),
                RUN_DURATION_SQL,
                description=(
                    "Wall-clock duration of each run (read the day's data, run the reports, write the snapshot)."
                ),
                unit="s",
                style="points",
            ).min(0),
            time_series(
                "Rows per run",
                (12, 8),
                ROWS_PER_RUN_SQL,
                description=(
                    "Rows of the day's data each run read (0 for skipped runs, empty when a run failed before reading)."
                ),
                unit="short",
                style="points",
            )
            .decimals(0)
            .min(0),
            time_series(
                "Bridge lag: snapshot written → ingested",
                (12, 8),
                BRIDGE_LAG_SQL,
                description=(
                    "For each snapshot the bridge ingested in the time range: seconds from the snapshot file's write "
                    "(its modification time) to its rows landing in Postgres."
                ),
                unit="s",
                style="points",
            ).min(0),
            table_panel(
                "Project health",
                (24, 7),
                PROJECT_HEALTH_SQL,
                description=(
                    "Per project: the last run and its outcome, the last day computed without error, failed runs in "
                    "the last 7 days, the newest daily snapshot's day, snapshots in Postgres, and snapshot files the "
                    "bridge could not read."
                ),
                columns=[
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
                ],
            ),
            table_panel(
                "Failed runs",
                (24, 8),
                FAILED_RUNS_SQL,
                description="Runs that ended in an error in the time range, newest first, with the error message.",
                columns=[
                    Column("started_at", "Started", "dateTimeAsIso"),
                    Column("project", "Project"),
                    Column("day", "Day", "time:YYYY-MM-DD"),
                    Column("trigger", "Trigger"),
                    Column("duration_s", "Duration", "s", 1),
                    Column("error", "Error"),
                ],
            ),
            table_panel(
                "Unreadable snapshot files",
                (24, 6),
                UNREADABLE_SNAPSHOT_FILES_SQL,
                description="Snapshot files the bridge could not read (reported once, retried when the file changes).",
                columns=[
                    Column("reported_at", "Reported", "dateTimeAsIso"),
                    Column("project", "Project"),
                    Column("file_path", "File"),
                    Column("error", "Error"),
                ],
            ),
            table_panel(
                "Quarantined snapshot files",
                (24, 6),
                QUARANTINED_SNAPSHOT_FILES_SQL,
                description=(
                    "Snapshot files the Evidently UI cannot load (not JSON, or not an Evidently snapshot), moved out "
                    "of the workspace to the quarantine folder beside it, so one bad file does not take the UI down. "
                    "The file is kept there as it was, with a record.json saying why; the scheduler re-runs its day "
                    "when it is in the catch-up window."
                ),
                columns=[
                    Column("quarantined_at", "Quarantined", "dateTimeAsIso"),
                    Column("project", "Project"),
                    Column("original_path", "Was at"),
                    Column("quarantine_path", "Now at"),
                    Column("reason", "Why"),
                    Column("found_by", "Found by"),
                ],
            ),
        ],
        time_from="now-7d",
    )
