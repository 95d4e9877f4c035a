"""The UI's Fairness and Outliers panels: built from the config, kept by compaction, served by the real UI."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from evmon.config.model import EvmonConfig
from evmon.config.sections import Estimation
from evmon.evidently.dashboard import build_dashboard
from evmon.processes import free_port, stop, wait_ready
from evmon.run.day import run_day
from evmon.services.ui import start_ui
from evmon.snapshot.flatten import flatten, short_type
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.compaction import compact_project
from evmon.storage.dashboards import write_project_dashboard
from evmon.storage.files import FilesWorkspace
from tests.explain.synthetic import saved, tree_model
from tests.outliers.synthetic import FIRST_DAY, frame, write_project
from tests.outliers.test_ui import series

DAYS = [FIRST_DAY, FIRST_DAY + timedelta(days=1)]
FAIRNESS = {"sensitive": ["channel", "tier"], "reference_group": {"channel": "web"}}
BIAS_TYPES = {"FairnessValue", "OutRangeValueCount", "OutListValueCount", "MultivariateOutlierCount"}
EXPLAIN_TYPES = {"AttributionNdcg", "FeatureAttribution"}
MODEL_COLUMNS = ["income", "age", "balance", "tier"]


def synth(tmp_path: Path, **extra: Any) -> EvmonConfig:
    rng = np.random.default_rng(25)
    days = {DAYS[0]: frame(rng, 800, DAYS[0]), DAYS[1]: frame(rng, 800, DAYS[1], 0.1)}
    reference = frame(rng, 2_000)
    tmp_path.mkdir(parents=True, exist_ok=True)
    saved(tmp_path, tree_model(reference))
    model = {"path": "model.joblib", "columns": MODEL_COLUMNS, "sample_rows": 200}
    return write_project(tmp_path, reference, days, fairness=FAIRNESS, model=model, **extra)


def panels_of(config: EvmonConfig) -> dict[str, list[tuple[str, str, dict[str, str], list[str]]]]:
    """tab title -> (panel title, metric, labels, tags) of its panels."""
    model = build_dashboard(config.projects[0])
    by_id = {p.id: p for p in model.panels}
    return {
        tab.title: [
            (by_id[pid].title, short_type(v.metric), v.metric_labels, v.tags)
            for pid in tab.panels
            for v in by_id[pid].values
        ]
        for tab in model.tabs
    }


def test_the_panels_follow_the_config(tmp_path: Path) -> None:
    tabs = panels_of(synth(tmp_path))
    assert list(tabs) == ["Data", "Model quality", "Fairness", "Outliers", "Explanations"]
    assert tabs["Fairness"] == [
        (f"{title} by {column}{suffix}", "FairnessValue", {"column": column, "measure": measure}, tags)
        for column in ("channel", "tier")
        for title, measure, tags, suffix in (
            ("Disparate impact", "demographic_parity_ratio", ["daily"], ""),
            ("Equalized odds difference", "equalized_odds_difference", ["daily", "labelled"], " (labelled days)"),
        )
    ]
    share = {"value_type": "share"}
    assert tabs["Outliers"] == [
        ("Multivariate outlier share", "MultivariateOutlierCount", share, ["daily"]),
        *[
            ("Outlier share per column", metric, {"column": column, **share}, ["daily"])
            for metric, column in [("OutRangeValueCount", c) for c in ("income", "age", "balance")]
            + [("OutListValueCount", c) for c in ("channel", "tier")]
        ],
    ]
    assert tabs["Explanations"] == [
        ("Attribution drift: nDCG vs the reference's ranking", "AttributionNdcg", {}, ["daily"]),
        *[
            (
                "Attribution share per column",
                "FeatureAttribution",
                {"column": c, "sample": "day", "kind": "share"},
                ["daily"],
            )
            for c in MODEL_COLUMNS
        ],
    ]
    # the configured columns, in their order; no forest, no forest panel
    few = panels_of(synth(tmp_path, outliers={"columns": ["tier", "income"], "isolation_forest": {"enabled": False}}))
    assert [(m, labels["column"]) for _, m, labels, _ in few["Outliers"]] == [
        ("OutListValueCount", "tier"),
        ("OutRangeValueCount", "income"),
    ]
    plain = write_project(tmp_path / "plain", frame(np.random.default_rng(1), 50), {}, outliers=False)
    assert list(panels_of(plain)) == ["Data", "Model quality"]


def test_compacted_days_keep_the_panels_values_and_the_ui_serves_them(tmp_path: Path) -> None:
    config = synth(tmp_path)
    project = config.projects[0]
    root = config.resolve(config.workspace)
    ws = FilesWorkspace(root)
    pid = project_id("synth")
    for day in DAYS:
        assert run_day(config, project, day, workspace=ws, today=DAYS[1] + timedelta(days=1)).outcome == "ok"
    write_project_dashboard(ws, project)
    full = {day: flatten(ws.read_snapshot(pid, daily_snapshot_id("synth", day))) for day in DAYS}

    result = compact_project(config, project, ws, today=DAYS[1] + timedelta(days=30))
    assert result.compacted == 2, result.line()
    for day in DAYS:
        small = flatten(ws.read_snapshot(pid, daily_snapshot_id("synth", day)))
        kept = [r for r in full[day] if r.metric_type in BIAS_TYPES | EXPLAIN_TYPES]
        assert {r.metric_type for r in kept} == BIAS_TYPES | EXPLAIN_TYPES
        assert [r for r in small if r.metric_type in BIAS_TYPES | EXPLAIN_TYPES] == kept

    dashboard = json.loads(ws.dashboard_path(pid).read_bytes())
    wanted = {
        panel["title"]: panel["values"]
        for panel in dashboard["panels"]
        if panel["title"]
        in (
            "Disparate impact by channel",
            "Outlier share per column",
            "Multivariate outlier share",
            "Attribution drift: nDCG vs the reference's ranking",
            "Attribution share per column",
        )
    }
    filters = [value for values in wanted.values() for value in values]
    port = free_port()
    process = start_ui(root, port=port, log_path=tmp_path / "ui.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + "/api/projects", process, timeout=180)
        served = series(base, pid, filters)
    finally:
        stop(process)

    def stored(day: Any, metric: str, labels: dict[str, str]) -> float:
        (value,) = [
            r.value
            for r in full[day]
            if r.metric_type == short_type(metric) and labels.items() <= {**r.params, "column": r.column}.items()
        ]
        return value

    assert len(filters) == 1 + 5 + 1 + 1 + len(MODEL_COLUMNS)
    for index, f in enumerate(filters):
        assert served[index] == {day: stored(day, f["metric"], f["metric_labels"]) for day in DAYS}, f


def test_a_regressor_shows_its_gaps(tmp_path: Path) -> None:
    project = synth(tmp_path).projects[0]
    columns = project.columns
    assert columns.prediction is not None
    regressor = project.model_copy(
        update={
            "columns": columns.model_copy(
                update={"prediction": columns.prediction.model_copy(update={"kind": "regression"})}
            )
        }
    )
    model = build_dashboard(regressor)
    by_id = {p.id: p for p in model.panels}
    (tab,) = [t for t in model.tabs if t.title == "Fairness"]
    shown = [(by_id[pid].title, v.metric_labels["measure"], v.tags) for pid in tab.panels for v in by_id[pid].values]
    assert shown[:2] == [
        ("Mean prediction gap by channel", "mean_prediction_gap", ["daily"]),
        ("Quality gap by channel (labelled days)", "quality_gap", ["daily", "labelled"]),
    ]


def test_with_estimation_each_sensitive_column_shows_its_estimated_quality_gap(tmp_path: Path) -> None:
    project = synth(tmp_path).projects[0]
    estimating = project.model_copy(update={"presets": project.presets.model_copy(update={"estimation": Estimation()})})
    model = build_dashboard(estimating)
    by_id = {p.id: p for p in model.panels}
    (tab,) = [t for t in model.tabs if t.title == "Fairness"]
    shown = [(by_id[pid].title, v.metric_labels, v.tags) for pid in tab.panels for v in by_id[pid].values]
    for column in ("channel", "tier"):
        estimated = ("Estimated quality gap by " + column, {"column": column, "measure": "estimated_quality_gap"})
        assert (*estimated, ["daily"]) in shown  # every day: not only the labelled ones
    assert len(shown) == 3 * 2
