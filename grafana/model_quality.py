"""The "evmon / Model quality" dashboard, grafana/dashboards/model_quality.json.

Classification and regression quality over time, model-wide and per segment, for the days whose labels have
arrived.

Each panel's SQL is a constant below (..._SQL), written into the JSON as it stands (Grafana expands its macros
and variables); build() places the panels.
"""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from evmon.grafana import estimated
from evmon.grafana.frame import dashboard, project_variable, sql_variable
from evmon.grafana.panels import Column, at, sql, state_timeline, table_panel, thresholds, time_series
from evmon.grafana.ranges import ROLLUP_WHERE, by_range

SEGMENT_VARIABLE_SQL = """SELECT DISTINCT q.segment FROM evmon.quality_values q
WHERE q.project = ANY(ARRAY[$project]::text[]) AND q.kind = 'daily' AND q.metric_type IN ('Accuracy', 'RMSE')
  AND $__timeFilter(q."timestamp")
ORDER BY 1
"""

LABEL_ARRIVAL_SQL = """SELECT $__time(s."timestamp"), s.project AS metric,
       CASE WHEN s.labels THEN 1 WHEN NOT s.labels THEN 0 END AS labels
FROM evmon.snapshots s
WHERE s.project = ANY(ARRAY[$project]::text[]) AND s.kind = 'daily' AND $__timeFilter(s."timestamp")
ORDER BY 1, 2
"""

NEWEST_LABELLED_DAY_SQL = """SELECT l.project, q.segment, q.task, l.day,
       max(q.value) FILTER (WHERE q.metric_type = 'Accuracy') AS accuracy,
       max(q.value) FILTER (WHERE q.metric_type = 'Precision') AS "precision",
       max(q.value) FILTER (WHERE q.metric_type = 'Recall') AS recall,
       max(q.value) FILTER (WHERE q.metric_type = 'F1Score') AS f1,
       max(q.value) FILTER (WHERE q.metric_type = 'RocAuc') AS roc_auc,
       max(q.value) FILTER (WHERE q.metric_type = 'MAE' AND q.value_kind = 'mean') AS mae,
       max(q.value) FILTER (WHERE q.metric_type = 'RMSE') AS rmse,
       max(q.value) FILTER (WHERE q.metric_type = 'R2Score') AS r2
FROM (SELECT DISTINCT ON (s.project) s.project, s.snapshot_id, s.day
      FROM evmon.snapshots s
      WHERE s.project = ANY(ARRAY[$project]::text[]) AND s.kind = 'daily' AND s.labels AND $__timeFilter(s."timestamp")
      ORDER BY s.project, s."timestamp" DESC) l
JOIN evmon.quality_values q ON q.snapshot_id = l.snapshot_id
WHERE q.segment = ANY(ARRAY[$segment]::text[])
  AND q.metric_type IN ('Accuracy', 'Precision', 'Recall', 'F1Score', 'RocAuc', 'MAE', 'RMSE', 'R2Score')
GROUP BY l.project, q.segment, q.task, l.day
ORDER BY 1, 2
"""

_QUALITY_NAME = """CASE v.metric_type WHEN 'Accuracy' THEN 'accuracy' WHEN 'Precision' THEN 'precision'
       WHEN 'Recall' THEN 'recall' WHEN 'F1Score' THEN 'F1' WHEN 'RocAuc' THEN 'ROC AUC'
       WHEN 'MAE' THEN 'MAE' WHEN 'RMSE' THEN 'RMSE' WHEN 'R2Score' THEN 'R²' WHEN 'MAPE' THEN 'MAPE'
       WHEN 'MeanError' THEN 'mean error' ELSE v.metric_type END"""


def _model_wide_sql(metric_types: tuple[str, ...], value_kinds: tuple[str, ...] = ()) -> str:
    """Quality metrics of the whole model, a series per project and metric: each day, or weeks over long ranges."""
    where = "v.segment = 'default' AND v.metric_type IN (" + ", ".join(f"'{t}'" for t in metric_types) + ")"
    if value_kinds:
        where += " AND v.value_kind IN (" + ", ".join(f"'{k}'" for k in value_kinds) + ")"
    daily = f"""SELECT $__time(v."timestamp"), v.project || ' · ' || {_QUALITY_NAME} AS metric,
       NULLIF(v.value, 'NaN') AS value
FROM evmon.metric_values v
WHERE v.project = ANY(ARRAY[$project]::text[]) AND v.kind = 'daily' AND $__timeFilter(v."timestamp")
  AND {where}
ORDER BY 1, 2
"""
    rollup = f"""SELECT $__time(v.period_start), v.project || ' · ' || {_QUALITY_NAME} AS metric,
       v.sum / nullif(v.n, 0) AS value
FROM evmon.metric_rollups v
WHERE v.project = ANY(ARRAY[$project]::text[]) AND v.kind = 'daily' AND {ROLLUP_WHERE}
  AND {where}
"""
    return by_range(daily, rollup)


CLASSIFICATION_MODEL_WIDE_METRICS_SQL = _model_wide_sql(("Accuracy", "Precision", "Recall", "F1Score", "RocAuc"))


def _per_segment_sql(metric_type: str, value_kind: str) -> str:
    """One quality metric per selected segment (not the whole model): each day, or weeks over long ranges."""
    where = f"""v.segment = ANY(ARRAY[$segment]::text[]) AND v.segment <> 'default'
  AND v.metric_type = '{metric_type}' AND v.value_kind = '{value_kind}'"""
    daily = f"""SELECT $__time(v."timestamp"), v.project || ' · ' || v.segment AS metric,
       NULLIF(v.value, 'NaN') AS value
FROM evmon.metric_values v
WHERE v.project = ANY(ARRAY[$project]::text[]) AND v.kind = 'daily' AND $__timeFilter(v."timestamp")
  AND {where}
ORDER BY 1, 2
"""
    rollup = f"""SELECT $__time(v.period_start), v.project || ' · ' || v.segment AS metric,
       v.sum / nullif(v.n, 0) AS value
FROM evmon.metric_rollups v
WHERE v.project = ANY(ARRAY[$project]::text[]) AND v.kind = 'daily' AND {ROLLUP_WHERE}
  AND {where}
"""
    return by_range(daily, rollup)


ROC_AUC_PER_SEGMENT_SQL = _per_segment_sql("RocAuc", "value")

F1_PER_SEGMENT_SQL = _per_segment_sql("F1Score", "value")

ACCURACY_PER_SEGMENT_SQL = _per_segment_sql("Accuracy", "value")

REGRESSION_MAE_AND_RMSE_SQL = _model_wide_sql(("MAE", "RMSE"), ("mean", "value"))

REGRESSION_R2_SQL = _model_wide_sql(("R2Score",))

REGRESSION_MAPE_SQL = _model_wide_sql(("MAPE",), ("mean",))

REGRESSION_MEAN_ERROR_SQL = _model_wide_sql(("MeanError",), ("mean",))

REGRESSION_MAE_PER_SEGMENT_SQL = _per_segment_sql("MAE", "mean")


def build() -> model.Dashboard:
    """The "evmon / Model quality" dashboard."""
    return (
        dashboard(
            "evmon-model-quality",
            "evmon / Model quality",
            description=(
                "Classification and regression quality over time, model-wide and per segment, for the days whose "
                "labels have arrived."
            ),
        )
        .with_variable(project_variable())
        .with_variable(
            sql_variable(
                "segment",
                "Segment",
                SEGMENT_VARIABLE_SQL,
                description=(
                    "Segments with quality values: 'default' is the whole model, '<column>=<value>' one segment "
                    "(projects.yaml segments)."
                ),
            )
        )
        .with_panel(
            state_timeline(
                1,
                "Label arrival",
                at(0, 0, 24, 6),
                sql(LABEL_ARRIVAL_SQL),
                description=(
                    "For each day's snapshot: were its labels in when it was computed? Quality panels show only the "
                    "green days."
                ),
                states={"0": ("waiting for labels", "text"), "1": ("labels arrived", "green")},
                steps=thresholds("text", (1, "green")),
            )
        )
        .with_panel(
            table_panel(
                2,
                "Newest labelled day per project and segment",
                at(0, 6, 24, 9),
                sql(NEWEST_LABELLED_DAY_SQL, "table"),
                description=(
                    "The newest day in the time range whose labels had arrived (per project), with its classification"
                    " or regression metrics per segment."
                ),
                columns=[
                    Column("project", "Project"),
                    Column("segment", "Segment"),
                    Column("task", "Task"),
                    Column("day", "Labelled day", "time:YYYY-MM-DD"),
                    Column("accuracy", "Accuracy", "none", 3),
                    Column("precision", "Precision", "none", 3),
                    Column("recall", "Recall", "none", 3),
                    Column("f1", "F1", "none", 3),
                    Column("roc_auc", "ROC AUC", "none", 3),
                    Column("mae", "MAE", "none", 3),
                    Column("rmse", "RMSE", "none", 3),
                    Column("r2", "R²", "none", 3),
                ],
            )
        )
        .with_panel(
            time_series(
                3,
                "Classification: model-wide metrics",
                at(0, 15, 24, 9),
                sql(CLASSIFICATION_MODEL_WIDE_METRICS_SQL),
                description=(
                    "Accuracy, precision, recall, F1 and ROC AUC of each classifier on all of the day's rows (segment"
                    " 'default'). Only days whose labels have arrived have quality values (a day is re-run with its "
                    "labels label_lag_days later), so the newest days have no points yet."
                ),
                unit="none",
            )
            .min(0)
            .max(1)
        )
        .with_panel(
            time_series(
                4,
                "ROC AUC per segment",
                at(0, 24, 8, 8),
                sql(ROC_AUC_PER_SEGMENT_SQL),
                description=(
                    "ROC AUC of each classifier within each segment (segments in projects.yaml). Only days whose "
                    "labels have arrived have quality values (a day is re-run with its labels label_lag_days later), "
                    "so the newest days have no points yet."
                ),
                unit="none",
            )
            .min(0)
            .max(1)
        )
        .with_panel(
            time_series(
                5,
                "F1 per segment",
                at(8, 24, 8, 8),
                sql(F1_PER_SEGMENT_SQL),
                description=(
                    "F1 score of each classifier within each segment. Only days whose labels have arrived have "
                    "quality values (a day is re-run with its labels label_lag_days later), so the newest days have "
                    "no points yet."
                ),
                unit="none",
            )
            .min(0)
            .max(1)
        )
        .with_panel(
            time_series(
                6,
                "Accuracy per segment",
                at(16, 24, 8, 8),
                sql(ACCURACY_PER_SEGMENT_SQL),
                description=(
                    "Accuracy of each classifier within each segment. Only days whose labels have arrived have "
                    "quality values (a day is re-run with its labels label_lag_days later), so the newest days have "
                    "no points yet."
                ),
                unit="none",
            )
            .min(0)
            .max(1)
        )
        .with_panel(
            time_series(
                7,
                "Regression: MAE and RMSE",
                at(0, 32, 12, 8),
                sql(REGRESSION_MAE_AND_RMSE_SQL),
                description=(
                    "Mean absolute error and root mean squared error of each regressor, in the target's unit. Only "
                    "days whose labels have arrived have quality values (a day is re-run with its labels "
                    "label_lag_days later), so the newest days have no points yet."
                ),
                unit="none",
            ).min(0)
        )
        .with_panel(
            time_series(
                8,
                "Regression: R²",
                at(12, 32, 12, 8),
                sql(REGRESSION_R2_SQL),
                description=(
                    "Coefficient of determination of each regressor (1 is perfect). Only days whose labels have "
                    "arrived have quality values (a day is re-run with its labels label_lag_days later), so the "
                    "newest days have no points yet."
                ),
                unit="none",
            ).max(1)
        )
        .with_panel(
            time_series(
                9,
                "Regression: MAPE",
                at(0, 40, 8, 8),
                sql(REGRESSION_MAPE_SQL),
                description=(
                    "Mean absolute percentage error of each regressor (in percent). Only days whose labels have "
                    "arrived have quality values (a day is re-run with its labels label_lag_days later), so the "
                    "newest days have no points yet."
                ),
                unit="percent",
            ).min(0)
        )
        .with_panel(
            time_series(
                10,
                "Regression: mean error (bias)",
                at(8, 40, 8, 8),
                sql(REGRESSION_MEAN_ERROR_SQL),
                description=(
                    "Mean of prediction errors of each regressor: far from 0 means a systematic bias. Only days whose"
                    " labels have arrived have quality values (a day is re-run with its labels label_lag_days later),"
                    " so the newest days have no points yet."
                ),
                unit="none",
            )
        )
        .with_panel(
            time_series(
                11,
                "Regression: MAE per segment",
                at(16, 40, 8, 8),
                sql(REGRESSION_MAE_PER_SEGMENT_SQL),
                description=(
                    "Mean absolute error of each regressor within each segment (regression projects with segments). "
                    "Only days whose labels have arrived have quality values (a day is re-run with its labels "
                    "label_lag_days later), so the newest days have no points yet."
                ),
                unit="none",
            ).min(0)
        )
        .with_panel(estimated.estimated_vs_realized(12, 48))
        .with_panel(estimated.estimate_gap(13, 48))
        .with_panel(estimated.estimation_record(14, 48))
        .build()
    )
