"""UI dashboards from projects.yaml: their shape, and the real `evidently ui` serving them."""

from __future__ import annotations

import json
import shutil
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from evidently._pydantic_compat import parse_obj_as
from evidently.sdk.models import DashboardModel

from evmon.config.loader import load_config
from evmon.config.model import EvmonConfig, Project
from evmon.config.sections import Estimation
from evmon.evidently.dashboard import build_dashboard, dashboard_bytes
from evmon.processes import free_port, stop, wait_ready
from evmon.services.ui import start_ui
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.dashboards import segment_values_in, write_dashboards
from evmon.storage.files import FilesWorkspace
from tests.conftest import DEMO_END, DEMO_LIVE, DEMO_WORKSPACE_DAYS

pytestmark = pytest.mark.xdist_group("dashboards")  # its module fixtures are built once, on one worker

CREDIT, TAXI = "credit_scorecard", "taxi_duration"
REGIONS = ["east", "north", "south", "west"]
HISTORY = [DEMO_END - timedelta(days=i) for i in reversed(range(DEMO_WORKSPACE_DAYS))]
LABELLED = {CREDIT: [d for d in HISTORY if d + timedelta(days=3) < DEMO_END + timedelta(days=1)], TAXI: HISTORY}
ESTIMATED_ONCE_LABELLED = {
    "realized",
    "gap",
    "inside_band",
    "inside_empirical",
}  # EstimatedQuality's value kinds of labelled days


@pytest.fixture(scope="module")
def config(demo_dir: Path) -> EvmonConfig:
    return load_config(demo_dir / "projects.yaml")


def metrics_of(model: DashboardModel) -> list[tuple[str, str, dict[str, str], tuple[str, ...]]]:
    return [
        (panel.title, value.metric.rsplit(":", 1)[-1], value.metric_labels, tuple(value.tags))
        for panel in model.panels
        for value in panel.values
    ]


def test_the_model_is_well_formed_and_stable(config: EvmonConfig) -> None:
    for project in config.projects:
        model = build_dashboard(project, {"region": REGIONS})
        panel_ids = [p.id for p in model.panels]
        in_tabs = [pid for tab in model.tabs for pid in tab.panels]
        assert len(set(panel_ids)) == len(panel_ids) and sorted(in_tabs) == sorted(panel_ids)  # each once
        payload = dashboard_bytes(model)
        assert dashboard_bytes(parse_obj_as(DashboardModel, json.loads(payload))) == payload  # as the UI reads it
        assert dashboard_bytes(build_dashboard(project, {"region": REGIONS})) == payload  # same config, same bytes
        for _, _, _, tags in metrics_of(model):
            assert tags[0] == "daily"  # what-if snapshots stay out


def test_panels_follow_the_config(config: EvmonConfig) -> None:
    credit = build_dashboard(config.project(CREDIT), {"region": REGIONS})
    tabs = ["Data", "Model quality", "Fairness", "Outliers", "Explanations", "Segments"]
    assert [t.title for t in credit.tabs] == tabs
    metrics = metrics_of(credit)
    drift = [labels["column"] for title, _, labels, _ in metrics if title == "Drift score per column"]
    assert drift == config.project(CREDIT).drift_columns()
    assert ("Share of drifted columns", "DriftedColumnsCount", {"value_type": "share"}, ("daily",)) in metrics
    assert ("Missing values share", "MissingCellsShare", {}, ("daily",)) in metrics
    quality = [(m, labels) for title, m, labels, tags in metrics if title.startswith("Model quality")]
    assert [m for m, _ in quality] == ["Accuracy", "Precision", "Recall", "F1Score", "RocAuc"]
    assert all(labels == {"classification_name": "default"} for _, labels in quality)
    assert all(tags == ("daily", "labelled") for title, _, _, tags in metrics if title.startswith("Model quality"))
    by_region = [labels["classification_name"] for title, _, labels, _ in metrics if title == "F1 score by region"]
    assert by_region == ["default"] + [f"region={r}" for r in REGIONS]

    estimated = [(title, labels) for title, m, labels, _ in metrics if m == "EstimatedQuality"]
    band, record = "Estimated ROC AUC (band) vs realized", "Estimated ROC AUC: its record on labelled days"
    assert estimated == [
        (
            band if kind in ("estimate", "empirical_lower", "empirical_upper", "realized") else record,
            {**roc_auc, "value_kind": kind},
        )
        for roc_auc in [{"metric": "roc_auc", "classification_name": "default"}]
        for kind in (
            "estimate",
            "empirical_lower",
            "empirical_upper",
            "realized",
            "gap",
            "inside_empirical",
            "inside_band",
        )
    ]

    taxi = build_dashboard(config.project(TAXI))
    # its model explained; no segments configured
    assert [t.title for t in taxi.tabs] == ["Data", "Model quality", "Explanations"]
    assert "EstimatedQuality" not in [m for _, m, _, _ in metrics_of(taxi)]  # no estimation configured
    estimating = config.project(TAXI).model_copy(
        update={"presets": config.project(TAXI).presets.model_copy(update={"estimation": Estimation()})}
    )
    titles = [title for title, m, labels, _ in metrics_of(build_dashboard(estimating)) if m == "EstimatedQuality"]
    assert titles == ["Estimated MAE (band) vs realized"] * 4 + ["Estimated MAE: its record on labelled days"] * 3
    quality = [(m, labels) for title, m, labels, _ in metrics_of(taxi) if title.startswith("Model quality")]
    assert quality[0] == ("MAE", {"regression_name": "default", "value_type": "mean"})

    pending = build_dashboard(config.project(CREDIT), {})  # no labelled day yet: a placeholder
    assert [p.plot_params["plot_type"] for p in pending.panels if p.title == "By region"] == ["text"]

    data_only = config.project(TAXI).model_copy(
        update={"presets": config.project(TAXI).presets.model_copy(update={"regression": None}), "model": None}
    )
    assert [t.title for t in build_dashboard(data_only).tabs] == ["Data"]


def test_segment_values_come_from_the_labelled_snapshots(config: EvmonConfig, demo_workspace: Path) -> None:
    ws = FilesWorkspace(demo_workspace)  # read only
    assert segment_values_in(ws, config.project(CREDIT)) == {"region": REGIONS}
    assert segment_values_in(ws, config.project(TAXI)) == {}


# --- the real UI ------------------------------------------------------------------------------------


def request(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=60) as response:
        return response.status, json.loads(response.read())


@pytest.fixture(scope="module")
def served(
    demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory, config: EvmonConfig
) -> Iterator[tuple[str, FilesWorkspace]]:
    """A copy of the demo workspace with its dashboards and one what-if snapshot, in a running UI."""
    tmp_path = tmp_path_factory.mktemp("served")
    root = tmp_path / "workspace"
    shutil.copytree(demo_workspace, root)
    ws = FilesWorkspace(root)
    # the backfill that wrote the days left theirs current; the live project (no day here) gets its first
    assert write_dashboards(config, ws) == [DEMO_LIVE]
    pid = project_id(TAXI)
    whatif = ws.read_snapshot(pid, daily_snapshot_id(TAXI, DEMO_END))
    whatif.update(tags=["whatif"], metadata={**whatif["metadata"], "evmon_kind": "whatif"})
    ws.write_snapshot(pid, uuid.uuid4(), json.dumps(whatif).encode())
    port = free_port()
    process = start_ui(root, port=port, log_path=tmp_path / "ui.log")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url + "/api/projects", process)
        yield url, ws
    finally:
        stop(process)


def test_the_running_ui_serves_each_dashboard_and_its_series(
    served: tuple[str, FilesWorkspace], config: EvmonConfig
) -> None:
    url, ws = served
    for name in (CREDIT, TAXI):
        pid = project_id(name)
        status, dashboard = request(f"{url}/api/v2/dashboards/{pid}")
        assert status == 200
        written = json.loads(ws.dashboard_path(pid).read_bytes())
        assert [p["id"] for p in dashboard["panels"]] == [p["id"] for p in written["panels"]]
        assert [t["title"] for t in dashboard["tabs"]] == [t["title"] for t in written["tabs"]]
        for panel in dashboard["panels"]:
            if not panel["values"]:
                continue
            # the body the UI's frontend sends for a panel
            series_filter = [
                {
                    "metric": v["metric"],
                    "tags": v["tags"],
                    "metadata": v["metadata"],
                    "metric_labels": v["metric_labels"],
                }
                for v in panel["values"]
            ]
            status, data = request(f"{url}/api/v2/snapshots/{pid}/data_series_batch", {"series_filter": series_filter})
            assert status == 201, panel["title"]  # success: Litestar answers a POST with 201, not 200
            # estimated quality: the estimate and its band every day; realized, gap and inside-band once labelled
            kinds = [v["metric_labels"].get("value_kind") for v in panel["values"]]
            labelled_only = all(kind in ESTIMATED_ONCE_LABELLED for kind in kinds)
            days = LABELLED[name] if "labelled" in panel["values"][0]["tags"] or labelled_only else HISTORY
            stamps = [s["timestamp"] for s in data["sources"]]
            assert stamps == [f"{d.isoformat()}T00:00:00" for d in days], panel["title"]  # one point a day, no what-if
            assert {s["filter_index"] for s in data["series"]} == set(range(len(series_filter))), panel["title"]
            for series in data["series"]:
                if kinds[series["filter_index"]] in ESTIMATED_ONCE_LABELLED:
                    plotted = [days[i] for i, value in enumerate(series["values"]) if value is not None]
                    assert plotted == LABELLED[name], panel["title"]
                    continue
                assert len(series["values"]) == len(days) and None not in series["values"], panel["title"]


def test_a_rewritten_dashboard_shows_without_a_restart(served: tuple[str, FilesWorkspace], config: EvmonConfig) -> None:
    url, ws = served
    pid = project_id(TAXI)
    taxi = config.project(TAXI)
    smaller: Project = taxi.model_copy(update={"presets": taxi.presets.model_copy(update={"data_summary": None})})
    model = build_dashboard(smaller)
    assert ws.write_dashboard(pid, dashboard_bytes(model))
    status, dashboard = request(f"{url}/api/v2/dashboards/{pid}")
    assert status == 200
    assert [p["id"] for p in dashboard["panels"]] == [str(p.id) for p in model.panels]
    assert "Rows per day" not in [p["title"] for p in dashboard["panels"]]
