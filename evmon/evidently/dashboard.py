"""The UI dashboard of a project as Evidently's DashboardModel: a pure function of its config.

A "Data" tab (drift share over time, drift score per column, rows, missing share), a "Model
quality" tab where labels exist (snapshots tagged 'labelled') or quality is estimated (evmon's
EstimatedQuality: the estimate and its band every day, realized beside it once the labels are
there, and the estimate's record: its gap and whether the band held), "Fairness", "Outliers" and "Explanations"
tabs where those sections are configured (evmon.evidently.dashboard_bias) and a "Segments" tab
where segments are configured (segment metrics carry ``classification_name``/``regression_name`` =
``"<column>=<value>"``; the model-wide one is ``"default"``). Every panel filters on the
'daily' tag, so snapshots of other kinds (e.g. 'whatif') stay out of the daily series.

The model is built directly as ``DashboardModel(tabs=[...], panels=[...])``: Evidently's
``add_panel`` writes a panel id into a tab twice. Ids are derived from the project and the
panel's role, so the same config gives the same bytes and an unchanged dashboard is never
rewritten (evmon.storage.dashboards writes it).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence

from evidently.legacy.utils import NumpyEncoder
from evidently.sdk.models import DashboardModel, DashboardPanelPlot, DashboardTabModel, PanelMetric
from evidently.sdk.panels import bar_plot_panel, counter_panel, line_plot_panel, text_panel

from evmon.config.model import Project
from evmon.evidently.dashboard_bias import explanation_panels, fairness_panels, outlier_panels
from evmon.snapshot.contract import DAILY_TAG, LABELLED_TAG
from evmon.snapshot.ids import project_id

SegmentValues = Mapping[str, Sequence[str]]


class _Builder:
    """Collects the panels of one project's dashboard, with stable ids."""

    def __init__(self, project: Project) -> None:
        self.base = project_id(project.name)
        self.panels: list[DashboardPanelPlot] = []
        self.tabs: list[tuple[str, list[uuid.UUID]]] = []

    def tab(self, title: str) -> None:
        self.tabs.append((title, []))

    def add(self, key: str, panel: DashboardPanelPlot) -> None:
        pid = uuid.uuid5(self.base, f"panel:{key}")
        self.panels.append(panel.copy(update={"id": pid}))
        self.tabs[-1][1].append(pid)

    def model(self) -> DashboardModel:
        tabs = [
            DashboardTabModel(id=uuid.uuid5(self.base, f"tab:{title}"), title=title, panels=panels)
            for title, panels in self.tabs
            if panels
        ]
        return DashboardModel(tabs=tabs, panels=self.panels)


def _metric(metric: str, legend: str, labels: dict[str, str] | None = None, quality: bool = False) -> PanelMetric:
    tags = [DAILY_TAG, LABELLED_TAG] if quality else [DAILY_TAG]
    return PanelMetric(legend=legend, tags=tags, metric=metric, metric_labels=labels or {})


def _quality_metrics(project: Project, task: str) -> list[tuple[str, str, dict[str, str]]]:
    """(metric, legend, labels) of the headline quality metrics of one task ('default' or a segment)."""
    if project.presets.classification is not None:
        named = {"classification_name": task}
        metrics = [(m, m, dict(named)) for m in ("Accuracy", "Precision", "Recall", "F1Score")]
        prediction = project.columns.prediction
        if prediction is not None and prediction.kind == "probability":
            metrics.append(("RocAuc", "ROC AUC", dict(named)))
        return metrics
    named = {"regression_name": task}
    return [
        ("MAE", "MAE", {**named, "value_type": "mean"}),
        ("RMSE", "RMSE", dict(named)),
        ("MeanError", "mean error", {**named, "value_type": "mean"}),
    ]


def _segment_metrics(project: Project) -> list[tuple[str, str, dict[str, str]]]:
    """(metric, title, extra labels) shown per segment value."""
    if project.presets.classification is not None:
        return [("F1Score", "F1 score", {}), ("Accuracy", "Accuracy", {})]
    return [("MAE", "MAE", {"value_type": "mean"}), ("RMSE", "RMSE", {})]


def task_key(project: Project) -> str:
    """The param naming a quality metric's task: classification_name or regression_name."""
    return "classification_name" if project.presets.classification is not None else "regression_name"


def build_dashboard(project: Project, segment_values: SegmentValues | None = None) -> DashboardModel:
    """The project's dashboard; `segment_values` lists each segment column's values seen so far."""
    b = _Builder(project)
    presets = project.presets
    b.tab("Data")
    if presets.data_summary is not None:
        b.add("rows-last", counter_panel("Rows, last day", [_metric("RowCount", "rows")], size="half"))
    if presets.data_drift is not None:
        share = _metric("DriftedColumnsCount", "drifted share", {"value_type": "share"})
        b.add("drift-last", counter_panel("Share of drifted columns, last day", [share], size="half"))
        b.add(
            "drift-share",
            line_plot_panel(
                "Share of drifted columns",
                [share],
                description=f"dataset drift when above {presets.data_drift.drift_share}",
            ),
        )
        columns = [_metric("ValueDrift", column, {"column": column}) for column in project.drift_columns()]
        b.add("drift-columns", line_plot_panel("Drift score per column", columns, description="ValueDrift"))
    if presets.data_summary is not None:
        b.add("rows", bar_plot_panel("Rows per day", [_metric("RowCount", "rows")]))
        missing = _metric("MissingCellsShare", "missing share")
        b.add(
            "missing",
            line_plot_panel(
                "Missing values share", [missing], description="missing cells / all cells (features and prediction)"
            ),
        )
    lag = project.label_lag_days
    note = f"labels arrive {lag} days late" if lag else "labels come with the data"
    if project.has_quality or project.presets.estimation is not None:
        b.tab("Model quality")
    if project.has_quality:
        values = [_metric(m, name, labels, quality=True) for m, name, labels in _quality_metrics(project, "default")]
        b.add("quality", line_plot_panel("Model quality (labelled days)", values, description=note))
    if project.presets.estimation is not None:
        _estimation_panels(b, project, note)
    if project.presets.regression is not None:
        r2 = _metric("R2Score", "R²", {"regression_name": "default"}, quality=True)
        b.add("quality-r2", line_plot_panel("R² (labelled days)", [r2]))
    if project.fairness is not None:
        b.tab("Fairness")
        fairness_panels(b.add, _metric, project)
    if project.outliers is not None:
        b.tab("Outliers")
        outlier_panels(b.add, _metric, project)
    if project.model is not None:
        b.tab("Explanations")
        explanation_panels(b.add, _metric, project)
    if project.has_quality and project.segments:
        b.tab("Segments")
        _segment_panels(b, project, segment_values or {})
    return b.model()


def _estimation_panels(b: _Builder, project: Project, note: str) -> None:
    """The headline metric estimated (CBPE: ROC AUC, DLE: MAE) with its band and the realized value, and its record."""
    regression = project.columns.prediction is not None and project.columns.prediction.kind == "regression"
    method, metric, name = ("DLE", "mae", "MAE") if regression else ("CBPE", "roc_auc", "ROC AUC")
    segment = {"regression_name" if regression else "classification_name": "default"}

    def value(kind: str, legend: str, labelled: bool = False) -> PanelMetric:
        labels = {"metric": metric, "value_kind": kind, **segment}
        return _metric("EstimatedQuality", legend, labels, quality=labelled)  # evmon/evidently/metrics.py

    # the empirical band (evmon.estimation.conformal), the default shown; NannyML's (lower, upper) stays in the snapshot
    band = [
        value("estimate", "estimated"),
        value("empirical_lower", "band, lower"),
        value("empirical_upper", "band, upper"),
    ]
    b.add(
        "estimated",
        line_plot_panel(
            f"Estimated {name} (band) vs realized",
            [*band, value("realized", "realized")],
            description=f"{method}, without labels: every day; realized once the labels are there ({note})",
        ),
    )
    # the record exists on labelled days only: the tag keeps the other days off its x axis (in the UI on
    # Postgres too, whose series list every snapshot a filter's tags match); realized, beside the estimate
    # of every day, needs none
    record = [
        value("gap", "estimated - realized", labelled=True),
        value("inside_empirical", "realized inside the band (1 = yes)", labelled=True),
        value("inside_band", "realized inside NannyML's band (1 = yes)", labelled=True),
    ]
    b.add(
        "estimated-record",
        line_plot_panel(
            f"Estimated {name}: its record on labelled days",
            record,
            description="how far the estimate was from the realized value, and whether each band held it",
        ),
    )


def _segment_panels(b: _Builder, project: Project, segment_values: SegmentValues) -> None:
    key = task_key(project)
    for column in project.segments:
        values = sorted({str(v) for v in segment_values.get(column, [])})
        if not values:
            b.add(
                f"segment:{column}:pending",
                text_panel(f"By {column}", f"the values of {column} appear here after the first labelled day"),
            )
            continue
        for metric, title, extra in _segment_metrics(project):
            lines = [_metric(metric, "all", {key: "default", **extra}, quality=True)]
            lines += [_metric(metric, value, {key: f"{column}={value}", **extra}, quality=True) for value in values]
            b.add(f"segment:{column}:{metric}", line_plot_panel(f"{title} by {column}", lines))


def dashboard_bytes(model: DashboardModel) -> bytes:
    """dashboard.json's content, as Evidently's own workspace writes it."""
    return json.dumps(model.dict(), cls=NumpyEncoder, indent=1).encode()
