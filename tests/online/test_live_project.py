"""The demo's credit_scorecard_live, as projects.yaml declares it: its daily runs read the rows the credit
model's service logged, a day once it is over, and Grafana's Online panel sets the rows logged beside them.

A folder holds the repository's projects.yaml (unchanged) beside the demo's credit model and reference; a
real Monitor, as the service runs it, logs a demo day's rows at their own times; the real scheduler, its
clock on that day and then on the next, decides when the day is run.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from prometheus_client import CollectorRegistry

from evmon.config.loader import load_config
from evmon.config.model import EvmonConfig
from evmon.demo.data import CREDIT, CREDIT_LIVE
from evmon.online.monitor import Monitor
from evmon.processes import free_port
from evmon.scheduler.service import SchedulerService, fixed_clock
from evmon.services.exporter import MetricsAddress, MetricsServer
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.sources.read import reads_own_row_log
from evmon.storage.files import FilesWorkspace
from tests.conftest import DEMO_END, REPO
from tests.online.helpers import demo_day, request
from tests.prometheus.tools import PrometheusServer, needs_prometheus, prometheus_server

DAY = DEMO_END - timedelta(days=13)  # the feature shift's middle day: any demo day would do
VERSION = "2026-01"


@pytest.fixture()
def home(tmp_path: Path, demo_dir: Path) -> Path:
    """The repository's projects.yaml beside the demo's credit model and reference (its own row log folder)."""
    folder = tmp_path / "home"
    credit = folder / "demo_data" / CREDIT
    credit.mkdir(parents=True)
    shutil.copy(REPO / "projects.yaml", folder / "projects.yaml")
    for name in ("model.pkl", "model.skops", "reference.parquet"):
        if (demo_dir / "demo_data" / CREDIT / name).exists():
            (credit / name).symlink_to(demo_dir / "demo_data" / CREDIT / name)
    return folder


def serve_day(config: EvmonConfig, registry: CollectorRegistry, frame: pd.DataFrame) -> Monitor:
    """The day's rows handed to the live project's monitor at their own times, flushed mid-day, then closed."""
    monitor = Monitor(config, CREDIT_LIVE, version=VERSION, registry=registry)
    for i, (_, row) in enumerate(frame.iterrows()):
        monitor.observe(request(row), float(row["default_probability"]), at=row["application_ts"].timestamp())
        if i == len(frame) // 2:
            assert monitor.flush()
    monitor.close()
    return monitor


def logged(registry: CollectorRegistry, name: str) -> float | None:
    return registry.get_sample_value(name, {"model": CREDIT_LIVE, "version": VERSION})


def test_the_live_project_reads_the_rows_the_service_logged_once_the_day_is_over(home: Path, demo_dir: Path) -> None:
    config = load_config(home / "projects.yaml")
    live = config.project(CREDIT_LIVE)
    assert reads_own_row_log(config, live)
    workspace = FilesWorkspace(home / "workspace")
    lines: list[str] = []

    def fire(today: date) -> list[str]:
        service = SchedulerService(
            home / "projects.yaml", workspace=workspace, now=fixed_clock(today), echo=lines.append, dashboards=False
        )
        return [r.line() for r in service.fire(CREDIT_LIVE)]

    # nothing logged yet: every day of the catch-up window has no rows (skipped, not failed)
    before = fire(DAY)
    assert len(before) == live.max_catchup_days and all(line.endswith(" skipped: no rows") for line in before)

    frame = demo_day(demo_dir, DAY)
    registry = CollectorRegistry()
    serve_day(config, registry, frame)
    scored, written = (logged(registry, f"evmon_online_{name}_total") for name in ("rows", "rows_logged"))
    assert scored == written == len(frame)
    files = sorted((home / "demo_data" / CREDIT / "online").glob("*/*/*.parquet"))
    assert {f.parts[-3] for f in files} == {DAY.isoformat()} and len(files) >= 24  # one or more per hour

    # the day being logged is today: no snapshot of a part of it (one snapshot per project and day)
    assert all(f"{CREDIT_LIVE} {DAY} " not in line for line in fire(DAY))
    assert workspace.list_snapshots(project_id(CREDIT_LIVE)) == []
    # the next day (00:05 UTC in the demo), the whole day: exactly the rows the service scored
    after = fire(DAY + timedelta(days=1))
    assert re.fullmatch(rf"{CREDIT_LIVE} {DAY} ok: {len(frame)} rows, without labels, [\d.]+s", after[-1]), after
    snapshot = workspace.read_snapshot(project_id(CREDIT_LIVE), daily_snapshot_id(CREDIT_LIVE, DAY))
    assert int(snapshot["metadata"]["rows"]) == len(frame)
    assert fire(DAY + timedelta(days=1)) == []  # done: nothing due again


@needs_prometheus
def test_the_online_panel_sets_the_rows_logged_beside_the_live_snapshots_rows(
    home: Path, demo_dir: Path, pg_dsn: str
) -> None:
    """Grafana's "Rows logged (24 h) vs rows of the newest daily snapshot", its two queries for the live
    project as a real Prometheus answers them, scraping the service's monitor and the bridge."""
    from evmon.bridge import owners
    from evmon.bridge.metrics import bridge_registry
    from evmon.bridge.sync import Bridge

    config = load_config(home / "projects.yaml")
    workspace = FilesWorkspace(home / "workspace")
    frame = demo_day(demo_dir, DAY)
    service_registry = CollectorRegistry()
    bridge = Bridge(workspace, pg_dsn, settle_s=0.0, owners=owners.from_config_file(config))
    bridge_metrics, counters, state = bridge_registry(config, bridge)
    monitor = Monitor(config, CREDIT_LIVE, version=VERSION, registry=service_registry)  # logged: 0 from the start
    exporters = {
        job: MetricsServer(registry, MetricsAddress("127.0.0.1", free_port()))
        for job, registry in (("model", service_registry), ("evmon-bridge", bridge_metrics))
    }
    jobs = {job: f"127.0.0.1:{exporter.address.port}" for job, exporter in exporters.items()}
    try:
        with prometheus_server(home / "prometheus", jobs, []) as p:
            logged_total = f'evmon_online_rows_logged_total{{model="{CREDIT_LIVE}"}}'
            p.wait_for(logged_total, lambda found: list(found.values()) == [0.0], timeout=30)
            for _, row in frame.iterrows():
                monitor.observe(request(row), float(row["default_probability"]), at=row["application_ts"].timestamp())
            monitor.close()
            p.wait_for(logged_total, lambda found: list(found.values()) == [float(len(frame))], timeout=30)
            service = SchedulerService(
                home / "projects.yaml", workspace=workspace, now=fixed_clock(DAY + timedelta(1)), dashboards=False
            )
            assert [r.outcome for r in service.fire(CREDIT_LIVE) if r.day == DAY] == ["ok"]
            counters.observe(bridge.sync_once())
            rows = f'evmon_project_rows{{project="{CREDIT_LIVE}"}}'
            p.wait_for(rows, lambda found: list(found.values()) == [float(len(frame))], timeout=30)
            answers = panel_answers(p, CREDIT_LIVE)
    finally:
        for exporter in exporters.values():
            exporter.stop()
        state.close()
        bridge.close()
    assert answers == {f"{CREDIT_LIVE} logged, 24 h": len(frame), f"{CREDIT_LIVE} daily snapshot": len(frame)}


def panel_targets() -> Iterator[tuple[str, str]]:
    """The Online dashboard's rows panel: each target's query and legend."""
    board = json.loads((REPO / "grafana" / "dashboards" / "online.json").read_text())
    [panel] = [p for p in board["panels"] if p.get("title", "").startswith("Rows logged")]
    for target in panel["targets"]:
        yield target["expr"], target["legendFormat"]


def panel_answers(prometheus: PrometheusServer, model: str) -> dict[str, float]:
    """Each panel query with $project = `model` (what the dashboard's variable lists: the services' model
    label), evaluated at the newest scrape of the service (an increase over a range ending at a sample)."""
    deadline = time.monotonic() + 30
    while True:
        [moment] = prometheus.query(f'timestamp(evmon_online_rows_logged_total{{model="{model}"}})').values()
        answers: dict[str, float] = {}
        for expr, legend in panel_targets():
            data = prometheus.api("query", query=expr.replace("$project", model), time=f"{moment:.3f}")
            for result in data["result"]:
                assert result["metric"].get("model", result["metric"].get("project")) == model
                label = legend.replace("{{model}}", model).replace("{{project}}", model)
                answers[label] = round(float(result["value"][1]), 6)
        if len(answers) == 2 or time.monotonic() > deadline:  # both series scraped by then
            return answers
        time.sleep(0.5)
