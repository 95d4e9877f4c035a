"""The bridge's fairness and outlier gauges: each project's newest values and its thresholds.

Read at scrape time from the bridge's generic rows (evmon.metric_values), on the collector's connection:
- Fairness (metric type FairnessValue: label = the group, value_kind = the measure, column = the
  sensitive column): the newest daily snapshot holding fairness values gives every measure exported;
  the measures that need labels (equalized odds, TPR, FPR, the quality gap) come from the newest day
  that has them (labels arrive days late: a day before its labels has only the label-free measures).
- Outliers (OutRangeValueCount: kind range; OutListValueCount: kind new_category;
  MultivariateOutlierCount): the shares of the newest daily snapshot holding outlier values.
- Explanations (AttributionNdcg: label = the explainer; FeatureAttribution: label = the sample, day or
  reference, value_kind = mean_abs, share or share_change): the nDCG and each column's share of the day's
  attribution, of the newest daily snapshot holding them.
- The thresholds are projects.yaml's (fairness.thresholds, outliers.thresholds, model.thresholds), one series per
  project with the section, so that Prometheus' rules compare each project with its own; projects.yaml
  is read again when it changed (bridge/config_watch.py's current_config), so an edited threshold shows at the
  next scrape.

Cardinality: only the newest day (and newest labelled day) per project, never a history; per
sensitive column a fixed set of measures, per group a fixed set (the groups are the sensitive column's
values that day); per watched column at most two outlier series; per model column one attribution series.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from prometheus_client.core import GaugeMetricFamily, Metric

from evmon.bridge.thresholds import thresholds_of
from evmon.config.fairness import CLASSIFIER_METRICS, REGRESSOR_METRICS
from evmon.config.model import EvmonConfig

BETWEEN_MEASURES = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "quality_gap",
    "mean_prediction_gap",
    "estimated_quality_gap",
)
# a group's estimated quality (with estimation on) is named after its metric: estimated_accuracy, ...
ESTIMATED_MEASURES = tuple(f"estimated_{m}" for m in (*CLASSIFIER_METRICS, *REGRESSOR_METRICS))
GROUP_MEASURES = ("rows", "ranked", "selection_rate", "disparate_impact", "tpr", "fpr", *ESTIMATED_MEASURES)
LABELLED_MEASURES = ("equalized_odds_difference", "quality_gap", "tpr", "fpr")
OUTLIER_KINDS = {"OutRangeValueCount": "range", "OutListValueCount": "new_category"}
MULTIVARIATE = "MultivariateOutlierCount"

# the newest day and the newest labelled day (not looked for in a project without labels: %(unlabelled)s), then
# each day's values: every lookup an index range on (project, metric_type, "timestamp"), never a walk
FAIRNESS_SQL = """
SELECT p.name, f."column", f.label, f.value_kind, f.value
FROM evmon.projects p
CROSS JOIN LATERAL (
    SELECT (SELECT v."timestamp" FROM evmon.metric_values v
            WHERE v.project = p.name AND v.metric_type = 'FairnessValue' AND v.kind = 'daily'
            ORDER BY v."timestamp" DESC LIMIT 1) AS newest,
           (SELECT v."timestamp" FROM evmon.metric_values v
            WHERE v.project = p.name AND v.metric_type = 'FairnessValue' AND v.kind = 'daily'
              AND v.value_kind = ANY(%(labelled)s) AND v.value <> 'NaN'
              AND NOT p.name = ANY(%(unlabelled)s)
            ORDER BY v."timestamp" DESC LIMIT 1) AS labelled) t
JOIN LATERAL (
    SELECT DISTINCT ON (d."column", d.label, d.value_kind) d."column", d.label, d.value_kind, d.value
    FROM (SELECT v."column", v.label, v.value_kind, v.value, v."timestamp" FROM evmon.metric_values v
          WHERE v.project = p.name AND v.metric_type = 'FairnessValue' AND v."timestamp" = t.newest
            AND v.kind = 'daily' AND v.value_kind = ANY(%(measures)s)
          UNION ALL
          SELECT v."column", v.label, v.value_kind, v.value, v."timestamp" FROM evmon.metric_values v
          WHERE v.project = p.name AND v.metric_type = 'FairnessValue' AND v."timestamp" = t.labelled
            AND v.kind = 'daily' AND v.value_kind = ANY(%(labelled)s)) d
    ORDER BY d."column", d.label, d.value_kind, d."timestamp" DESC) f ON true
ORDER BY 1, 2, 3, 4
"""
# each probe is one index step on (project, metric_type, "timestamp")
_OUTLIERS = """
SELECT p.name, o.metric_type, o."column", o.value
FROM evmon.projects p
CROSS JOIN LATERAL (
    SELECT max(x."timestamp") AS newest FROM (
        (SELECT v."timestamp" FROM evmon.metric_values v WHERE v.project = p.name
           AND v.metric_type = 'OutRangeValueCount' AND v.kind = 'daily' ORDER BY v."timestamp" DESC LIMIT 1)
        UNION ALL
        (SELECT v."timestamp" FROM evmon.metric_values v WHERE v.project = p.name
           AND v.metric_type = 'OutListValueCount' AND v.kind = 'daily' ORDER BY v."timestamp" DESC LIMIT 1)
        UNION ALL
        (SELECT v."timestamp" FROM evmon.metric_values v WHERE v.project = p.name
           AND v.metric_type = 'MultivariateOutlierCount' AND v.kind = 'daily' ORDER BY v."timestamp" DESC LIMIT 1)
    ) x) t
JOIN LATERAL (
    SELECT v.metric_type, v."column", max(v.value) AS value
    FROM evmon.metric_values v
    WHERE v.project = p.name
      AND v.metric_type IN ('OutRangeValueCount', 'OutListValueCount', 'MultivariateOutlierCount')
      AND v."timestamp" = t.newest AND v.kind = 'daily' AND v.value_kind = 'share'
    GROUP BY v.metric_type, v."column") o ON true
ORDER BY 1, 2, 3
"""


# the newest day with an nDCG (one index step), then its nDCG and the day's share of each column
EXPLANATIONS_SQL = """
SELECT p.name, v.metric_type, v."column", v.label, v.value
FROM evmon.projects p
CROSS JOIN LATERAL (
    SELECT v."timestamp" AS newest FROM evmon.metric_values v
    WHERE v.project = p.name AND v.metric_type = 'AttributionNdcg' AND v.kind = 'daily'
    ORDER BY v."timestamp" DESC LIMIT 1) t
JOIN evmon.metric_values v ON v.project = p.name AND v."timestamp" = t.newest AND v.kind = 'daily'
    AND (v.metric_type = 'AttributionNdcg'
         OR (v.metric_type = 'FeatureAttribution' AND v.label = 'day' AND v.value_kind = 'share'))
ORDER BY 1, 2, 3
"""


def explanation_values(rows: list[tuple[Any, ...]]) -> Iterator[Metric]:
    """The gauges of EXPLANATIONS_SQL's rows: the nDCG, and each column's share of the day's attribution."""
    ndcg = GaugeMetricFamily(
        "evmon_project_attribution_ndcg",
        "nDCG of the newest day's ranking of the model's columns by mean |SHAP| against the reference's "
        "(1: the same ranking); explainer tree, linear or permutation",
        labels=["project", "explainer"],
    )
    share = GaugeMetricFamily(
        "evmon_project_attribution_share",
        "A model column's share of the newest day's total mean |SHAP| (projects.yaml model)",
        labels=["project", "column"],
    )
    for project, metric_type, column, label, value in rows:
        if (number := _finite(value)) is None:
            continue
        if metric_type == "AttributionNdcg":
            ndcg.add_metric([project, str(label)], number)
        elif column is not None:
            share.add_metric([project, str(column)], number)
    yield ndcg
    yield share


def without_labels(config: EvmonConfig) -> list[str]:
    """The projects with `fairness` and no columns.target: none of their fairness values can need labels."""
    return sorted(p.name for p in config.projects if p.fairness is not None and p.columns.target is None)


def read_fairness_outliers(
    conn: psycopg.Connection, unlabelled: Sequence[str] = ()
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """FAIRNESS_SQL's and _OUTLIERS's rows (psycopg errors are the caller's).

    `unlabelled` (without_labels): projects whose newest labelled day is not looked for. Such a day
    cannot be there, and looking walks back through every fairness value of the project, the longer the
    more days it has.
    """
    fairness = conn.execute(FAIRNESS_SQL, fairness_params(unlabelled)).fetchall()
    return fairness, conn.execute(_OUTLIERS).fetchall()


def fairness_params(unlabelled: Sequence[str]) -> dict[str, list[str]]:
    """FAIRNESS_SQL's parameters: the measures exported, those needing labels, the projects without labels."""
    measures = list(BETWEEN_MEASURES) + [m for m in GROUP_MEASURES if m not in BETWEEN_MEASURES]
    return {"measures": measures, "labelled": list(LABELLED_MEASURES), "unlabelled": list(unlabelled)}


def _finite(value: Any) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


def fairness_values(rows: list[tuple[Any, ...]]) -> Iterator[Metric]:
    """The gauges of FAIRNESS_SQL's rows: between the groups (no group) and per group."""
    between = GaugeMetricFamily(
        "evmon_project_fairness",
        "Fairness between the groups of a sensitive column (`column`), newest day (label-needing measures: "
        "newest labelled day); measure " + ", ".join(BETWEEN_MEASURES),
        labels=["project", "column", "measure"],
    )
    per_group = GaugeMetricFamily(
        "evmon_project_fairness_group",
        "Fairness per group of a sensitive column, newest day (tpr, fpr: newest labelled day); measure "
        + ", ".join(GROUP_MEASURES),
        labels=["project", "column", "group", "measure"],
    )
    for project, column, group, measure, value in rows:
        if (number := _finite(value)) is None:
            continue
        if group is None and measure in BETWEEN_MEASURES:
            between.add_metric([project, str(column), measure], number)
        elif group is not None and measure in GROUP_MEASURES:
            per_group.add_metric([project, str(column), str(group), measure], number)
    yield between
    yield per_group


def outlier_values(rows: list[tuple[Any, ...]]) -> Iterator[Metric]:
    """The gauges of _OUTLIERS's rows: per column and kind, and the multivariate share."""
    per_column = GaugeMetricFamily(
        "evmon_project_outlier_share",
        "Share of a column's non-missing values that are outliers against the reference, newest day with "
        "outlier values; kind range (outside the reference's range) or new_category (never in the reference)",
        labels=["project", "column", "kind"],
    )
    multivariate = GaugeMetricFamily(
        "evmon_project_multivariate_outlier_share",
        "Share of the rows the IsolationForest fitted on the reference scores as outliers, newest day",
        labels=["project"],
    )
    for project, metric_type, column, value in rows:
        if (number := _finite(value)) is None:
            continue
        if metric_type == MULTIVARIATE:
            multivariate.add_metric([project], number)
        elif metric_type in OUTLIER_KINDS and column is not None:
            per_column.add_metric([project, str(column), OUTLIER_KINDS[metric_type]], number)
    yield per_column
    yield multivariate


def threshold_values(config: EvmonConfig) -> Iterator[Metric]:
    """projects.yaml's fairness and outlier thresholds, per project with the section (the same ones the
    bridge writes for Grafana's rules: evmon.bridge.thresholds)."""
    gauges = {
        "disparate_impact_min": GaugeMetricFamily(
            "evmon_project_disparate_impact_min",
            "fairness.thresholds.disparate_impact_min: a demographic parity ratio below it alerts",
            labels=["project"],
        ),
        "equalized_odds_max": GaugeMetricFamily(
            "evmon_project_equalized_odds_max",
            "fairness.thresholds.equalized_odds_max: an equalized odds difference above it alerts",
            labels=["project"],
        ),
        "column_share_max": GaugeMetricFamily(
            "evmon_project_outlier_column_share_max",
            "outliers.thresholds.column_share_max: a column's outlier share above it alerts",
            labels=["project"],
        ),
        "multivariate_share_max": GaugeMetricFamily(
            "evmon_project_multivariate_outlier_share_max",
            "outliers.thresholds.multivariate_share_max: a multivariate outlier share above it alerts",
            labels=["project"],
        ),
        "ndcg_min": GaugeMetricFamily(
            "evmon_project_attribution_ndcg_min",
            "model.thresholds.ndcg_min: an attribution nDCG below it alerts",
            labels=["project"],
        ),
    }
    for (project, name), value in sorted(thresholds_of(config).items()):
        gauges[name].add_metric([project], value)
    yield from gauges.values()
