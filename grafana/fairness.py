"""The "evmon / Fairness" dashboard, grafana/dashboards/fairness.json: how alike the model treats the groups of
each sensitive column (projects.yaml `fairness`), per day: evmon's FairnessValue metrics (evmon/fairness/), whose
`column` is the sensitive column, `label` the group (NULL for a between-group measure) and value kind the
measure; the bridge's view evmon.fairness shows the same rows."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from evmon.grafana.frame import board, project_variable
from evmon.grafana.panels import Column, columns, table_panel, thresholds, time_series
from evmon.grafana.ranges import COLUMN_SERIES, Daily

_FAIRNESS = "v.metric_type = 'FairnessValue'"


def _between(measure: str) -> Daily:
    """A between-group measure, a series per project and sensitive column."""
    return Daily(COLUMN_SERIES, (f"{_FAIRNESS} AND v.label IS NULL AND v.value_kind = '{measure}'",), name=measure)


def _per_group(measure: str) -> Daily:
    """A per-group measure, a series per project, sensitive column and group."""
    series = f"{COLUMN_SERIES} || ' = ' || v.label"
    return Daily(series, (f"{_FAIRNESS} AND v.label IS NOT NULL AND v.value_kind = '{measure}'",), name=measure)


DISPARATE_IMPACT = _between("demographic_parity_ratio")
EQUALIZED_ODDS = _between("equalized_odds_difference")
QUALITY_GAP = _between("quality_gap")
ESTIMATED_QUALITY_GAP = _between("estimated_quality_gap")
SELECTION_RATE = _per_group("selection_rate")

NEWEST_DAY_SQL = """SELECT f.project, f.sensitive_column, f.day,
       max(f.value) FILTER (WHERE f.measure = 'demographic_parity_ratio') AS disparate_impact,
       max(f.value) FILTER (WHERE f.measure = 'demographic_parity_difference') AS parity_difference,
       max(f.value) FILTER (WHERE f.measure = 'equalized_odds_difference') AS equalized_odds,
       max(f.value) FILTER (WHERE f.measure = 'quality_gap') AS quality_gap,
       max(f.value) FILTER (WHERE f.measure = 'estimated_quality_gap') AS estimated_quality_gap,
       count(DISTINCT f."group") AS "groups",
       count(DISTINCT f."group") FILTER (WHERE f.measure = 'ranked' AND f.value = 0) AS too_small
FROM (SELECT DISTINCT ON (s.project) s.snapshot_id
      FROM evmon.snapshots s
      WHERE s.project = ANY(ARRAY[$project]::text[]) AND s.kind = 'daily' AND $__timeFilter(s."timestamp")
      ORDER BY s.project, s."timestamp" DESC) l
JOIN evmon.fairness f ON f.snapshot_id = l.snapshot_id
GROUP BY f.project, f.sensitive_column, f.day
ORDER BY 1, 2
"""
NEWEST_DAY_COLUMNS = [
    *columns(project="Project", sensitive_column="Sensitive column"),
    Column("day", "Day", "time:YYYY-MM-DD"),
    Column("disparate_impact", "Disparate impact", "none", 3, steps=((0.8, "green"),), base="red"),
    Column("parity_difference", "Parity difference", "none", 3),
    Column("equalized_odds", "Equalized odds diff.", "none", 3, steps=((0.1, "red"),)),
    Column("quality_gap", "Quality gap", "none", 3),
    Column("estimated_quality_gap", "Estimated quality gap", "none", 3),
    Column("groups", "Groups", decimals=0),
    Column("too_small", "Groups below min_rows", decimals=0, steps=((1, "orange"),)),
]

LABELLED = " Needs the day's labels (the newest days have no points until their labels arrive)."


def build() -> model.Dashboard:
    """The "evmon / Fairness" dashboard."""
    return board(
        "evmon-fairness",
        "evmon / Fairness",
        "How alike the model treats the groups of each sensitive column (projects.yaml fairness): disparate impact, "
        "equalized odds, selection rates and the quality gap (estimated before the labels) per day.",
        [project_variable()],
        [(9, 12, 12), (9, 24), (9, 12, 12), (7, 24)],
        [
            time_series(
                "Disparate impact per sensitive column",
                DISPARATE_IMPACT,
                marks=thresholds("red", (0.8, "green")),
                limits=(0, 1),
            ).description(
                "The demographic parity ratio: the lowest group's selection rate (share predicted positive at the "
                "project's threshold) divided by the highest's, among the groups with at least min_rows rows. Below "
                "0.8 fails the four-fifths rule (the alert uses the project's "
                "fairness.thresholds.disparate_impact_min)."
            ),
            time_series(
                "Equalized odds difference per sensitive column",
                EQUALIZED_ODDS,
                marks=thresholds("green", (0.1, "red")),
                limits=(0, 1),
            ).description(
                "The larger of the gaps between groups in true positive rate and in false positive rate (Fairlearn's "
                "equalized_odds_difference). Above 0.1 alerts (fairness.thresholds.equalized_odds_max)." + LABELLED
            ),
            time_series("Selection rate per group", SELECTION_RATE, "percentunit", limits=(0, 1)).description(
                "The share of each group's rows the model predicts positive (approves), per sensitive column and "
                "group: where a drop in disparate impact comes from. Label-free: every day has it."
            ),
            time_series("Quality gap per sensitive column", QUALITY_GAP).description(
                "The best group's quality metric minus the worst's (fairness.quality_metric: accuracy by default, "
                "MAE for a regressor)." + LABELLED
            ),
            time_series("Estimated quality gap per sensitive column", ESTIMATED_QUALITY_GAP).description(
                "The same gap over each group's quality estimated from its predictions alone (presets.estimation: "
                "CBPE or DLE, the quality metric where the estimator has it, else ROC AUC or MAE): every day, so a "
                "gap shows before the labels arrive. Only for projects with both fairness and estimation."
            ),
            table_panel("Newest day per sensitive column", NEWEST_DAY_SQL, NEWEST_DAY_COLUMNS).description(
                "The newest daily snapshot of the time range per project: its between-group measures per sensitive "
                "column (the quality gap empty until the day's labels arrive, the estimated one empty without "
                "estimation), how many groups it saw and how many had fewer rows than min_rows (reported, not ranked)."
            ),
        ],
    )
