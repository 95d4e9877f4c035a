"""Online and offline agree: the sliding window's PSI is the batch's Evidently PSI of the same rows,
and the daily snapshot of a day the service logged holds exactly the rows the service scored."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from prometheus_client import CollectorRegistry

from evmon.evidently.report import compute_snapshot, snapshot_bytes
from evmon.online.monitor import Monitor
from evmon.run.day import run_day
from evmon.snapshot.flatten import flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.sources.read import read_reference
from evmon.storage.files import FilesWorkspace
from tests.conftest import DEMO_END
from tests.online.helpers import CREDIT, demo_day, online_config, request

SHIFT_DAY = DEMO_END - timedelta(days=13)  # ExternalRiskEstimate 12 points lower (the demo's feature shift)
MISSING_DAY = DEMO_END - timedelta(days=9)  # 40% of two columns missing
TOLERANCE = 1e-9  # the same bins and sums; only a float sum's order over categories may differ


def serve(monitor: Monitor, frame: pd.DataFrame) -> None:
    for _, row in frame.iterrows():
        monitor.observe(request(row), float(row["default_probability"]), at=row["application_ts"].timestamp())


def psi_of(snapshot: dict[str, object]) -> dict[str, float]:
    rows = flatten(snapshot)  # type: ignore[arg-type]
    found = {r.column: r.value for r in rows if r.metric_type == "ValueDrift" and r.column is not None}
    assert all(r.params.get("method") in (None, "psi") for r in rows if r.metric_type == "ValueDrift")
    return {c: v for c, v in found.items() if v is not None}


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, {"model": CREDIT, "version": "t", **labels})
    return 0.0 if value is None else value


def test_the_window_psi_is_evidentlys_psi_of_the_last_n_rows(tmp_path: Path, demo_dir: Path) -> None:
    os.environ["DO_NOT_TRACK"] = "1"
    config = online_config(tmp_path, demo_dir, window_rows=300)
    project = config.project(CREDIT)
    frame = pd.concat([demo_day(demo_dir, MISSING_DAY), demo_day(demo_dir, SHIFT_DAY)], ignore_index=True)
    monitor = Monitor(config, CREDIT, version="t", registry=CollectorRegistry())
    serve(monitor, frame)
    assert monitor.flush()
    assert monitor.last_drift is not None and monitor.last_drift.rows == 300
    online = {c: s for c, s in monitor.last_drift.scores.items() if s is not None}
    monitor.close()

    last = frame.tail(300)  # the window: the last 300 rows the service scored
    model = compute_snapshot(
        project,
        last,
        read_reference(config, project),
        timestamp=datetime(2026, 3, 1),
        with_quality=False,
        metadata={},
        tags=[],
        name="window",
    )
    batch = psi_of(json.loads(snapshot_bytes(model)))

    assert set(online) == set(batch) == {*project.columns.features(), "default_probability"}
    for column, value in batch.items():
        assert abs(online[column] - value) <= TOLERANCE, (column, online[column], value)
    assert online["ExternalRiskEstimate"] > 0.2  # the shift is seen, not a pair of zeros


def test_a_logged_day_snapshot_holds_exactly_the_rows_the_service_scored(tmp_path: Path, demo_dir: Path) -> None:
    os.environ["DO_NOT_TRACK"] = "1"
    config = online_config(tmp_path, demo_dir, window_rows=5000)
    project = config.project(CREDIT)
    frame = demo_day(demo_dir, SHIFT_DAY)
    registry = CollectorRegistry()
    monitor = Monitor(config, CREDIT, version="t", registry=registry)
    serve(monitor, frame.iloc[: len(frame) // 2])
    assert monitor.flush()  # one flush mid-day: the day is in several files per hour
    serve(monitor, frame.iloc[len(frame) // 2 :])
    monitor.close()
    assert monitor.last_drift is not None
    online = {c: s for c, s in monitor.last_drift.scores.items() if s is not None}

    hours = sorted(p.parent.name for p in (tmp_path / "online" / SHIFT_DAY.isoformat()).glob("*/*.parquet"))
    assert set(hours) == {f"{h:02d}" for h in range(24)}  # partitioned by the hour each row was scored
    assert not list((tmp_path / "online").rglob("*.tmp"))
    scored = sample(registry, "evmon_online_rows_total")
    logged = sample(registry, "evmon_online_rows_logged_total")
    assert scored == logged == len(frame)

    workspace = FilesWorkspace(tmp_path / "workspace")
    result = run_day(config, project, SHIFT_DAY, workspace=workspace, today=SHIFT_DAY + timedelta(days=30))
    assert result.outcome == "ok", result.line()
    snapshot = workspace.read_snapshot(project_id(CREDIT), daily_snapshot_id(CREDIT, SHIFT_DAY))
    assert result.rows == int(snapshot["metadata"]["rows"]) == len(frame)  # counted both ways
    row_count = [r.value for r in flatten(snapshot) if r.metric_type == "RowCount"]
    assert row_count == [len(frame)]
    day_psi = psi_of(snapshot)
    for column, value in day_psi.items():  # the window held the whole day: the day's PSI, online and offline
        assert abs(online[column] - value) <= TOLERANCE, (column, online[column], value)
    stamps = pd.read_parquet(tmp_path / "online").sort_values("application_ts")["application_ts"]
    assert stamps.tolist() == frame["application_ts"].dt.tz_convert(UTC).tolist()
