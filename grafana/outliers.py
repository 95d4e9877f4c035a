"""The "evmon / Outliers" dashboard, grafana/dashboards/outliers.json: the day's values the reference never held
(projects.yaml `outliers`): per column, the share outside the reference's range (Evidently's OutRangeValueCount
with evmon's bounds) or of categories it never saw (OutListValueCount); per day, the share of rows the
IsolationForest fitted on the reference scores as outliers (MultivariateOutlierCount); on labelled days, the
model's quality on those rows and on the others (OutlierQuality: `label` the rows, outliers or inliers, value kind
the metric, accuracy or mae). The bridge's views evmon.outliers and evmon.outlier_quality show the same values."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from evmon.grafana.frame import board, project_variable
from evmon.grafana.panels import bar_gauge, scale, thresholds, time_series
from evmon.grafana.ranges import COLUMN_SERIES, Daily

_PER_COLUMN = "v.metric_type IN ('OutRangeValueCount', 'OutListValueCount') AND v.value_kind = 'share'"
COLUMN_SHARE = Daily(COLUMN_SERIES, (_PER_COLUMN,), name="share")
MULTIVARIATE_SHARE = Daily(
    "v.project", ("v.metric_type = 'MultivariateOutlierCount' AND v.value_kind = 'share'",), name="share"
)
_ROWS = "CASE v.label WHEN 'outliers' THEN 'outlier rows' ELSE 'other rows' END"
OUTLIER_QUALITY = Daily(
    f"v.project || ' / ' || v.value_kind || ' on ' || {_ROWS}", ("v.metric_type = 'OutlierQuality'",), name="quality"
)
TOP_COLUMNS_SQL = """SELECT o.project || ' / ' || o."column" AS series, o.share
FROM (SELECT DISTINCT ON (s.project) s.snapshot_id
      FROM evmon.snapshots s
      WHERE s.project = ANY(ARRAY[$project]::text[]) AND s.kind = 'daily' AND $__timeFilter(s."timestamp")
      ORDER BY s.project, s."timestamp" DESC) l
JOIN evmon.outliers o ON o.snapshot_id = l.snapshot_id
WHERE o.outlier_kind <> 'multivariate' AND o.share IS NOT NULL
ORDER BY 2 DESC, 1
LIMIT 10
"""


def build() -> model.Dashboard:
    """The "evmon / Outliers" dashboard."""
    return board(
        "evmon-outliers",
        "evmon / Outliers",
        "Values today that the reference never held (projects.yaml outliers): per column, and whole rows scored by an "
        "IsolationForest fitted on the reference.",
        [project_variable()],
        [(9, 16, 8), (9, 12, 12)],
        [
            time_series(
                "Outlier share per column", COLUMN_SHARE, "percentunit", marks=thresholds("green", (0.05, "red"))
            ).description(
                "Per numerical column, the share of the day's non-missing values outside the reference's range (its "
                "quantiles, 0.5% and 99.5% by default, or min and max); per categorical column, the share of values "
                "the reference never held (new categories). The alert uses the project's "
                "outliers.thresholds.column_share_max (the line: the default, 5%)."
            ),
            bar_gauge(
                "Top columns by outlier share (newest day)",
                TOP_COLUMNS_SQL,
                scale("percentunit", 1, "green", (0.05, "red")),
                ["series", "share"],
            ).description("The ten columns with the largest outlier share in the newest daily snapshot of the range."),
            time_series(
                "Multivariate outlier share",
                MULTIVARIATE_SHARE,
                "percentunit",
                marks=thresholds("green", (0.05, "red")),
            ).description(
                "The share of the day's rows that an IsolationForest, fitted once on the reference with a fixed seed, "
                "scores as outliers at the reference's own contamination: rows whose combination of values is "
                "unusual even when each value is in range. The alert uses outliers.thresholds.multivariate_share_max."
            ),
            time_series("Model quality on outlier rows vs the others", OUTLIER_QUALITY, decimals=3).description(
                "What the outliers cost: the model's quality on the rows the IsolationForest scores as outliers and on "
                "the other rows of the same day (accuracy for a classifier, at the project's decision threshold; MAE "
                "for a regressor), from the rows that have a label and a prediction. Accuracy below, or MAE above, "
                "the other rows' is the price of the outliers. Needs the day's labels (the newest days have no points "
                "until their labels arrive)."
            ),
        ],
    )
