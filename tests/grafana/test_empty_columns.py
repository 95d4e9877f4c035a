"""A feed that broke is alerted on: a column without any value, from the day's run to both alerts.

A real day of the tiny wind project whose `wind_speed` column has no value (the real runner and
Evidently Report), beside a normal day; the real bridge syncs the workspace into a fresh database;
then Grafana's rule `evmon-empty-columns` (its SQL expanded as Grafana expands it) fires for the
project, naming the column, and the bridge's gauge evmon_project_empty_columns (what Prometheus's
EvmonColumnsWithoutValues reads; prometheus/tests/evmon_test.yml shows that rule firing) is 1.
The day before, the newest snapshot had every column: nothing fires.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg

from evmon.bridge.metrics import bridge_registry
from evmon.bridge.sync import Bridge
from evmon.processes import free_port
from evmon.run.day import run_day
from evmon.services.exporter import MetricsAddress, MetricsServer
from evmon.storage.files import FilesWorkspace
from tests.grafana.checks import check_alert, fires, own_labels, run
from tests.grafana.grafana_sql import expand
from tests.grafana.provisioned import alert_queries, alert_range
from tests.prometheus.tools import of_metric, samples, scrape
from tests.wind import day_rows, wind_config

GOOD, BROKEN = date(2026, 1, 4), date(2026, 1, 5)


def test_a_column_without_any_value_fires_both_alerts(tmp_path: Path, pg_dsn: str) -> None:
    (tmp_path / "data").mkdir()
    day_rows(GOOD).to_parquet(tmp_path / "data" / f"{GOOD}.parquet", index=False)
    day_rows(BROKEN).assign(wind_speed=np.nan).to_parquet(tmp_path / "data" / f"{BROKEN}.parquet", index=False)
    config = wind_config(
        tmp_path,
        {"path": "data/*.parquet", "timestamp_column": "ts"},
        presets={"data_drift": True, "data_summary": True, "regression": True},
    )
    workspace = FilesWorkspace(tmp_path / "ws")
    for day in (GOOD, BROKEN):
        result = run_day(config, config.projects[0], day, workspace=workspace, today=date(2026, 2, 1))
        assert result.outcome == "ok", result.line()
    bridge = Bridge(workspace, pg_dsn, settle_s=0.0)
    synced = bridge.sync_once()
    assert synced.failed == [] and synced.ingested == 2, synced.line()

    [query] = [q for q in alert_queries() if q.rule["uid"] == "evmon-empty-columns"]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        instances = {}
        for day in (GOOD, BROKEN):
            now = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=12)
            result = run(conn, expand(query.sql, {}, alert_range(query.rule, "A", now)))
            instances[day] = [(own_labels(labels), value) for labels, value in check_alert(query, result)]
    assert instances == {
        GOOD: [({"project": "wind", "columns": ""}, 0.0)],
        BROKEN: [({"project": "wind", "columns": "wind_speed"}, 1.0)],
    }
    assert not fires(query.rule, 0.0) and fires(query.rule, 1.0)

    registry, _, state = bridge_registry(config, bridge)
    try:
        with MetricsServer(registry, MetricsAddress("127.0.0.1", free_port())) as server:
            found = samples(scrape(server.address.url))
    finally:
        state.close()
        bridge.close()
    assert of_metric(found, "evmon_project_empty_columns") == {(("project", "wind"),): 1.0}
