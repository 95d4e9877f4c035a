"""The "evmon / Explanations" dashboard, grafana/dashboards/explanations.json: why the model decides as it does
(projects.yaml `model`), day by day. The attribution drift: the nDCG of the day's ranking of the model's columns
by mean |SHAP| against the reference's (AttributionNdcg, `label` the explainer); per column, its share of the
day's total attribution and the change of that share against the reference's (FeatureAttribution: `label` the
sample, day or reference; value kind mean_abs, share or share_change). The bridge's views evmon.attribution_drift
and evmon.explanations show the same values. Which columns' attributions moved most on the days the realized quality
fell (below the rule evmon-model-quality's 0.6): evmon.attribution_by_quality, over the time range."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from evmon.grafana.frame import board, project_variable
from evmon.grafana.panels import Column, bar_gauge, scale, table_panel, thresholds, time_series
from evmon.grafana.ranges import COLUMN_SERIES, Daily

NDCG = Daily("v.project", ("v.metric_type = 'AttributionNdcg'",), name="ndcg")
SHARE = Daily(
    COLUMN_SERIES,
    ("v.metric_type = 'FeatureAttribution' AND v.label = 'day' AND v.value_kind = 'share'",),
    name="share",
)
TOP_COLUMNS_SQL = """SELECT e.project || ' / ' || e."column"
       || ' (reference ' || round(e.reference_share::numeric * 100, 1) || '%)' AS series, e.share
FROM (SELECT DISTINCT ON (s.project) s.snapshot_id
      FROM evmon.snapshots s
      WHERE s.project = ANY(ARRAY[$project]::text[]) AND s.kind = 'daily' AND $__timeFilter(s."timestamp")
      ORDER BY s.project, s."timestamp" DESC) l
JOIN evmon.explanations e ON e.snapshot_id = l.snapshot_id
WHERE e.share IS NOT NULL
ORDER BY 2 DESC, 1
LIMIT 10
"""

# per project and column with a day in the range whose realized quality fell: its moves on those days and the others
QUALITY_DROPS_SQL = """SELECT a.project,
       row_number() OVER (PARTITION BY a.project
                          ORDER BY avg(abs(a.share_change)) FILTER (WHERE a.quality_fell) DESC NULLS LAST,
                                   a."column" COLLATE "C") AS rank,
       a."column",
       avg(abs(a.share_change)) FILTER (WHERE a.quality_fell) AS mean_abs_change_on_drops,
       avg(a.share_change) FILTER (WHERE a.quality_fell) AS mean_change_on_drops,
       avg(abs(a.share_change)) FILTER (WHERE NOT a.quality_fell) AS mean_abs_change_other_days,
       avg(abs(a.share_change)) FILTER (WHERE a.quality_fell)
         - avg(abs(a.share_change)) FILTER (WHERE NOT a.quality_fell) AS excess_on_drops,
       count(*) FILTER (WHERE a.quality_fell) AS drop_days,
       count(*) FILTER (WHERE NOT a.quality_fell) AS other_days,
       max(a.day) FILTER (WHERE a.quality_fell) AS last_drop_day
FROM evmon.attribution_by_quality a
WHERE a.project = ANY(ARRAY[$project]::text[]) AND a.kind = 'daily' AND $__timeFilter(a."timestamp")
GROUP BY a.project, a."column"
HAVING count(*) FILTER (WHERE a.quality_fell) > 0
ORDER BY 1, 2
"""
QUALITY_DROPS_COLUMNS = [
    Column("project", "Project"),
    Column("rank", "Rank", decimals=0),
    Column("column", "Column"),
    Column("mean_abs_change_on_drops", "Mean |Δ share| on falls", "percentunit", 1),
    Column("mean_change_on_drops", "Mean Δ share on falls", "percentunit", 1),
    Column("mean_abs_change_other_days", "Mean |Δ share| other labelled days", "percentunit", 1),
    Column("excess_on_drops", "Excess on falls", "percentunit", 1),
    Column("drop_days", "Fall days", decimals=0),
    Column("other_days", "Other labelled days", decimals=0),
    Column("last_drop_day", "Last fall day", "time:YYYY-MM-DD"),
]


def build() -> model.Dashboard:
    """The "evmon / Explanations" dashboard."""
    return board(
        "evmon-explanations",
        "evmon / Explanations",
        "Why the model decides as it does (projects.yaml model): SHAP attributions of a seeded sample of each day's "
        "rows against the reference's, and their drift.",
        [project_variable()],
        [(9, 16, 8), (9, 24), (9, 24)],
        [
            time_series(
                "Attribution drift: nDCG against the reference's ranking",
                NDCG,
                decimals=3,
                marks=thresholds("red", (0.9, "green")),
            ).description(
                "The nDCG of the day's ranking of the model's columns by mean |SHAP| against the reference's: each "
                "column the day ranks is credited with the reference's attribution of it, discounted by its rank, "
                "and divided by the same in the reference's own order. 1: the reference's ranking; below 0.9 (the "
                "line; the alert uses the project's model.thresholds.ndcg_min) the model leans on other columns "
                "than it did. It moves only when the inputs move: concept drift alone does not move it "
                "(docs/explanations.md)."
            ),
            bar_gauge(
                "Top columns by share of attribution (newest day)",
                TOP_COLUMNS_SQL,
                scale("percentunit", 1, "blue"),
                ["series", "share"],
            ).description(
                "The ten columns with the largest share of the day's total mean |SHAP| in the newest daily snapshot "
                "of the range, each with the reference's share of it."
            ),
            time_series("Share of attribution per column", SHARE, "percentunit").description(
                "Per column, its mean |SHAP| over the sum of them on the day's sample (model.sample_rows rows, "
                "seeded). The change of share against the reference's is in evmon.explanations.share_change."
            ),
            table_panel(
                "Columns that moved most on the days quality fell", QUALITY_DROPS_SQL, QUALITY_DROPS_COLUMNS
            ).description(
                "The labelled days of the range whose realized quality fell: the model-wide ROC AUC (R² for a "
                "regressor) below 0.6, as the rule evmon-model-quality (days whose labels have not arrived count "
                "neither way). Per column, the mean |change of its share of attribution| against the reference's "
                "on those days, signed too (negative: the model leaned on it less), the same on the other labelled "
                "days, and the excess: what moved with the fall rather than every day. Each fall day's columns by "
                "rank: evmon.attribution_on_quality_drops; over all days: evmon.attribution_quality_drop_summary."
            ),
        ],
    )
