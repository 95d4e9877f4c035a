"""The Model quality dashboard's estimated-quality row: estimate and band beside the realized value, gap, record.

evmon estimates a model's quality on days without labels (CBPE for classifiers, DLE for regressors,
evmon/estimated.py) and stores each value as an EstimatedQuality metric: its `label` is the metric
(roc_auc, mae, ...), its value kind estimate, lower, upper (the band), realized, gap (estimate -
realized) or inside_band, its segment "default" for the whole model. The bridge's views
evmon.estimated_quality and evmon.estimation_record read them; the panels here show the headline
metric (ROC AUC, or MAE for a regressor), model-wide.
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import table, timeseries
from grafana_foundation_sdk.models import dashboard as model

from evmon.grafana.panels import Column, columns, table_panel, thresholds, time_series
from evmon.grafana.ranges import Daily

_METRIC = "CASE v.label WHEN 'roc_auc' THEN 'ROC AUC' WHEN 'mae' THEN 'MAE' ELSE v.label END"
_HEADLINE = "v.metric_type = 'EstimatedQuality' AND v.segment = 'default' AND v.label IN ('roc_auc', 'mae')"
ESTIMATED_VS_REALIZED = Daily(
    f"v.project || ' · ' || {_METRIC} || ' · ' || v.value_kind",
    (f"{_HEADLINE} AND v.value_kind IN ('estimate', 'lower', 'upper', 'realized')",),
)
ESTIMATE_GAP = Daily(f"v.project || ' · ' || {_METRIC}", (f"{_HEADLINE} AND v.value_kind = 'gap'",), name="gap")

ESTIMATION_RECORD_SQL = """SELECT r.project, r.segment,
       CASE r.metric WHEN 'roc_auc' THEN 'ROC AUC' WHEN 'mae' THEN 'MAE' ELSE r.metric END AS metric,
       r.method, r.labelled_days, r.median_abs_difference, r.inside_band_share, r.last_day
FROM evmon.estimation_record r
WHERE r.project = ANY(ARRAY[$project]::text[]) AND r.metric IN ('roc_auc', 'mae')
ORDER BY 1, 2
"""
ESTIMATION_RECORD_COLUMNS = [
    *columns(project="Project", segment="Segment", metric="Metric", method="Method"),
    Column("labelled_days", "Labelled days", decimals=0),
    Column("median_abs_difference", "Median |estimate - realized|", decimals=3, steps=((0.05, "red"),)),
    Column("inside_band_share", "Realized inside the band", "percentunit", steps=((0.8, "green"),), base="red"),
    Column("last_day", "Last labelled day"),
]

_BAND = [
    model.DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]}),
    model.DynamicConfigValue(id_val="custom.lineWidth", value=1),
]


def panels() -> Sequence[timeseries.Panel | table.Panel]:
    """Estimated vs realized, the estimate minus the realized value, and the estimate's record."""
    return [
        time_series("Estimated vs realized (ROC AUC, MAE)", ESTIMATED_VS_REALIZED, "none")
        .description(
            "Model quality estimated without labels (CBPE for classifiers, ROC AUC; DLE for regressors, MAE), with its "
            "band (lower, upper: 3 sampling errors for the day's rows, dashed), and the realized value once the day's "
            "labels have arrived. The newest days have an estimate only. The band covers sampling error, not the "
            "estimator's own error: see the estimate's record beside it."
        )
        .override_by_regexp(".* · (lower|upper)$", _BAND),
        time_series(
            "Estimate minus realized", ESTIMATE_GAP, "none", marks=thresholds("green", (0.05, "red"))
        ).description(
            "How far each labelled day's estimate was from the realized value (estimate - realized). Near 0: the "
            "estimate can be trusted for this model. A gap that opens while the data does not drift is concept drift: "
            "the inputs look the same but their relation to the label changed, which neither the drift tests nor the "
            "estimate can see."
        ),
        table_panel("The estimate's record", ESTIMATION_RECORD_SQL, ESTIMATION_RECORD_COLUMNS).description(
            "Per project and segment, over every labelled day since estimation began: the median |estimate - realized| "
            "and the share of days whose realized value fell inside the estimate's band: how far to trust the estimate "
            "for this model. Calibrated on the model's own training data, CBPE overestimated ROC AUC by a median 0.20 "
            "on a real data set; calibrate on data the model has not seen."
        ),
    ]
