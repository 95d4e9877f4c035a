"""The "evmon / Overview" dashboard, grafana/dashboards/overview.json.

Every monitored model at a glance: drift, data volume and quality, model quality, freshness and failed runs.

Each panel's SQL is a constant below (..._SQL), written into the JSON as it stands (Grafana expands its macros
and variables); build() places the panels.
"""

from __future__ import annotations

from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from evmon.grafana.frame import dashboard, project_variable
from evmon.grafana.panels import (
    Column,
    at,
    organize,
    sql,
    stat_panel,
    table_panel,
    threshold_lines,
    thresholds,
    time_series,
)
from evmon.grafana.ranges import ROLLUP_WHERE, by_range
from evmon.grafana.shared_queries import missing_cells_share_panel
from evmon.snapshot.contract import PREDICTION_COLUMN_KEY

PROJECTS_AT_A_GLANCE_SQL = """SELECT p.project,
       l.day AS last_day,
       l.rows,
       d.drifted_share,
       d.drifted_columns,
       m.missing_share,
       q.metric AS quality_metric,
       q.value AS quality,
       q.day AS quality_day,
       extract(epoch FROM now() - f.written) AS snapshot_age,
       r.failed AS failed_runs
FROM (SELECT name AS project FROM evmon.projects WHERE name = ANY(ARRAY[$project]::text[])) p
LEFT JOIN LATERAL (
    SELECT s.snapshot_id, s.day, s.rows FROM evmon.snapshots s
    WHERE s.project = p.project AND s.kind = 'daily' AND $__timeFilter(s."timestamp")
    ORDER BY s."timestamp" DESC LIMIT 1) l ON true
LEFT JOIN LATERAL (
    SELECT max(v.value) FILTER (WHERE v.value_kind = 'share') AS drifted_share,
           max(v.value) FILTER (WHERE v.value_kind = 'count') AS drifted_columns
    FROM evmon.metric_values v
    WHERE v.snapshot_id = l.snapshot_id AND v.metric_type = 'DriftedColumnsCount') d ON true
LEFT JOIN LATERAL (
    SELECT max(v.value) FILTER (WHERE v.metric_type = 'DatasetMissingValueCount' AND v.value_kind = 'count')
             / nullif(max(v.value) FILTER (WHERE v.metric_type = 'RowCount')
                      * max(v.value) FILTER (WHERE v.metric_type = 'ColumnCount' AND v.label IS NULL), 0)
             AS missing_share
    FROM evmon.metric_values v
    WHERE v.snapshot_id = l.snapshot_id AND v."column" IS NULL
      AND v.metric_type IN ('DatasetMissingValueCount', 'RowCount', 'ColumnCount')) m ON true
LEFT JOIN LATERAL (
    SELECT CASE q.metric_type WHEN 'RocAuc' THEN 'ROC AUC' ELSE 'R²' END AS metric, q.value, q.day FROM evmon.model_quality q
    WHERE q.project = p.project AND q.kind = 'daily' AND q.metric_type IN ('RocAuc', 'R2Score')
      AND q.value <> 'NaN' AND $__timeFilter(q."timestamp")
    ORDER BY q."timestamp" DESC LIMIT 1) q ON true
LEFT JOIN LATERAL (
    SELECT max(to_timestamp(s.file_mtime_ns / 1e9)) AS written FROM evmon.snapshots s
    WHERE s.project = p.project AND s.kind = 'daily') f ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS failed FROM evmon.runs r
    WHERE r.project = p.project AND r.status = 'failed' AND $__timeFilter(r.started_at)) r ON true
ORDER BY p.project
"""  # noqa: E501

FRESHNESS_SQL = """SELECT p.name AS project,
       extract(epoch FROM now() - coalesce(max(to_timestamp(s.file_mtime_ns / 1e9)), p.synced_at))
         AS snapshot_age
FROM evmon.projects p
LEFT JOIN evmon.snapshots s ON s.project_id = p.project_id AND s.kind = 'daily'
WHERE p.name = ANY(ARRAY[$project]::text[])
GROUP BY p.name, p.synced_at
ORDER BY 1
"""

NEWEST_QUALITY_SQL = """SELECT DISTINCT ON (q.project) q.project || ' · ' || CASE q.metric_type WHEN 'RocAuc' THEN 'ROC AUC' ELSE 'R²' END AS model, q.value AS quality
FROM evmon.model_quality q
WHERE q.project = ANY(ARRAY[$project]::text[]) AND q.kind = 'daily' AND $__timeFilter(q."timestamp")
  AND q.metric_type IN ('RocAuc', 'R2Score') AND q.value <> 'NaN'
ORDER BY q.project, q."timestamp" DESC
"""  # noqa: E501

FAILED_RUNS_SQL = """SELECT p.project, count(r.run_id) AS failed_runs
FROM (SELECT name AS project FROM evmon.projects UNION SELECT project FROM evmon.runs) p
LEFT JOIN evmon.runs r ON r.project = p.project AND r.status = 'failed' AND $__timeFilter(r.started_at)
WHERE p.project = ANY(ARRAY[$project]::text[])
GROUP BY p.project
ORDER BY 1
"""

DATASET_DRIFT_SHARE_DAILY_SQL = """SELECT $__time(d."timestamp"), d.project AS metric, d.drifted_share
FROM evmon.dataset_drift d
WHERE d.project = ANY(ARRAY[$project]::text[]) AND d.kind = 'daily' AND $__timeFilter(d."timestamp")
ORDER BY 1, 2
"""
DATASET_DRIFT_SHARE_ROLLUP_SQL = f"""SELECT $__time(v.period_start), v.project AS metric, v.sum / nullif(v.n, 0) AS drifted_share
FROM evmon.metric_rollups v
WHERE v.project = ANY(ARRAY[$project]::text[]) AND v.kind = 'daily' AND {ROLLUP_WHERE}
  AND v.metric_type = 'DriftedColumnsCount' AND v.value_kind = 'share'
"""  # noqa: E501
DATASET_DRIFT_SHARE_SQL = by_range(DATASET_DRIFT_SHARE_DAILY_SQL, DATASET_DRIFT_SHARE_ROLLUP_SQL)

DRIFTED_COLUMNS_DAILY_SQL = """SELECT $__time(d."timestamp"), d.project AS metric, d.drifted_columns
FROM evmon.dataset_drift d
WHERE d.project = ANY(ARRAY[$project]::text[]) AND d.kind = 'daily' AND $__timeFilter(d."timestamp")
ORDER BY 1, 2
"""
DRIFTED_COLUMNS_ROLLUP_SQL = f"""SELECT $__time(v.period_start), v.project AS metric, v.sum / nullif(v.n, 0) AS drifted_columns
FROM evmon.metric_rollups v
WHERE v.project = ANY(ARRAY[$project]::text[]) AND v.kind = 'daily' AND {ROLLUP_WHERE}
  AND v.metric_type = 'DriftedColumnsCount' AND v.value_kind = 'count'
"""  # noqa: E501
DRIFTED_COLUMNS_SQL = by_range(DRIFTED_COLUMNS_DAILY_SQL, DRIFTED_COLUMNS_ROLLUP_SQL)

PREDICTION_DRIFT_DAILY_SQL = """SELECT $__time(c."timestamp"), c.project AS metric, c.drift_score
FROM evmon.prediction_drift c
WHERE c.project = ANY(ARRAY[$project]::text[]) AND c.kind = 'daily' AND $__timeFilter(c."timestamp")
ORDER BY 1, 2
"""
PREDICTION_DRIFT_ROLLUP_SQL = f"""SELECT $__time(v.period_start), v.project AS metric, v.sum / nullif(v.n, 0) AS drift_score
FROM unnest(ARRAY[$project]::text[]) AS p(project)
CROSS JOIN LATERAL (
    SELECT s.metadata->>'{PREDICTION_COLUMN_KEY}' AS prediction_column FROM evmon.snapshots s
    WHERE s.project = p.project AND s.kind = 'daily' AND $__timeFilter(s."timestamp")
    ORDER BY s."timestamp" DESC LIMIT 1) l
JOIN evmon.metric_rollups v ON v.project = p.project AND v."column" = l.prediction_column
WHERE v.kind = 'daily' AND {ROLLUP_WHERE} AND v.metric_type = 'ValueDrift'
"""  # noqa: E501
PREDICTION_DRIFT_SQL = by_range(PREDICTION_DRIFT_DAILY_SQL, PREDICTION_DRIFT_ROLLUP_SQL)


ROWS_PER_DAY_SQL = """SELECT $__time(s."timestamp"), s.project AS metric, s.rows
FROM evmon.snapshots s
WHERE s.project = ANY(ARRAY[$project]::text[]) AND s.kind = 'daily' AND $__timeFilter(s."timestamp")
ORDER BY 1, 2
"""

MODEL_QUALITY_HEADLINE_DAILY_SQL = """SELECT $__time(q."timestamp"), q.project || ' · ' || CASE q.metric_type WHEN 'RocAuc' THEN 'ROC AUC' ELSE 'R²' END AS metric,
       NULLIF(q.value, 'NaN') AS quality
FROM evmon.model_quality q
WHERE q.project = ANY(ARRAY[$project]::text[]) AND q.kind = 'daily' AND $__timeFilter(q."timestamp")
  AND q.metric_type IN ('RocAuc', 'R2Score')
ORDER BY 1, 2
"""  # noqa: E501
MODEL_QUALITY_HEADLINE_ROLLUP_SQL = f"""SELECT $__time(v.period_start), v.project || ' · ' || CASE v.metric_type WHEN 'RocAuc' THEN 'ROC AUC' ELSE 'R²' END AS metric,
       v.sum / nullif(v.n, 0) AS quality
FROM evmon.metric_rollups v
WHERE v.project = ANY(ARRAY[$project]::text[]) AND v.kind = 'daily' AND {ROLLUP_WHERE}
  AND v.segment = 'default' AND v.metric_type IN ('RocAuc', 'R2Score')
"""  # noqa: E501
MODEL_QUALITY_HEADLINE_SQL = by_range(MODEL_QUALITY_HEADLINE_DAILY_SQL, MODEL_QUALITY_HEADLINE_ROLLUP_SQL)


def build() -> model.Dashboard:
    """The "evmon / Overview" dashboard."""
    return (
        dashboard(
            "evmon-overview",
            "evmon / Overview",
            description=(
                "Every monitored model at a glance: drift, data volume and quality, model quality, freshness and "
                "failed runs."
            ),
        )
        .with_variable(project_variable())
        .with_panel(
            table_panel(
                1,
                "Projects at a glance",
                at(0, 0, 24, 7),
                sql(PROJECTS_AT_A_GLANCE_SQL, "table"),
                description=(
                    "One row per project, from its newest daily snapshot in the time range: the data day, its rows, "
                    "the dataset drift share (share of drifted columns) and drifted columns, the share of missing "
                    "cells; the model-quality headline (ROC AUC for classifiers, R² for regressors; 1 is perfect) "
                    "from the newest day whose labels have arrived; how long ago the newest snapshot file was "
                    "written; failed scheduler runs in the time range."
                ),
                columns=[
                    Column("project", "Project", "none"),
                    Column("last_day", "Last day", "time:YYYY-MM-DD"),
                    Column("rows", "Rows", "short", 0),
                    Column("drifted_share", "Drift share", "percentunit", 1, steps=((0.5, "red"),), cell="color-text"),
                    Column("drifted_columns", "Drifted columns", "none", 0),
                    Column("missing_share", "Missing share", "percentunit", 2),
                    Column("quality_metric", "Quality metric", "none"),
                    Column(
                        "quality",
                        "Quality",
                        "none",
                        3,
                        base="red",
                        steps=((0.6, "orange"), (0.75, "green")),
                        cell="color-text",
                    ),
                    Column("quality_day", "Labelled day", "time:YYYY-MM-DD"),
                    Column(
                        "snapshot_age",
                        "Newest snapshot written",
                        "dtdurations",
                        steps=((129600, "red"),),
                        cell="color-text",
                    ),
                    Column("failed_runs", "Failed runs", "none", 0, steps=((1, "red"),), cell="color-background"),
                ],
            )
        )
        .with_panel(
            stat_panel(
                2,
                "Freshness: newest snapshot written",
                at(0, 7, 8, 6),
                sql(FRESHNESS_SQL, "table"),
                description=(
                    "Time since each project's newest daily snapshot file was written (or since the project appeared,"
                    " if it has none). Daily runs write one snapshot a day; red from 36 hours on, like the alert "
                    "rule."
                ),
                unit="s",
                decimals=1,
                steps=thresholds("green", (108000, "orange"), (129600, "red")),
                rows=True,
            ).with_transformation(organize(["project", "snapshot_age"]))
        )
        .with_panel(
            stat_panel(
                3,
                "Model quality (newest labelled day)",
                at(8, 7, 8, 6),
                sql(NEWEST_QUALITY_SQL, "table"),
                description=(
                    "ROC AUC for classifiers, R² for regressors (model-wide, segment 'default'), from the newest "
                    "daily snapshot in the time range whose labels had arrived. Red below 0.6, like the alert rule."
                ),
                unit="none",
                decimals=3,
                steps=thresholds("red", (0.6, "orange"), (0.75, "green")),
                rows=True,
            ).with_transformation(organize(["model", "quality"]))
        )
        .with_panel(
            stat_panel(
                4,
                "Failed runs in the time range",
                at(16, 7, 8, 6),
                sql(FAILED_RUNS_SQL, "table"),
                description=(
                    "Scheduler runs (any trigger) that ended in an error, per project, in the dashboard's time range "
                    "(by start time). See the Service health dashboard for the errors."
                ),
                unit="none",
                decimals=0,
                steps=thresholds("green", (1, "red")),
                rows=True,
            ).with_transformation(organize(["project", "failed_runs"]))
        )
        .with_panel(
            time_series(
                5,
                "Dataset drift share",
                at(0, 13, 12, 8),
                sql(DATASET_DRIFT_SHARE_SQL),
                description=(
                    "Share of the monitored columns (features and prediction) whose drift test fired, per day. The "
                    "line marks Evidently's default dataset-drift threshold (drift_share 0.5)."
                ),
                unit="percentunit",
            )
            .min(0)
            .max(1)
            .thresholds(thresholds("green", (0.5, "red")))
            .thresholds_style(threshold_lines(True))
        )
        .with_panel(
            time_series(
                6,
                "Drifted columns",
                at(12, 13, 12, 8),
                sql(DRIFTED_COLUMNS_SQL),
                description=(
                    "Number of monitored columns whose drift test fired, per day (the seed's num_drifted_columns)."
                ),
                unit="none",
            )
            .decimals(0)
            .draw_style(common.GraphDrawStyle.BARS)
            .fill_opacity(80)
        )
        .with_panel(
            time_series(
                7,
                "Prediction drift",
                at(0, 21, 12, 8),
                sql(PREDICTION_DRIFT_SQL),
                description=(
                    "Drift score of each project's model output column against the reference (the seed's "
                    "prediction_drift): the column each snapshot records as its prediction (projects.yaml "
                    "columns.prediction). Method and threshold per project: see the Feature drift dashboard."
                ),
                unit="none",
            ).min(0)
        )
        .with_panel(missing_cells_share_panel(8, "Missing values share", at(12, 21, 12, 8)))
        .with_panel(
            time_series(
                9,
                "Rows per day",
                at(0, 29, 12, 8),
                sql(ROWS_PER_DAY_SQL),
                description=(
                    "Rows in each day's data window (the scheduler reads one calendar day in the project's timezone)."
                ),
                unit="short",
            )
            .decimals(0)
            .draw_style(common.GraphDrawStyle.BARS)
            .fill_opacity(80)
        )
        .with_panel(
            time_series(
                10,
                "Model quality headline",
                at(12, 29, 12, 8),
                sql(MODEL_QUALITY_HEADLINE_SQL),
                description=(
                    "ROC AUC (classifiers) or R² (regressors), model-wide, for the days whose labels have arrived: a "
                    "day gets quality values only once its labels are in (label_lag_days), so recent days have no "
                    "points yet."
                ),
                unit="none",
            )
            .max(1)
            .thresholds(thresholds("red", (0.6, "green")))
            .thresholds_style(threshold_lines(True))
        )
        .build()
    )
