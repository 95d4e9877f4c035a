"""The Model quality dashboard's estimated-quality row: estimate and band beside the realized value, gap, record.

evmon estimates a model's quality on days without labels (CBPE for classifiers, DLE for regressors,
evmon/estimation/daily.py) and stores each value as an EstimatedQuality metric: its `label` is the metric
(roc_auc, mae, ...), its value kind estimate, lower, upper (the band), realized, gap (estimate -
realized) or inside_band, its segment "default" for the whole model. The bridge's views
evmon.estimated_quality and evmon.estimation_record read them; the panels here show the headline
metric (ROC AUC, or MAE for a regressor), model-wide.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import table, timeseries
from grafana_foundation_sdk.models import dashboard as model

from evmon.grafana.panels import Column, at, sql, table_panel, threshold_lines, thresholds, time_series
from evmon.grafana.ranges import ROLLUP_WHERE, by_range

_METRIC = "CASE v.label WHEN 'roc_auc' THEN 'ROC AUC' WHEN 'mae' THEN 'MAE' ELSE v.label END"
_HEADLINE = "v.metric_type = 'EstimatedQuality' AND v.segment = 'default' AND v.label IN ('roc_auc', 'mae')"

ESTIMATED_VS_REALIZED_DAILY_SQL = f"""SELECT $__time(v."timestamp"), v.project || ' · ' || {_METRIC} || ' · ' || v.value_kind AS metric,
       NULLIF(v.value, 'NaN') AS value
FROM evmon.metric_values v
WHERE v.project = ANY(ARRAY[$project]::text[]) AND v.kind = 'daily' AND $__timeFilter(v."timestamp")
  AND {_HEADLINE} AND v.value_kind IN ('estimate', 'lower', 'upper', 'realized')
ORDER BY 1, 2
"""  # noqa: E501
ESTIMATED_VS_REALIZED_ROLLUP_SQL = f"""SELECT $__time(v.period_start), v.project || ' · ' || {_METRIC} || ' · ' || v.value_kind AS metric,
       v.sum / nullif(v.n, 0) AS value
FROM evmon.metric_rollups v
WHERE v.project = ANY(ARRAY[$project]::text[]) AND v.kind = 'daily' AND {ROLLUP_WHERE}
  AND {_HEADLINE} AND v.value_kind IN ('estimate', 'lower', 'upper', 'realized')
"""  # noqa: E501
ESTIMATED_VS_REALIZED_SQL = by_range(ESTIMATED_VS_REALIZED_DAILY_SQL, ESTIMATED_VS_REALIZED_ROLLUP_SQL)

ESTIMATE_GAP_DAILY_SQL = f"""SELECT $__time(v."timestamp"), v.project || ' · ' || {_METRIC} AS metric,
       NULLIF(v.value, 'NaN') AS gap
FROM evmon.metric_values v
WHERE v.project = ANY(ARRAY[$project]::text[]) AND v.kind = 'daily' AND $__timeFilter(v."timestamp")
  AND {_HEADLINE} AND v.value_kind = 'gap'
ORDER BY 1, 2
"""
ESTIMATE_GAP_ROLLUP_SQL = f"""SELECT $__time(v.period_start), v.project || ' · ' || {_METRIC} AS metric,
       v.sum / nullif(v.n, 0) AS gap
FROM evmon.metric_rollups v
WHERE v.project = ANY(ARRAY[$project]::text[]) AND v.kind = 'daily' AND {ROLLUP_WHERE}
  AND {_HEADLINE} AND v.value_kind = 'gap'
"""
ESTIMATE_GAP_SQL = by_range(ESTIMATE_GAP_DAILY_SQL, ESTIMATE_GAP_ROLLUP_SQL)

ESTIMATION_RECORD_SQL = """SELECT r.project, r.segment,
       CASE r.metric WHEN 'roc_auc' THEN 'ROC AUC' WHEN 'mae' THEN 'MAE' ELSE r.metric END AS metric,
       r.method, r.labelled_days, r.median_abs_difference, r.inside_band_share, r.last_day
FROM evmon.estimation_record r
WHERE r.project = ANY(ARRAY[$project]::text[]) AND r.metric IN ('roc_auc', 'mae')
ORDER BY 1, 2
"""

_BAND = [
    model.DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]}),
    model.DynamicConfigValue(id_val="custom.lineWidth", value=1),
]


def estimated_vs_realized(panel_id: int, y: int) -> timeseries.Panel:
    return time_series(
        panel_id,
        "Estimated vs realized (ROC AUC, MAE)",
        at(0, y, 12, 9),
        sql(ESTIMATED_VS_REALIZED_SQL),
        description=(
            "Model quality estimated without labels (CBPE for classifiers, ROC AUC; DLE for regressors, MAE), with"
            " its band (lower, upper: 3 sampling errors for the day's rows, dashed), and the realized value once the"
            " day's labels have arrived. The newest days have an estimate only. The band covers sampling error,"
            " not the estimator's own error: see the estimate's record beside it."
        ),
        unit="none",
    ).override_by_regexp(".* · (lower|upper)$", _BAND)


def estimate_gap(panel_id: int, y: int) -> timeseries.Panel:
    return (
        time_series(
            panel_id,
            "Estimate minus realized",
            at(12, y, 12, 9),
            sql(ESTIMATE_GAP_SQL),
            description=(
                "How far each labelled day's estimate was from the realized value (estimate - realized). Near 0:"
                " the estimate can be trusted for this model. A gap that opens while the data does not drift is"
                " concept drift: the inputs look the same but their relation to the label changed, which neither the"
                " drift tests nor the estimate can see."
            ),
            unit="none",
        )
        .thresholds(thresholds("green", (0.05, "red")))
        .thresholds_style(threshold_lines(True))
    )


def estimation_record(panel_id: int, y: int) -> table.Panel:
    return table_panel(
        panel_id,
        "The estimate's record",
        at(0, y + 9, 24, 6),
        sql(ESTIMATION_RECORD_SQL, "table"),
        description=(
            "Per project and segment, over every labelled day since estimation began: the median |estimate -"
            " realized| and the share of days whose realized value fell inside the estimate's band: how far to"
            " trust the estimate for this model. Calibrated on the model's own training data, CBPE overestimated"
            " ROC AUC by a median 0.20 on a real data set; calibrate on data the model has not seen."
        ),
        columns=[
            Column("project", "Project"),
            Column("segment", "Segment"),
            Column("metric", "Metric"),
            Column("method", "Method"),
            Column("labelled_days", "Labelled days", decimals=0),
            Column("median_abs_difference", "Median |estimate - realized|", decimals=3, steps=((0.05, "red"),)),
            Column(
                "inside_band_share",
                "Realized inside the band",
                unit="percentunit",
                steps=((0.8, "green"),),
                base="red",
            ),
            Column("last_day", "Last labelled day"),
        ],
    )
