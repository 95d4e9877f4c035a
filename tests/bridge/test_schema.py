"""Migrations, the views Grafana reads, and Grafana's SELECT-only role."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from evmon.bridge.schema import MIGRATIONS, migrate
from evmon.bridge.settings import GrafanaRole
from evmon.bridge.sync import Bridge
from tests.bridge.helpers import copy_workspace

VIEWS = [
    "dataset_drift",
    "column_drift",
    "data_quality",
    "dataset_summary",
    "quality_values",
    "model_quality",
    "segment_quality",
    "project_health",
    "estimated_quality",
    "estimation_record",
    "explanations",
    "attribution_drift",
    "attribution_by_quality",
    "attribution_on_quality_drops",
    "attribution_quality_drop_summary",
]


def test_migrations_are_recorded_once_even_when_racing(pg_dsn: str) -> None:
    role = GrafanaRole(f"evmon_grafana_{uuid.uuid4().hex[:8]}", None)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with psycopg.connect(pg_dsn, autocommit=True) as conn:
                migrate(conn, role)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM evmon.schema_migrations ORDER BY version")]
        assert versions == [m.version for m in MIGRATIONS]
        assert migrate(conn, role) == []
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'evmon'")}
        views = {r[0] for r in conn.execute("SELECT viewname FROM pg_views WHERE schemaname = 'evmon'")}
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role.name)))
    assert {"projects", "snapshots", "metric_values", "test_results", "runs"} <= tables
    assert set(VIEWS) <= views
    assert {"fairness", "outliers"} <= views and "alert_thresholds" in tables  # filled: test_fairness_outlier_views
    _drop_role(pg_dsn, role.name)


def _drop_role(dsn: str, name: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def test_grafana_role_reads_views_and_cannot_write(demo_workspace: Path, tmp_path: Path, pg_dsn: str) -> None:
    role = GrafanaRole(f"evmon_grafana_{uuid.uuid4().hex[:8]}", "s3cret-" + uuid.uuid4().hex[:6])
    ws = copy_workspace(demo_workspace, tmp_path / "ws")
    bridge = Bridge(ws, pg_dsn, role=role)
    bridge.sync_once()
    bridge.close()
    grafana = psycopg.conninfo.make_conninfo(pg_dsn, user=role.name, password=role.password)
    try:
        with psycopg.connect(grafana, autocommit=True) as conn:
            for view in VIEWS:
                rows = conn.execute(sql.SQL("SELECT * FROM evmon.{}").format(sql.Identifier(view))).fetchall()
                assert rows, f"evmon.{view} is empty"
            assert conn.execute("SELECT count(*) FROM evmon.metric_values").fetchone() != (0,)
            forbidden = [
                "INSERT INTO evmon.projects (project_id, name) VALUES (gen_random_uuid(), 'x')",
                "UPDATE evmon.metric_values SET value = 0",
                "DELETE FROM evmon.snapshots",
                "CREATE TABLE evmon.x (a int)",
                "CREATE VIEW evmon.v AS SELECT 1",
                "CREATE TABLE public.x (a int)",
                "CREATE SCHEMA grafana_own",
                "TRUNCATE evmon.runs",
            ]
            for statement in forbidden:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)  # type: ignore[call-overload]
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role.name)))
        _drop_role(pg_dsn, role.name)


def test_views_agree_with_each_other(demo_workspace: Path, tmp_path: Path, pg_dsn: str) -> None:
    ws = copy_workspace(demo_workspace, tmp_path / "ws")
    Bridge(ws, pg_dsn).sync_once()
    with psycopg.connect(pg_dsn) as conn:
        # the per-column verdicts (from method, threshold and score) add up to Evidently's own count
        mismatches = conn.execute(
            """SELECT d.snapshot_id, d.drifted_columns, c.n
               FROM evmon.dataset_drift d
               JOIN (SELECT snapshot_id, count(*) FILTER (WHERE drift_detected) AS n,
                            count(*) FILTER (WHERE drift_detected IS NULL) AS unknown
                     FROM evmon.column_drift GROUP BY snapshot_id) c USING (snapshot_id)
               WHERE d.drifted_columns <> c.n OR c.unknown > 0"""
        ).fetchall()
        assert mismatches == []
        summary = conn.execute("SELECT count(*), min(row_count) FROM evmon.dataset_summary").fetchone()
        assert summary is not None and summary[0] == 10 and summary[1] > 0
        # the views that derive the day from the timestamp give the snapshot's own day
        days = conn.execute(
            """SELECT count(*) FILTER (WHERE v.day <> s.day), count(*) FROM (
                   SELECT snapshot_id, day FROM evmon.dataset_summary
                   UNION ALL SELECT snapshot_id, day FROM evmon.data_quality
                   UNION ALL SELECT snapshot_id, day FROM evmon.quality_values) v
               JOIN evmon.snapshots s USING (snapshot_id)"""
        ).fetchone()
        assert days is not None and days[0] == 0 and days[1] > 0
        # one dataset-wide column count per snapshot, and the per-type ones labelled apart
        counts = conn.execute(
            """SELECT snapshot_id, count(*) FILTER (WHERE label IS NULL), count(DISTINCT label)
               FROM evmon.metric_values WHERE metric_type = 'ColumnCount' GROUP BY 1"""
        ).fetchall()
        assert len(counts) == 10 and all(r[1] == 1 and r[2] >= 1 for r in counts)
        methods = {r[0] for r in conn.execute("SELECT DISTINCT method FROM evmon.column_drift")}
        assert {"psi", "wasserstein"} <= methods
        tasks = {r[0] for r in conn.execute("SELECT DISTINCT task FROM evmon.model_quality")}
        assert tasks == {"regression", "classification"} or tasks == {"regression"}
        # Grafana's time-series query shape on the long table
        series = conn.execute(
            """SELECT "timestamp" AS "time", value FROM evmon.metric_values
               WHERE project = %s AND metric_type = 'RowCount' AND kind = 'daily'
                 AND "timestamp" BETWEEN '2026-01-01T00:00:00Z' AND '2026-12-31T00:00:00Z' ORDER BY 1""",
            ("taxi_duration",),
        ).fetchall()
        assert len(series) == 5


def test_migration_5_backfills_the_verdicts_and_labels_the_ingest_writes(
    demo_workspace: Path, tmp_path: Path, pg_dsn: str
) -> None:
    """Rows written before migration 5 get the same verdicts and quantile labels as new ones."""
    from evmon.bridge.schema_sql import V5_FAST_PANELS

    ws = copy_workspace(demo_workspace, tmp_path / "ws")
    Bridge(ws, pg_dsn).sync_once()
    key = (
        "SELECT snapshot_id, metric_id, value_kind, drift_detected, label FROM evmon.metric_values ORDER BY 1, 2, 3, 5"
    )
    updates = [s.strip() for s in V5_FAST_PANELS.split(";") if s.strip().startswith("UPDATE")]
    assert len(updates) == 2
    with psycopg.connect(pg_dsn) as conn:
        at_ingest = conn.execute(key).fetchall()
        assert any(r[3] is True for r in at_ingest) and any(r[3] is False for r in at_ingest)
        assert {r[4] for r in at_ingest if r[4] is not None} >= {"0.25", "0.5", "0.75"}
        conn.execute("UPDATE evmon.metric_values SET drift_detected = NULL")
        conn.execute("UPDATE evmon.metric_values SET label = NULL WHERE metric_type = 'QuantileValue'")
        for statement in updates:
            conn.execute(statement)
        assert conn.execute(key).fetchall() == at_ingest


def test_migration_6_backfills_the_segments_and_labels_the_ingest_writes(
    demo_workspace: Path, tmp_path: Path, pg_dsn: str
) -> None:
    """Rows written before migration 6 get the same segments and column-type labels as new ones."""
    from evmon.bridge.schema_sql import V6_SEGMENTS

    ws = copy_workspace(demo_workspace, tmp_path / "ws")
    Bridge(ws, pg_dsn).sync_once()
    key = "SELECT snapshot_id, metric_id, value_kind, segment, label FROM evmon.metric_values ORDER BY 1, 2, 3, 5"
    updates = [s.strip() for s in V6_SEGMENTS.split(";") if s.strip().startswith("UPDATE")]
    assert len(updates) == 2
    with psycopg.connect(pg_dsn) as conn:
        at_ingest = conn.execute(key).fetchall()
        segments = {r[3] for r in at_ingest if r[3] is not None}
        assert "default" in segments and any(s.startswith("region=") for s in segments)
        conn.execute("UPDATE evmon.metric_values SET segment = NULL")
        conn.execute("UPDATE evmon.metric_values SET label = NULL WHERE metric_type = 'ColumnCount'")
        for statement in updates:
            conn.execute(statement)
        assert conn.execute(key).fetchall() == at_ingest
