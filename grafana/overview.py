"""The "evmon / Overview" dashboard, grafana/dashboards/overview.json: every monitored model at a glance."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from evmon.fleet.sql import GRAFANA_SQL, OWNER_OPTIONS_SQL, TAG_OPTIONS_SQL
from evmon.grafana.frame import QueryVariable, board, project_variable
from evmon.grafana.panels import Column, scale, stat_panel, table_panel, thresholds, time_series
from evmon.grafana.ranges import Daily
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
PROJECTS_AT_A_GLANCE_COLUMNS = [
    Column("project", "Project", "none"),
    Column("last_day", "Last day", "time:YYYY-MM-DD"),
    Column("rows", "Rows", "short", 0),
    Column("drifted_share", "Drift share", "percentunit", 1, steps=((0.5, "red"),), cell="color-text"),
    Column("drifted_columns", "Drifted columns", "none", 0),
    Column("missing_share", "Missing share", "percentunit", 2),
    Column("quality_metric", "Quality metric", "none"),
    Column("quality", "Quality", "none", 3, ((0.6, "orange"), (0.75, "green")), "red", "color-text"),
    Column("quality_day", "Labelled day", "time:YYYY-MM-DD"),
    Column("snapshot_age", "Newest snapshot written", "dtdurations", None, ((129600, "red"),), cell="color-text"),
    Column("failed_runs", "Failed runs", "none", 0, steps=((1, "red"),), cell="color-background"),
]

# the app's Fleet table (evmon.fleet: one query, the alerts as Grafana's rules decide them), by $owner and $tag
FLEET_COLUMNS = [
    Column("project", "Project", "none"),
    Column("owner", "Owner", "none"),
    Column("tags", "Tags", "none"),
    Column("alerts", "Alerts firing", "none"),
    Column("last_day", "Last day", "time:YYYY-MM-DD"),
    Column(
        "last_status", "Its run", "none", values={"failed": (None, "red"), "ok": (None, "green")}, cell="color-text"
    ),
    Column("days_missing", "Days missing", "none", 0, steps=((1, "orange"),), cell="color-text"),
    Column("drift_share", "Drift share", "percentunit", 1, steps=((0.5, "red"),), cell="color-text"),
    Column("drift_trend", "Drift trend (7 days)", "percentunit", 1),
    Column("quality_metric", "Quality metric", "none"),
    Column("quality", "Quality", "none", 3, ((0.6, "orange"), (0.75, "green")), "red", "color-text"),
    Column("quality_kind", "Realized or estimated", "none"),
    Column("disparate_impact", "Disparate impact", "none", 2),
    Column("outlier_share", "Outlier share", "percentunit", 1),
]


def owner_variable() -> QueryVariable:
    """$owner: the teams of projects.yaml's `owner` (as the bridge wrote them), and projects without one."""
    return QueryVariable(
        "owner",
        "Owner",
        OWNER_OPTIONS_SQL,
        "The team owning each project (projects.yaml owner); (no owner) for projects without one. Filters the Fleet "
        "table.",
        refresh=model.VariableRefresh.ON_DASHBOARD_LOAD,
        all_value="'*'",
    )


def tag_variable() -> QueryVariable:
    """$tag: the projects' tags as key=value; a project shows when it has one of those chosen."""
    return QueryVariable(
        "tag",
        "Tag",
        TAG_OPTIONS_SQL,
        "The projects' tags (projects.yaml tags) as key=value: the Fleet table keeps projects with one of those "
        "chosen.",
        refresh=model.VariableRefresh.ON_DASHBOARD_LOAD,
        all_value="'*'",
    )


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

ROWS_PER_DAY_SQL = """SELECT $__time(s."timestamp"), s.project AS metric, s.rows
FROM evmon.snapshots s
WHERE s.project = ANY(ARRAY[$project]::text[]) AND s.kind = 'daily' AND $__timeFilter(s."timestamp")
ORDER BY 1, 2
"""

# the prediction column's drift, over long ranges from the rollups of the column each project's newest snapshot
# in the range records as its prediction (a project picked here, not by a filter)
PREDICTION_COLUMN_ROLLUPS = f"""unnest(ARRAY[$project]::text[]) AS p(project)
CROSS JOIN LATERAL (
    SELECT s.metadata->>'{PREDICTION_COLUMN_KEY}' AS prediction_column FROM evmon.snapshots s
    WHERE s.project = p.project AND s.kind = 'daily' AND $__timeFilter(s."timestamp")
    ORDER BY s."timestamp" DESC LIMIT 1) l
JOIN evmon.metric_rollups v ON v.project = p.project AND v."column" = l.prediction_column"""
PREDICTION_DRIFT = Daily(
    "v.project",
    name="drift_score",
    value="v.drift_score",
    view="evmon.prediction_drift c",
    rollup_filters=("v.metric_type = 'ValueDrift'",),
    rollups=PREDICTION_COLUMN_ROLLUPS,
)
MODEL_QUALITY_HEADLINE = Daily(
    "v.project || ' · ' || CASE v.metric_type WHEN 'RocAuc' THEN 'ROC AUC' ELSE 'R²' END",
    ("v.metric_type IN ('RocAuc', 'R2Score')",),
    name="quality",
    view="evmon.model_quality q",
    rollup_filters=("v.segment = 'default'", "v.metric_type IN ('RocAuc', 'R2Score')"),
)


def _dataset_drift(name: str, value_kind: str) -> Daily:
    """A column of the view evmon.dataset_drift: DriftedColumnsCount's value of this kind."""
    rollups = ("v.metric_type = 'DriftedColumnsCount'", f"v.value_kind = '{value_kind}'")
    return Daily("v.project", name=name, value=f"v.{name}", view="evmon.dataset_drift d", rollup_filters=rollups)


def build() -> model.Dashboard:
    """The "evmon / Overview" dashboard."""
    return board(
        "evmon-overview",
        "evmon / Overview",
        "Every monitored model at a glance: drift, data volume and quality, model quality, freshness and failed runs.",
        [project_variable(), owner_variable(), tag_variable()],
        [(7, 24), (6, 8, 8, 8), (8, 12, 12), (8, 12, 12), (8, 12, 12), (10, 24)],
        [
            table_panel("Projects at a glance", PROJECTS_AT_A_GLANCE_SQL, PROJECTS_AT_A_GLANCE_COLUMNS).description(
                "One row per project, from its newest daily snapshot in the time range: the data day, its rows, the "
                "dataset drift share (share of drifted columns) and drifted columns, the share of missing cells; the "
                "model-quality headline (ROC AUC for classifiers, R² for regressors; 1 is perfect) from the newest day "
                "whose labels have arrived; how long ago the newest snapshot file was written; failed scheduler runs "
                "in the time range."
            ),
            stat_panel(
                "Freshness: newest snapshot written",
                FRESHNESS_SQL,
                scale("s", 1, "green", (108000, "orange"), (129600, "red")),
                ["project", "snapshot_age"],
            ).description(
                "Time since each project's newest daily snapshot file was written (or since the project appeared, if "
                "it has none). Daily runs write one snapshot a day; red from 36 hours on, like the alert rule."
            ),
            stat_panel(
                "Model quality (newest labelled day)",
                NEWEST_QUALITY_SQL,
                scale("none", 3, "red", (0.6, "orange"), (0.75, "green")),
                ["model", "quality"],
            ).description(
                "ROC AUC for classifiers, R² for regressors (model-wide, segment 'default'), from the newest daily "
                "snapshot in the time range whose labels had arrived. Red below 0.6, like the alert rule."
            ),
            stat_panel(
                "Failed runs in the time range",
                FAILED_RUNS_SQL,
                scale("none", 0, "green", (1, "red")),
                ["project", "failed_runs"],
            ).description(
                "Scheduler runs (any trigger) that ended in an error, per project, in the dashboard's time range (by "
                "start time). See the Service health dashboard for the errors."
            ),
            time_series(
                "Dataset drift share",
                _dataset_drift("drifted_share", "share"),
                "percentunit",
                marks=thresholds("green", (0.5, "red")),
                limits=(0, 1),
            ).description(
                "Share of the monitored columns (features and prediction) whose drift test fired, per day. The line "
                "marks Evidently's default dataset-drift threshold (drift_share 0.5)."
            ),
            time_series("Drifted columns", _dataset_drift("drifted_columns", "count"), style="bars").description(
                "Number of monitored columns whose drift test fired, per day (the seed's num_drifted_columns)."
            ),
            time_series("Prediction drift", PREDICTION_DRIFT, limits=(0, None)).description(
                "Drift score of each project's model output column against the reference (the seed's "
                "prediction_drift): the column each snapshot records as its prediction (projects.yaml "
                "columns.prediction). Method and threshold per project: see the Feature drift dashboard."
            ),
            missing_cells_share_panel("Missing values share"),
            time_series("Rows per day", ROWS_PER_DAY_SQL, "short", style="bars").description(
                "Rows in each day's data window (the scheduler reads one calendar day in the project's timezone)."
            ),
            time_series(
                "Model quality headline",
                MODEL_QUALITY_HEADLINE,
                marks=thresholds("red", (0.6, "green")),
                limits=(None, 1),
            ).description(
                "ROC AUC (classifiers) or R² (regressors), model-wide, for the days whose labels have arrived: a day "
                "gets quality values only once its labels are in (label_lag_days), so recent days have no points yet."
            ),
            table_panel("Fleet: the most trouble first", GRAFANA_SQL, FLEET_COLUMNS).description(
                "The app's Fleet page: every project at the end of the time range, by $owner and $tag (not $project),"
                " the most alerts firing first, then a failed last run, then the most days missing. Last day: the "
                "newest day the run log has run, and its last run's status. Days missing: days from the first daily "
                "snapshot to yesterday without one. Drift trend: the newest drift share minus the mean of the 7 days "
                "before. Quality: the newest realized ROC AUC or R², or CBPE's estimated ROC AUC when newer. "
                "Disparate impact and outlier share: the newest of 14 days, the lowest and highest over columns. "
                "Alerts: the evmon alert rules firing, evaluated by this same query."
            ),
        ],
    )
