"""The dashboard's "Fairness" and "Outliers" panels (evmon.evidently.dashboard builds the tabs).

Fairness (evmon/evidently/fairness.py, FairnessValue(column, measure, group)): per sensitive column,
the between-groups disparate impact (demographic_parity_ratio, label-free: every day) and, for a
classifier, the equalized odds difference (labelled days only); a regressor has no selection rate,
so its panel shows the gap of the groups' mean predictions and, on labelled days, the quality gap.
With presets.estimation, each sensitive column also gets the estimated quality gap (best minus
worst group's estimated quality): every day, before the labels.

Outliers (evmon/evidently/outliers.py): the forest's share of outlier rows, and one panel of the
share per watched column. Evidently's OutRangeValueCount/OutListValueCount carry the reference's
bounds/values as params; the UI matches a panel's labels as a *subset* of a result's params
(evidently/ui/service/storage/local/base.py and sql/data.py, `_find_filter_index`), so a filter
{column, value_type: share} selects a column's share whatever its bounds. The UI still keys a
series by all its params, so a new reference (new bounds) draws a new line under the same legend.
"Top" columns: the watched columns in their configured order, the first TOP_OUTLIER_COLUMNS
(a panel model is static: it cannot rank columns by their values).

Explanations (evmon/evidently/explain.py, a project with `model:`): the nDCG of the day's SHAP ranking
against the reference's, and each column's share of the day's attribution (FeatureAttribution
{column, sample: day, kind: share}) for the model's first TOP_OUTLIER_COLUMNS columns, in its order.
"""

from __future__ import annotations

from collections.abc import Callable

from evidently.sdk.models import DashboardPanelPlot, PanelMetric
from evidently.sdk.panels import line_plot_panel

from evmon.config.model import Project

TOP_OUTLIER_COLUMNS = 8

Add = Callable[[str, DashboardPanelPlot], None]
Metric = Callable[..., PanelMetric]


def fairness_panels(add: Add, metric: Metric, project: Project) -> None:
    """Per sensitive column: disparate impact and equalized odds (a regressor: its gaps)."""
    fairness = project.fairness
    if fairness is None:
        return
    thresholds = fairness.thresholds
    regressor = project.columns.prediction is not None and project.columns.prediction.kind == "regression"
    for column in fairness.sensitive:

        def value(measure: str, legend: str, labelled: bool = False, column: str = column) -> PanelMetric:
            return metric("FairnessValue", legend, {"column": column, "measure": measure}, quality=labelled)

        if regressor:
            add(
                f"fairness:{column}:mean-prediction-gap",
                line_plot_panel(
                    f"Mean prediction gap by {column}",
                    [value("mean_prediction_gap", "largest - smallest group mean")],
                    description="between the ranked groups, every day",
                ),
            )
            add(
                f"fairness:{column}:quality-gap",
                line_plot_panel(
                    f"Quality gap by {column} (labelled days)",
                    [value("quality_gap", "best - worst group", labelled=True)],
                ),
            )
        else:
            add(
                f"fairness:{column}:disparate-impact",
                line_plot_panel(
                    f"Disparate impact by {column}",
                    [value("demographic_parity_ratio", "lowest / highest selection rate")],
                    description=f"every day; alert below {thresholds.disparate_impact_min} (four-fifths rule)",
                ),
            )
            add(
                f"fairness:{column}:equalized-odds",
                line_plot_panel(
                    f"Equalized odds difference by {column} (labelled days)",
                    [value("equalized_odds_difference", "largest TPR or FPR gap", labelled=True)],
                    description=f"alert above {thresholds.equalized_odds_max}",
                ),
            )
        if project.presets.estimation is not None:
            add(
                f"fairness:{column}:estimated-quality-gap",
                line_plot_panel(
                    f"Estimated quality gap by {column}",
                    [value("estimated_quality_gap", "best - worst group, estimated")],
                    description="between the ranked groups' estimated quality, every day (before the labels)",
                ),
            )


def outlier_panels(add: Add, metric: Metric, project: Project) -> None:
    """The multivariate outlier share and the outlier share of the first watched columns."""
    outliers = project.outliers
    if outliers is None:
        return
    thresholds = outliers.thresholds
    forest = outliers.isolation_forest
    if forest.enabled:
        add(
            "outliers:multivariate",
            line_plot_panel(
                "Multivariate outlier share",
                [metric("MultivariateOutlierCount", "outlier rows share", {"value_type": "share"})],
                description=f"IsolationForest fitted on the reference; alert above {thresholds.multivariate_share_max}",
            ),
        )
    cols = project.columns
    numerical = set(cols.numerical)
    watched = [c for c in outliers.columns_of(cols.features()) if c in numerical or c in cols.categorical]
    shown = watched[:TOP_OUTLIER_COLUMNS]
    if not shown:
        return
    lines = [
        metric(
            "OutRangeValueCount" if column in numerical else "OutListValueCount",
            column,
            {"column": column, "value_type": "share"},
        )
        for column in shown
    ]
    more = f"; the first {len(shown)} of {len(watched)} watched columns" if len(watched) > len(shown) else ""
    where = "outside the reference's range / new categories"
    add(
        "outliers:columns",
        line_plot_panel(
            "Outlier share per column",
            lines,
            description=f"{where}; alert above {thresholds.column_share_max}{more}",
        ),
    )


def explanation_panels(add: Add, metric: Metric, project: Project) -> None:
    """The attribution drift (nDCG) and the attribution share of the model's first columns."""
    model = project.model
    if model is None:
        return
    add(
        "explanations:ndcg",
        line_plot_panel(
            "Attribution drift: nDCG vs the reference's ranking",
            [metric("AttributionNdcg", "nDCG of the SHAP ranking")],
            description=f"the day's sample ranked by mean |SHAP| against the reference's; alert below "
            f"{model.thresholds.ndcg_min}",
        ),
    )
    shown = model.columns[:TOP_OUTLIER_COLUMNS]
    more = (
        f"; the first {len(shown)} of the model's {len(model.columns)} columns"
        if len(model.columns) > len(shown)
        else ""
    )
    add(
        "explanations:share",
        line_plot_panel(
            "Attribution share per column",
            [metric("FeatureAttribution", c, {"column": c, "sample": "day", "kind": "share"}) for c in shown],
            description=f"each column's share of the day's mean |SHAP|{more}",
        ),
    )
