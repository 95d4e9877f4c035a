"""The "evmon / Feature drift" dashboard, grafana/dashboards/feature_drift.json: per-column drift against the
reference (scores over time, daily verdicts, each column's method and threshold)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.models import dashboard as model

from evmon.grafana.frame import board, column_variable, project_variable
from evmon.grafana.panels import Column, bar_gauge, columns, scale, state_timeline, table_panel, time_series
from evmon.grafana.ranges import ANY_DRIFT, COLUMN, COLUMN_SERIES, DAILY_KIND, PROJECT, RANGE, Binned, weekly

VALUE_DRIFT = "v.metric_type = 'ValueDrift'"
DRIFT_SCORE_PER_COLUMN = Binned(COLUMN_SERIES, (PROJECT, COLUMN, DAILY_KIND, RANGE, VALUE_DRIFT), name="drift_score")
DRIFT_VERDICT_PER_COLUMN = Binned(COLUMN_SERIES, (PROJECT, VALUE_DRIFT, COLUMN, DAILY_KIND, RANGE), ANY_DRIFT, "drift")

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
LATEST_DRIFT_TEST_PER_COLUMN_COLUMNS = [
    *columns(project="Project", column="Column"),
    Column("day", "Day", "time:YYYY-MM-DD"),
    *columns(method="Method", score_kind="Score"),
    Column("threshold", "Threshold", "none", 3),
    Column("drift_score", "Drift score", "none", 4),
    Column("verdict", "Verdict", values={"drift": (None, "red"), "no drift": (None, "green")}, cell="color-text"),
]

# Days with drift, a count over the whole range, exact for any range: the rollups of the weeks wholly inside it
# (Mondays, UTC, m with WHOLE_WEEKS_FROM <= m < WHOLE_WEEKS_TO), the days before and after them
WHOLE_WEEKS_FROM = (
    "((date_trunc('week', ($__timeFrom()::timestamptz AT TIME ZONE 'UTC') - interval '1 microsecond')"
    " + interval '7 days') AT TIME ZONE 'UTC')"
)
WHOLE_WEEKS_TO = "(date_trunc('week', $__timeTo()::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"
BEFORE_WHOLE_WEEKS = f'v."timestamp" >= $__timeFrom()::timestamptz AND v."timestamp" < {WHOLE_WEEKS_FROM}'
AFTER_WHOLE_WEEKS = (
    f'v."timestamp" >= greatest({WHOLE_WEEKS_FROM}, {WHOLE_WEEKS_TO}) AND v."timestamp" <= $__timeTo()::timestamptz'
)
IN_WHOLE_WEEKS = f"v.grain = 'week' AND v.period_start >= {WHOLE_WEEKS_FROM} AND v.period_start < {WHOLE_WEEKS_TO}"
_DRIFT_FILTER = f"{PROJECT} AND {VALUE_DRIFT}\n    AND {COLUMN} AND {DAILY_KIND}"
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
    return board(
        "evmon-feature-drift",
        "evmon / Feature drift",
        "Per-column drift against the reference: scores over time, daily verdicts, each column's method and threshold.",
        [
            project_variable(),
            column_variable(
                "ValueDrift",
                "Columns with a drift test (features and the prediction) in the newest daily snapshot of each "
                "selected project in the time range.",
            ),
        ],
        [(9, 24), (10, 24), (10, 16, 8)],
        [
            time_series("Drift score per column", DRIFT_SCORE_PER_COLUMN, limits=(0, None)).description(
                "Each column's drift score against the reference, per day. What the score means depends on the "
                "column's method: a p-value (drift when BELOW the threshold) or a distance (drift when ABOVE it);"
                " see the table below for each column's method and threshold." + weekly("averages")
            ),
            state_timeline(
                "Drift verdict per column", DRIFT_VERDICT_PER_COLUMN, ("no drift", "green"), ("drift", "red")
            ).description(
                "Whether each column's drift test fired on each day (its score compared with its threshold, in "
                "the direction its method defines). Empty: a method evmon does not know."
                + weekly("verdicts (drift if it fired on any day of the week)")
            ),
            table_panel(
                "Latest drift test per column", LATEST_DRIFT_TEST_PER_COLUMN_SQL, LATEST_DRIFT_TEST_PER_COLUMN_COLUMNS
            )
            .description(
                "Each column's drift test in the newest daily snapshot of the time range: the statistical test "
                "Evidently used (per column or the preset's num/cat method), what its score is (p_value: drift below "
                "the threshold; distance: drift at or above it), the threshold, the score and the verdict."
            )
            .sort_by([common_builders.TableSortByFieldState().display_name("Project").desc(False)]),
            bar_gauge(
                "Days with drift per column",
                DAYS_WITH_DRIFT_PER_COLUMN_SQL,
                scale("none", 0, "green", (1, "orange"), (3, "red")),
                ["series", "drifted_days"],
            ).description("On how many days of the time range each column's drift test fired."),
        ],
    )
