"""The bridge's /metrics, scraped over HTTP and parsed with prometheus_client's parser: its syncs, the lag,
the quarantine, and each project's newest values, checked against the snapshot files themselves."""

from __future__ import annotations

import math
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from evmon.bridge.metrics import BridgeStateCollector, bridge_registry
from evmon.bridge.sync import Bridge
from evmon.config.loader import load_config
from evmon.processes import free_port
from evmon.services.exporter import MetricsAddress, MetricsServer
from evmon.snapshot.codec import loads as parse_json
from evmon.snapshot.flatten import MetricRow, flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.base import Workspace
from evmon.storage.runlog import RunLog
from tests.conftest import DEMO_END, DEMO_WORKSPACE_DAYS, write_config
from tests.prometheus.conftest import CREDIT, TAXI, copy_workspace
from tests.prometheus.tools import Samples, documented_metrics, family_names, of_metric, samples, scrape, value

QUALITY = {"RocAuc": "roc_auc", "R2Score": "r2"}


def rows_of(ws: Workspace, project: str, day: date) -> list[MetricRow]:
    path = ws.snapshot_path(project_id(project), daily_snapshot_id(project, day))
    return flatten(parse_json(path.read_bytes()))


def one(rows: list[MetricRow], metric_type: str, value_kind: str = "value") -> float:
    [found] = [
        r.value
        for r in rows
        if r.metric_type == metric_type and r.value_kind == value_kind and r.column is None and r.label is None
    ]
    assert found is not None
    return found


def quality_of(rows: list[MetricRow]) -> dict[tuple[str, str], float]:
    """(segment label, metric) -> the headline quality, from a snapshot's own rows."""
    return {
        ("all" if r.segment == "default" else str(r.segment), QUALITY[r.metric_type]): r.value
        for r in rows
        if r.metric_type in QUALITY and r.value is not None and not math.isnan(r.value)
    }


def assert_newest_values(found: Samples, ws: Workspace, project: str) -> None:
    """The gauges of a project are the values in its newest daily snapshot file (and newest labelled one)."""
    days = [DEMO_END - timedelta(days=i) for i in range(DEMO_WORKSPACE_DAYS)]
    newest = rows_of(ws, project, DEMO_END)
    assert value(found, "evmon_project_drift_share", project=project) == one(newest, "DriftedColumnsCount", "share")
    assert value(found, "evmon_project_drifted_columns", project=project) == one(newest, "DriftedColumnsCount", "count")
    [threshold] = {r.params["drift_share"] for r in newest if r.metric_type == "DriftedColumnsCount"}
    assert value(found, "evmon_project_drift_share_threshold", project=project) == threshold
    cells = one(newest, "RowCount") * one(newest, "ColumnCount")
    missing = one(newest, "DatasetMissingValueCount", "count") / cells
    assert value(found, "evmon_project_missing_share", project=project) == pytest.approx(missing)
    assert value(found, "evmon_project_empty_columns", project=project) == 0  # every demo column has values
    [run] = [r for r in RunLog(ws.evmon_dir).records(project) if r.day == DEMO_END and r.status == "ok"]
    assert value(found, "evmon_project_rows", project=project) == run.rows
    labelled = max(d for d in days if any(metric == "all" for metric, _ in quality_of(rows_of(ws, project, d))))
    expected = quality_of(rows_of(ws, project, labelled))
    got = {
        (dict(labels)["segment"], dict(labels)["metric"]): v
        for labels, v in of_metric(found, "evmon_project_quality").items()
        if dict(labels)["project"] == project
    }
    assert got == pytest.approx(expected)
    bounds = {  # the empirical band is the default shown; NannyML's is kept beside it
        "estimate": "estimate",
        "empirical_lower": "lower",
        "empirical_upper": "upper",
        "lower": "nannyml_lower",
        "upper": "nannyml_upper",
    }
    estimated = {
        (str(r.label), bounds[str(r.value_kind)]): r.value
        for r in newest
        if r.metric_type == "EstimatedQuality" and r.segment == "default" and r.label in ("roc_auc", "mae")
        and r.value_kind in bounds
    }  # fmt: skip
    assert bool(estimated) == (project == CREDIT)  # the demo's classifier estimates its unlabelled days
    got_estimated = {
        (dict(labels)["metric"], dict(labels)["bound"]): v
        for labels, v in of_metric(found, "evmon_project_estimated_quality").items()
        if dict(labels)["project"] == project
    }
    assert got_estimated == pytest.approx(estimated)
    assert value(found, "evmon_project_newest_day_timestamp_seconds", project=project) == utc_midnight(DEMO_END)
    assert value(found, "evmon_project_quality_day_timestamp_seconds", project=project) == utc_midnight(labelled)


def utc_midnight(day: date) -> float:
    """A daily snapshot's timestamp: the start of its day in UTC (evmon.days.snapshot_timestamp)."""
    return datetime.combine(day, dtime(0), tzinfo=UTC).timestamp()


@pytest.fixture()
def ws(demo_workspace: Path, tmp_path: Path) -> Workspace:
    return copy_workspace(demo_workspace, tmp_path / "workspace")


def test_syncs_lag_quarantine_and_the_newest_values(ws: Workspace, pg_dsn: str, data_dir: Path, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path / "projects.yaml", data_dir, credit_scorecard={}, taxi_duration={}))
    bridge = Bridge(ws, pg_dsn, settle_s=0.0)
    registry, counters, state = bridge_registry(config, bridge)
    with MetricsServer(registry, MetricsAddress("127.0.0.1", free_port())) as server:
        before = samples(scrape(server.address.url))
        assert value(before, "evmon_bridge_postgres_up") == 1  # answers, though not migrated yet: no values
        assert of_metric(before, "evmon_project_drift_share") == {}
        assert of_metric(before, "evmon_bridge_lag_seconds") == {}  # unknown until a sync has finished
        assert value(before, "evmon_bridge_syncs_total", result="ok") == 0

        started = time.time()
        counters.observe(bridge.sync_once())
        text = scrape(server.address.url)
        found = samples(text)
        assert value(found, "evmon_bridge_syncs_total", result="ok") == 1
        assert value(found, "evmon_bridge_snapshots_ingested_total") == 2 * DEMO_WORKSPACE_DAYS
        assert value(found, "evmon_bridge_sync_duration_seconds_count") == 1
        assert started <= value(found, "evmon_bridge_last_sync_timestamp_seconds") <= time.time()
        assert of_metric(found, "evmon_bridge_lag_seconds") == {(("project", CREDIT),): 0.0, (("project", TAXI),): 0.0}
        assert value(found, "evmon_quarantined_files") == 0
        for project in (CREDIT, TAXI):
            assert_newest_values(found, ws, project)
        segments = {
            dict(k)["segment"] for k in of_metric(found, "evmon_project_quality") if dict(k)["project"] == CREDIT
        }
        assert "all" in segments and any(s.startswith("region=") for s in segments)  # the model, and per segment

        newest = ws.snapshot_path(project_id(CREDIT), daily_snapshot_id(CREDIT, DEMO_END))
        rewritten = ws.write_snapshot(project_id(CREDIT), daily_snapshot_id(CREDIT, DEMO_END), newest.read_bytes())
        time.sleep(1.2)
        found = samples(scrape(server.address.url))
        waited = time.time() - rewritten.mtime_ns / 1e9
        assert 1.2 <= value(found, "evmon_bridge_lag_seconds", project=CREDIT) <= waited
        assert value(found, "evmon_bridge_lag_seconds", project=TAXI) == 0

        broken = ws.write_snapshot(project_id(TAXI), uuid.uuid4(), b'{"not": "a snapshot"')
        result = bridge.sync_once()
        counters.observe(result)
        assert result.ingested == 1 and len(result.quarantined) == 1 and not broken.path.exists()
        found = samples(scrape(server.address.url))
        assert of_metric(found, "evmon_bridge_lag_seconds") == {(("project", CREDIT),): 0.0, (("project", TAXI),): 0.0}
        assert value(found, "evmon_bridge_syncs_total", result="unreadable") == 1
        assert value(found, "evmon_bridge_snapshots_ingested_total") == 2 * DEMO_WORKSPACE_DAYS + 1
        assert value(found, "evmon_bridge_snapshots_quarantined_total") == 1
        assert value(found, "evmon_quarantined_files") == 1
    state.close()
    bridge.close()
    names = family_names(text)
    assert names <= documented_metrics() | {"evmon_build_info"}
    assert {n for n in documented_metrics() if n.startswith(("evmon_bridge", "evmon_project_", "evmon_quar"))} - {
        n
        for n in documented_metrics()
        if n.startswith(("evmon_project_last", "evmon_project_due", "evmon_project_sch"))
    } <= names


def test_postgres_down_is_a_zero_and_no_values(ws: Workspace, data_dir: Path, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path / "projects.yaml", data_dir, taxi_duration={}))
    registry = CollectorRegistry()
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/evmon"
    registry.register(BridgeStateCollector(config, ws, dead, connect_timeout=2))
    with MetricsServer(registry, MetricsAddress("127.0.0.1", free_port())) as server:
        started = time.monotonic()
        found = samples(scrape(server.address.url))
        assert time.monotonic() - started < 3
    assert value(found, "evmon_bridge_postgres_up") == 0
    assert value(found, "evmon_quarantined_files") == 0
    assert not [name for name, _ in found if name.startswith(("evmon_project_", "evmon_bridge_lag"))]
