"""The "evmon / Feature drift" dashboard, grafana/dashboards/feature_drift.json.

Per-column drift against the reference: scores over time, daily verdicts, each column's method and threshold.

Each panel's SQL is a constant below (..._SQL), written into the JSON as it stands (Grafana expands its macros
and variables); build() places the panels.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.models import dashboard as model

from evmon.grafana.frame import dashboard, project_variable, sql_variable
from evmon.grafana.panels import (
    Column,
    at,
    bar_gauge,
    organize,
    sql,
    state_timeline,
    table_panel,
    thresholds,
    time_series,
)
from evmon.grafana.ranges import (
    AFTER_WHOLE_WEEKS,
    BEFORE_WHOLE_WEEKS,
    IN_WHOLE_WEEKS,
    ROLLUP_WHERE,
    by_range,
)

COLUMN_VARIABLE_SQL = """SELECT DISTINCT v."column"
FROM (SELECT DISTINCT ON (s.project) s.snapshot_id
      FROM evmon.snapshots s
      WHERE s.project = ANY(ARRAY[$project]::text[]) AND s.kind = 'daily' AND $__timeFilter(s."timestamp")
      ORDER BY s.project, s."timestamp" DESC) l
JOIN evmon.metric_values v ON v.snapshot_id = l.snapshot_id
WHERE v.metric_type = 'ValueDrift'
ORDER BY 1
"""

DRIFT_SCORE_PER_COLUMN_DAILY_SQL = """SELECT $__unixEpochGroupAlias(v.epoch, $__interval), v.metric, avg(v.value) AS drift_score
FROM (SELECT date_part('epoch', v."timestamp") AS epoch, v.project || ' / ' || v."column" AS metric, v.value
      FROM evmon.metric_values v
      WHERE v.project = ANY(ARRAY[$project]::text[]) AND v."column" = ANY(ARRAY[$column]::text[]) AND v.kind = 'daily' AND $__timeFilter(v."timestamp")
        AND v.metric_type = 'ValueDrift') v
GROUP BY 1, 2
ORDER BY 1
"""  # noqa: E501
DRIFT_SCORE_PER_COLUMN_ROLLUP_SQL = f"""SELECT $__unixEpochGroupAlias(v.epoch, $__interval), v.metric, sum(v.sum) / nullif(sum(v.n), 0) AS drift_score
FROM (SELECT date_part('epoch', v.period_start) AS epoch, v.project || ' / ' || v."column" AS metric, v.sum, v.n
      FROM evmon.metric_rollups v
      WHERE v.project = ANY(ARRAY[$project]::text[]) AND v."column" = ANY(ARRAY[$column]::text[]) AND v.kind = 'daily' AND {ROLLUP_WHERE}
        AND v.metric_type = 'ValueDrift') v
GROUP BY 1, 2
"""  # noqa: E501
DRIFT_SCORE_PER_COLUMN_SQL = by_range(DRIFT_SCORE_PER_COLUMN_DAILY_SQL, DRIFT_SCORE_PER_COLUMN_ROLLUP_SQL)

DRIFT_VERDICT_PER_COLUMN_DAILY_SQL = """SELECT $__unixEpochGroupAlias(c.epoch, $__interval), c.metric, max(c.drift) AS drift
FROM (SELECT date_part('epoch', v."timestamp") AS epoch, v.project || ' / ' || v."column" AS metric,
             CASE WHEN v.drift_detected THEN 1 WHEN NOT v.drift_detected THEN 0 END AS drift
      FROM evmon.metric_values v
      WHERE v.project = ANY(ARRAY[$project]::text[]) AND v.metric_type = 'ValueDrift' AND v."column" = ANY(ARRAY[$column]::text[])
        AND v.kind = 'daily' AND $__timeFilter(v."timestamp")) c
GROUP BY 1, 2
ORDER BY 1
"""  # noqa: E501
DRIFT_VERDICT_PER_COLUMN_ROLLUP_SQL = f"""SELECT $__unixEpochGroupAlias(c.epoch, $__interval), c.metric, max(c.drift) AS drift
FROM (SELECT date_part('epoch', v.period_start) AS epoch, v.project || ' / ' || v."column" AS metric,
             CASE WHEN v.drifted > 0 THEN 1 WHEN v.judged > 0 THEN 0 END AS drift
      FROM evmon.metric_rollups v
      WHERE v.project = ANY(ARRAY[$project]::text[]) AND v.metric_type = 'ValueDrift' AND v."column" = ANY(ARRAY[$column]::text[])
        AND v.kind = 'daily' AND {ROLLUP_WHERE}) c
GROUP BY 1, 2
"""  # noqa: E501
DRIFT_VERDICT_PER_COLUMN_SQL = by_range(DRIFT_VERDICT_PER_COLUMN_DAILY_SQL, DRIFT_VERDICT_PER_COLUMN_ROLLUP_SQL)

LATEST_DRIFT_TEST_PER_COLUMN_SQL = """SELECT c.project, c."column", c.day, coalesce(c.stattest, c.method) AS method, c.score_kind,
       c.threshold, c.drift_score,
       CASE WHEN c.drift_detected THEN 'drift' WHEN NOT c.drift_detected THEN 'no drift'
            ELSE 'unknown method' END AS verdict
FROM (SELECT DISTINCT ON (s.project) s.snapshot_id
      FROM evmon.snapshots s
      WHERE s.project = ANY(ARRAY[$project]::text[]) AND s.kind = 'daily' AND $__timeFilter(s."timestamp")
      ORDER BY s.project, s."timestamp" DESC) l
JOIN evmon.column_drift c ON c.snapshot_id = l.snapshot_id
WHERE c."column" = ANY(ARRAY[$column]::text[])
ORDER BY 1, 2
"""  # noqa: E501

_DRIFT_FILTER = """v.project = ANY(ARRAY[$project]::text[]) AND v.metric_type = 'ValueDrift'
    AND v."column" = ANY(ARRAY[$column]::text[]) AND v.kind = 'daily'"""
# a count over the whole range, exact for any range: the rollups of the weeks wholly inside it, the days around them
DAYS_WITH_DRIFT_PER_COLUMN_SQL = f"""SELECT d.series, sum(d.drifted)::bigint AS drifted_days
FROM (
  SELECT v.project || ' / ' || v."column" AS series, count(*) FILTER (WHERE v.drift_detected) AS drifted
  FROM evmon.metric_values v
  WHERE {_DRIFT_FILTER} AND {BEFORE_WHOLE_WEEKS}
  GROUP BY 1
  UNION ALL
  SELECT v.project || ' / ' || v."column", sum(v.drifted)
  FROM evmon.metric_rollups v
  WHERE {_DRIFT_FILTER} AND {IN_WHOLE_WEEKS}
  GROUP BY 1
  UNION ALL
  SELECT v.project || ' / ' || v."column", count(*) FILTER (WHERE v.drift_detected)
  FROM evmon.metric_values v
  WHERE {_DRIFT_FILTER} AND {AFTER_WHOLE_WEEKS}
  GROUP BY 1
) d
GROUP BY 1
ORDER BY 2 DESC, 1
"""


def build() -> model.Dashboard:
    """The "evmon / Feature drift" dashboard."""
    return (
        dashboard(
            "evmon-feature-drift",
            "evmon / Feature drift",
            description=(
                "Per-column drift against the reference: scores over time, daily verdicts, each column's method "
                "and threshold."
            ),
        )
        .with_variable(project_variable())
        .with_variable(
            sql_variable(
                "column",
                "Column",
                COLUMN_VARIABLE_SQL,
                description=(
                    "Columns with a drift test (features and the prediction) in the newest daily snapshot of each "
                    "selected project in the time range."
                ),
            )
        )
        .with_panel(
            time_series(
                1,
                "Drift score per column",
                at(0, 0, 24, 9),
                sql(DRIFT_SCORE_PER_COLUMN_SQL),
                description=(
                    "Each column's drift score against the reference, per day. What the score means depends on the "
                    "column's method: a p-value (drift when BELOW the threshold) or a distance (drift when ABOVE it);"
                    " see the table below for each column's method and threshold. Long ranges (about a year and more)"
                    " show weekly averages of the daily values, to keep the panel fast."
                ),
                unit="none",
            )
            .min(0)
            .interval("1d")
            .max_data_points(50)
        )
        .with_panel(
            state_timeline(
                2,
                "Drift verdict per column",
                at(0, 9, 24, 10),
                sql(DRIFT_VERDICT_PER_COLUMN_SQL),
                description=(
                    "Whether each column's drift test fired on each day (its score compared with its threshold, in "
                    "the direction its method defines). Empty: a method evmon does not know. Long ranges (about a "
                    "year and more) show weekly verdicts (drift if it fired on any day of the week) of the daily "
                    "values, to keep the panel fast."
                ),
                states={"0": ("no drift", "green"), "1": ("drift", "red")},
                steps=thresholds("green", (1, "red")),
            )
            .interval("1d")
            .max_data_points(50)
        )
        .with_panel(
            table_panel(
                3,
                "Latest drift test per column",
                at(0, 19, 16, 10),
                sql(LATEST_DRIFT_TEST_PER_COLUMN_SQL, "table"),
                description=(
                    "Each column's drift test in the newest daily snapshot of the time range: the statistical test "
                    "Evidently used (per column or the preset's num/cat method), what its score is (p_value: drift "
                    "below the threshold; distance: drift at or above it), the threshold, the score and the verdict."
                ),
                columns=[
                    Column("project", "Project"),
                    Column("column", "Column"),
                    Column("day", "Day", "time:YYYY-MM-DD"),
                    Column("method", "Method"),
                    Column("score_kind", "Score"),
                    Column("threshold", "Threshold", "none", 3),
                    Column("drift_score", "Drift score", "none", 4),
                    Column(
                        "verdict",
                        "Verdict",
                        values={"drift": (None, "red"), "no drift": (None, "green")},
                        cell="color-text",
                    ),
                ],
            ).sort_by([common_builders.TableSortByFieldState().display_name("Project").desc(False)])
        )
        .with_panel(
            bar_gauge(
                4,
                "Days with drift per column",
                at(16, 19, 8, 10),
                sql(DAYS_WITH_DRIFT_PER_COLUMN_SQL, "table"),
                description="On how many days of the time range each column's drift test fired.",
                unit="none",
                decimals=0,
                steps=thresholds("green", (1, "orange"), (3, "red")),
                rows=True,
            ).with_transformation(organize(["series", "drifted_days"]))
        )
        .build()
    )
