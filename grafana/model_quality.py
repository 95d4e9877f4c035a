"""The "evmon / Model quality" dashboard, grafana/dashboards/model_quality.json: classification and regression
quality over time, model-wide and per segment, for the days whose labels have arrived, then the quality estimated
for the days without."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from evmon.grafana.frame import QueryVariable, board, project_variable
from evmon.grafana.panels import Column, columns, state_timeline, table_panel, thresholds, time_series
from evmon.grafana.ranges import Daily

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
NEWEST_LABELLED_DAY_COLUMNS = [
    *columns(project="Project", segment="Segment", task="Task"),
    Column("day", "Labelled day", "time:YYYY-MM-DD"),
    *columns("none", 3, accuracy="Accuracy", precision="Precision", recall="Recall", f1="F1"),
    *columns("none", 3, roc_auc="ROC AUC", mae="MAE", rmse="RMSE", r2="R²"),
]

_QUALITY_NAME = """CASE v.metric_type WHEN 'Accuracy' THEN 'accuracy' WHEN 'Precision' THEN 'precision'
       WHEN 'Recall' THEN 'recall' WHEN 'F1Score' THEN 'F1' WHEN 'RocAuc' THEN 'ROC AUC'
       WHEN 'MAE' THEN 'MAE' WHEN 'RMSE' THEN 'RMSE' WHEN 'R2Score' THEN 'R²' WHEN 'MAPE' THEN 'MAPE'
       WHEN 'MeanError' THEN 'mean error' ELSE v.metric_type END"""
LABELLED_ONLY = (
    " Only days whose labels have arrived have quality values (a day is re-run with its labels label_lag_days"
    " later), so the newest days have no points yet."
)


def _model_wide(metric_types: str, value_kinds: str = "") -> Daily:
    """Quality metrics of the whole model, a series per project and metric (types and kinds: SQL lists)."""
    kinds = (f"v.value_kind IN ({value_kinds})",) if value_kinds else ()
    where = ("v.segment = 'default'", f"v.metric_type IN ({metric_types})", *kinds)
    return Daily(f"v.project || ' · ' || {_QUALITY_NAME}", where)


def _per_segment(metric_type: str, value_kind: str = "value") -> Daily:
    """One quality metric per selected segment (not the whole model)."""
    segments = "v.segment = ANY(ARRAY[$segment]::text[]) AND v.segment <> 'default'"
    where = (segments, f"v.metric_type = '{metric_type}' AND v.value_kind = '{value_kind}'")
    return Daily("v.project || ' · ' || v.segment", where)


# The estimated quality, on days without labels too: evmon estimates a model's quality (CBPE for classifiers,
# DLE for regressors, evmon/estimated.py) and stores each value as an EstimatedQuality metric: its `label` is the
# metric (roc_auc, mae, ...), its value kind estimate, lower, upper (NannyML's band), empirical_lower,
# empirical_upper (the empirical band, evmon/estimation/conformal.py: the one shown), realized, gap (estimate -
# realized), inside_band or inside_empirical, its segment "default" for the whole model. The bridge's views
# evmon.estimated_quality and evmon.estimation_record read them; the panels show the headline metric (ROC AUC, or
# MAE for a regressor).
_METRIC = "CASE v.label WHEN 'roc_auc' THEN 'ROC AUC' WHEN 'mae' THEN 'MAE' ELSE v.label END"
_HEADLINE = "v.metric_type = 'EstimatedQuality' AND v.segment = 'default' AND v.label IN ('roc_auc', 'mae')"
ESTIMATED_VS_REALIZED = Daily(
    f"v.project || ' · ' || {_METRIC} || ' · ' || v.value_kind",
    (f"{_HEADLINE} AND v.value_kind IN ('estimate', 'empirical_lower', 'empirical_upper', 'realized')",),
)
ESTIMATE_GAP = Daily(f"v.project || ' · ' || {_METRIC}", (f"{_HEADLINE} AND v.value_kind = 'gap'",), name="gap")

ESTIMATION_RECORD_SQL = """SELECT r.project, r.segment,
       CASE r.metric WHEN 'roc_auc' THEN 'ROC AUC' WHEN 'mae' THEN 'MAE' ELSE r.metric END AS metric,
       r.method, r.labelled_days, r.median_abs_difference, r.inside_empirical_share, r.median_empirical_width,
       r.inside_band_share, r.median_band_width, r.recent_empirical_share,
       CASE WHEN r.trusted THEN 'trusted' ELSE 'untrusted' END AS band_trust, r.last_day
FROM evmon.estimation_record r
WHERE r.project = ANY(ARRAY[$project]::text[]) AND r.metric IN ('roc_auc', 'mae')
ORDER BY 1, 2
"""
ESTIMATION_RECORD_COLUMNS = [
    *columns(project="Project", segment="Segment", metric="Metric", method="Method"),
    Column("labelled_days", "Labelled days", decimals=0),
    Column("median_abs_difference", "Median |estimate - realized|", decimals=3, steps=((0.05, "red"),)),
    Column("inside_empirical_share", "Inside the band", "percentunit", steps=((0.9, "green"),), base="red"),
    Column("median_empirical_width", "Band's median width", decimals=3),
    Column("inside_band_share", "Inside NannyML's band", "percentunit", steps=((0.9, "green"),), base="red"),
    Column("median_band_width", "NannyML's median width", decimals=3),
    Column("recent_empirical_share", "Inside the band, last 30", "percentunit", steps=((0.95, "green"),), base="red"),
    Column("band_trust", "Band (alert)"),
    Column("last_day", "Last labelled day"),
]

_BAND = [
    model.DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]}),
    model.DynamicConfigValue(id_val="custom.lineWidth", value=1),
]


def build() -> model.Dashboard:
    """The "evmon / Model quality" dashboard."""
    return board(
        "evmon-model-quality",
        "evmon / Model quality",
        "Classification and regression quality over time, model-wide and per segment, for the days whose labels "
        "have arrived.",
        [
            project_variable(),
            QueryVariable(
                "segment",
                "Segment",
                SEGMENT_VARIABLE_SQL,
                "Segments with quality values: 'default' is the whole model, '<column>=<value>' one segment "
                "(projects.yaml segments).",
            ),
        ],
        [(6, 24), (9, 24), (9, 24), (8, 8, 8, 8), (8, 12, 12), (8, 8, 8, 8), (9, 12, 12), (6, 24)],
        [
            state_timeline(
                "Label arrival", LABEL_ARRIVAL_SQL, ("waiting for labels", "text"), ("labels arrived", "green")
            ).description(
                "For each day's snapshot: were its labels in when it was computed? Quality panels show only the green "
                "days."
            ),
            table_panel(
                "Newest labelled day per project and segment", NEWEST_LABELLED_DAY_SQL, NEWEST_LABELLED_DAY_COLUMNS
            ).description(
                "The newest day in the time range whose labels had arrived (per project), with its classification or "
                "regression metrics per segment."
            ),
            time_series(
                "Classification: model-wide metrics",
                _model_wide("'Accuracy', 'Precision', 'Recall', 'F1Score', 'RocAuc'"),
                limits=(0, 1),
            ).description(
                "Accuracy, precision, recall, F1 and ROC AUC of each classifier on all of the day's rows (segment"
                " 'default')." + LABELLED_ONLY
            ),
            time_series("ROC AUC per segment", _per_segment("RocAuc"), limits=(0, 1)).description(
                "ROC AUC of each classifier within each segment (segments in projects.yaml)." + LABELLED_ONLY
            ),
            time_series("F1 per segment", _per_segment("F1Score"), limits=(0, 1)).description(
                "F1 score of each classifier within each segment." + LABELLED_ONLY
            ),
            time_series("Accuracy per segment", _per_segment("Accuracy"), limits=(0, 1)).description(
                "Accuracy of each classifier within each segment." + LABELLED_ONLY
            ),
            time_series(
                "Regression: MAE and RMSE", _model_wide("'MAE', 'RMSE'", "'mean', 'value'"), limits=(0, None)
            ).description(
                "Mean absolute error and root mean squared error of each regressor, in the target's unit."
                + LABELLED_ONLY
            ),
            time_series("Regression: R²", _model_wide("'R2Score'"), limits=(None, 1)).description(
                "Coefficient of determination of each regressor (1 is perfect)." + LABELLED_ONLY
            ),
            time_series("Regression: MAPE", _model_wide("'MAPE'", "'mean'"), "percent", limits=(0, None)).description(
                "Mean absolute percentage error of each regressor (in percent)." + LABELLED_ONLY
            ),
            time_series("Regression: mean error (bias)", _model_wide("'MeanError'", "'mean'")).description(
                "Mean of prediction errors of each regressor: far from 0 means a systematic bias." + LABELLED_ONLY
            ),
            time_series("Regression: MAE per segment", _per_segment("MAE", "mean"), limits=(0, None)).description(
                "Mean absolute error of each regressor within each segment (regression projects with segments)."
                + LABELLED_ONLY
            ),
            time_series("Estimated vs realized (ROC AUC, MAE)", ESTIMATED_VS_REALIZED)
            .description(
                "Model quality estimated without labels (CBPE for classifiers, ROC AUC; DLE for regressors, MAE), with "
                "its empirical 95% band (empirical_lower, empirical_upper, dashed: learned from the estimator's own "
                "error on held-out calibration days and on the last 30 labelled days, so it covers more than the "
                "day's sampling error), and the realized value once the day's labels have arrived. The newest days "
                "have an estimate only. NannyML's band (3 sampling errors) is in the record beside it."
            )
            .override_by_regexp(".* · (empirical_lower|empirical_upper)$", _BAND),
            time_series("Estimate minus realized", ESTIMATE_GAP, marks=thresholds("green", (0.05, "red"))).description(
                "How far each labelled day's estimate was from the realized value (estimate - realized). Near 0: the "
                "estimate can be trusted for this model. A gap that opens while the data does not drift is concept "
                "drift: the inputs look the same but their relation to the label changed, which neither the drift "
                "tests nor the estimate can see."
            ),
            table_panel("The estimate's record", ESTIMATION_RECORD_SQL, ESTIMATION_RECORD_COLUMNS).description(
                "Per project and segment, over every labelled day since estimation began: the median |estimate - "
                "realized|, and for both bands (evmon's empirical 95% band, NannyML's +-3 sampling errors) the share "
                "of days whose realized value fell inside and the median width: how far to trust the estimate for "
                "this model. 'Band (alert)': trusted when the empirical band held the realized value on at least 95% "
                "of the last 30 labelled days; the alert on the estimate then compares the band's lower bound. "
                "Calibrated on the model's own training data, CBPE overestimated ROC AUC by a median 0.20 on a real "
                "data set; calibrate on data the model has not seen."
            ),
        ],
    )
