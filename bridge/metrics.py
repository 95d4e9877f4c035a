"""`evmon bridge`'s /metrics: what its syncs did, how far Postgres is behind, and each project's newest values.

- The sync loop's counters (syncs, snapshots ingested, deleted, unreadable, quarantined) and the
  sync duration are counted as the syncs finish (Bridge.run's on_result): they happen here.
- Read at scrape time, on a connection of the collector's own (read-only, short timeouts):
  whether Postgres answers, and per project the values of its newest daily snapshot in Postgres
  (dataset drift share and its threshold, drifted columns, missing share, columns without any value,
  rows) and of its newest labelled day (the headline quality, model-wide and per segment: ROC AUC
  for classifiers, R² for regressors), the same numbers as the Grafana overview, a handful of
  series per project.
- Lag, at scrape time: per project, how long the oldest snapshot write that Postgres does not
  hold yet has been waiting (0 when Postgres holds every file of the project, or has reported it
  unreadable). A project whose snapshot folder has not changed since the start of the last sync
  that left nothing pending is in step without a look; the others' files are listed and compared
  with Postgres's (size, mtime) rows, what a sync compares. Until this process has finished such
  a sync there is no lag series (listing every project's folder at each scrape would cost more
  than the scrape is worth: 0.9 s for 100 projects x 365 days). evmon writes snapshots by rename,
  which changes the folder; a file rewritten in place by another tool shows on the next sync.
- Per project with estimation (presets.estimation), the newest day's estimated headline quality and
  both bands (evmon_project_estimated_quality: five series a project, the empirical band as bound
  lower/upper, NannyML's as nannyml_lower/nannyml_upper).
- Per project with fairness or outliers, the newest day's values and projects.yaml's thresholds, read
  again when projects.yaml changed (bridge/metrics_fairness.py).
- Each project's owner and tags (evmon_project_info, from evmon.project_owners: bridge/metrics_owners.py).
- The files in the quarantine, from its folder (evmon.storage.quarantine).
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

import psycopg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from evmon.bridge.config_watch import current_config
from evmon.bridge.metrics_fairness import (
    EXPLANATIONS_SQL,
    explanation_values,
    fairness_values,
    outlier_values,
    read_fairness_outliers,
    threshold_values,
    without_labels,
)
from evmon.bridge.metrics_owners import owner_info, read_owners
from evmon.bridge.sync import Bridge, SyncResult
from evmon.config.model import EvmonConfig
from evmon.services.exporter import MetricsServer, metrics_address, new_registry
from evmon.snapshot.ids import project_id
from evmon.storage.base import Workspace
from evmon.storage.quarantine import fingerprint as quarantine_fingerprint

log = logging.getLogger(__name__)

SYNC_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
SYNC_RESULTS = ("ok", "unreadable", "busy")  # every file read / some unreadable or quarantined / another bridge
QUALITY_METRICS = {"RocAuc": "roc_auc", "R2Score": "r2"}
MODEL_WIDE = "all"  # the segment label of the model-wide quality (Evidently's task name "default")

# per project: the newest daily snapshot's values, and the newest labelled day (its model-wide headline
# quality is not NaN); each lookup is an index probe on (project, metric_type, "timestamp")
_NEWEST = """
SELECT p.name, l."timestamp", l.rows, d.share, d.count, d.threshold, m.missing_share, e.empty_columns,
       q."timestamp", q.metric_type, qv.segments, qv.values
FROM evmon.projects p
LEFT JOIN LATERAL (
    SELECT s."timestamp", s.rows FROM evmon.snapshots s
    WHERE s.project = p.name AND s.kind = 'daily' ORDER BY s."timestamp" DESC LIMIT 1) l ON true
LEFT JOIN LATERAL (
    SELECT max(v.value) FILTER (WHERE v.value_kind = 'share') AS share,
           max(v.value) FILTER (WHERE v.value_kind = 'count') AS count,
           max((v.params->>'drift_share')::double precision) AS threshold
    FROM evmon.metric_values v
    WHERE v.project = p.name AND v.metric_type = 'DriftedColumnsCount' AND v."timestamp" = l."timestamp"
      AND v.kind = 'daily') d ON true
LEFT JOIN LATERAL (
    SELECT max(v.value) FILTER (WHERE v.metric_type = 'DatasetMissingValueCount' AND v.value_kind = 'count')
             / nullif(max(v.value) FILTER (WHERE v.metric_type = 'RowCount')
                      * max(v.value) FILTER (WHERE v.metric_type = 'ColumnCount' AND v.label IS NULL), 0)
             AS missing_share
    FROM evmon.metric_values v
    WHERE v.project = p.name AND v.metric_type IN ('DatasetMissingValueCount', 'RowCount', 'ColumnCount')
      AND v."timestamp" = l."timestamp" AND v.kind = 'daily' AND v."column" IS NULL) m ON true
LEFT JOIN LATERAL (
    SELECT CASE WHEN l."timestamp" IS NOT NULL THEN count(DISTINCT v."column") END AS empty_columns
    FROM evmon.metric_values v
    WHERE v.project = p.name AND v.metric_type IN ('MissingValueCount', 'DriftNotComputed')
      AND v."timestamp" = l."timestamp" AND v.kind = 'daily'
      AND ((v.metric_type = 'MissingValueCount' AND v.value_kind = 'share' AND v.value = 1)
           OR (v.metric_type = 'DriftNotComputed' AND v.params->>'reason' = 'no_current_values'))) e ON true
LEFT JOIN LATERAL (
    SELECT x.* FROM (
        (SELECT v."timestamp", v.metric_type FROM evmon.metric_values v
         WHERE v.project = p.name AND v.metric_type = 'RocAuc' AND v.kind = 'daily' AND v.segment = 'default'
           AND v.value <> 'NaN' ORDER BY v."timestamp" DESC LIMIT 1)
        UNION ALL
        (SELECT v."timestamp", v.metric_type FROM evmon.metric_values v
         WHERE v.project = p.name AND v.metric_type = 'R2Score' AND v.kind = 'daily' AND v.segment = 'default'
           AND v.value <> 'NaN' ORDER BY v."timestamp" DESC LIMIT 1)
    ) x ORDER BY x."timestamp" DESC LIMIT 1) q ON true
LEFT JOIN LATERAL (
    SELECT array_agg(v.segment ORDER BY v.segment) AS segments, array_agg(v.value ORDER BY v.segment) AS values
    FROM evmon.metric_values v
    WHERE v.project = p.name AND v.metric_type = q.metric_type AND v."timestamp" = q."timestamp"
      AND v.kind = 'daily' AND v.segment IS NOT NULL AND v.value <> 'NaN') qv ON true
ORDER BY p.name
"""
# per project with estimation: the newest daily estimate of the headline metric (model-wide) and its bands: the
# empirical one (the default shown) as bound lower/upper, NannyML's +-3 sampling errors as nannyml_lower/_upper
_ESTIMATED = """
SELECT p.name, e.label,
       CASE e.value_kind WHEN 'empirical_lower' THEN 'lower' WHEN 'empirical_upper' THEN 'upper'
                         WHEN 'lower' THEN 'nannyml_lower' WHEN 'upper' THEN 'nannyml_upper'
                         ELSE e.value_kind END,
       e.value
FROM evmon.projects p
CROSS JOIN LATERAL (
    SELECT v."timestamp" FROM evmon.metric_values v
    WHERE v.project = p.name AND v.metric_type = 'EstimatedQuality' AND v.kind = 'daily' AND v.segment = 'default'
      AND v.value_kind = 'estimate' AND v.label IN ('roc_auc', 'mae')
    ORDER BY v."timestamp" DESC LIMIT 1) t
JOIN LATERAL (
    SELECT v.label, v.value_kind, v.value FROM evmon.metric_values v
    WHERE v.project = p.name AND v.metric_type = 'EstimatedQuality' AND v."timestamp" = t."timestamp"
      AND v.kind = 'daily' AND v.segment = 'default' AND v.label IN ('roc_auc', 'mae')
      AND v.value_kind IN ('estimate', 'lower', 'upper', 'empirical_lower', 'empirical_upper')) e ON true
ORDER BY 1, 2, 3
"""
_HELD = """
SELECT snapshot_id, file_size, file_mtime_ns FROM evmon.snapshots WHERE project_id = %s
UNION ALL
SELECT snapshot_id, file_size, file_mtime_ns FROM evmon.ingest_errors WHERE project_id = %s
"""


class SyncCounters:
    """What the bridge's syncs did, counted as they finish (`observe` is Bridge.run's on_result)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.syncs = Counter("evmon_bridge_syncs", "Syncs finished, by result", ["result"], registry=registry)
        for result in SYNC_RESULTS:
            self.syncs.labels(result)
        self.ingested = Counter("evmon_bridge_snapshots_ingested", "Snapshot files ingested", registry=registry)
        self.deleted = Counter(
            "evmon_bridge_snapshots_deleted", "Snapshots deleted (gone from the workspace)", registry=registry
        )
        self.failed = Counter(
            "evmon_bridge_snapshots_failed", "Snapshot files found unreadable (reported, skipped)", registry=registry
        )
        self.quarantined = Counter(
            "evmon_bridge_snapshots_quarantined", "Snapshot files moved to the quarantine", registry=registry
        )
        self.duration = Histogram(
            "evmon_bridge_sync_duration_seconds", "Duration of the syncs", buckets=SYNC_BUCKETS, registry=registry
        )
        self.last_sync = Gauge(
            "evmon_bridge_last_sync_timestamp_seconds", "When the last sync finished", registry=registry
        )
        self.in_step_since_ns: int | None = None  # start of the last finished sync that left nothing pending

    def observe(self, result: SyncResult) -> None:
        now_ns = time.time_ns()
        if result.busy:
            self.syncs.labels("busy").inc()
            return
        self.syncs.labels("ok" if result.ok else "unreadable").inc()
        self.ingested.inc(result.ingested)
        self.deleted.inc(result.deleted)
        self.failed.inc(len(result.failed))
        self.quarantined.inc(len(result.quarantined))
        self.duration.observe(result.duration_s)
        self.last_sync.set(now_ns / 1e9)
        if not result.pending:
            self.in_step_since_ns = now_ns - int(result.duration_s * 1e9)


class BridgeStateCollector(Collector):
    """Postgres's health and newest values, the lag, the quarantine: read at each scrape."""

    def __init__(
        self,
        config: EvmonConfig,
        workspace: Workspace,
        dsn: str,
        in_step_since_ns: Callable[[], int | None] = lambda: None,
        connect_timeout: int = 3,
        current_config: Callable[[], EvmonConfig] | None = None,
    ) -> None:
        self.config = config
        # projects.yaml as it is now (thresholds, which projects have labels): bridge/config_watch.py's current_config
        self.current_config = current_config or (lambda: config)
        self.workspace = workspace
        self.dsn = dsn
        self.in_step_since_ns = in_step_since_ns
        self.connect_timeout = connect_timeout
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(
                self.dsn,
                autocommit=True,
                connect_timeout=self.connect_timeout,
                application_name="evmon-bridge-metrics",
                options="-c default_transaction_read_only=on -c statement_timeout=5000",
            )
        return self._conn

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            yield from self._collect()

    def _collect(self) -> Iterator[Metric]:
        quarantined = GaugeMetricFamily("evmon_quarantined_files", "Snapshot files in the workspace's quarantine")
        quarantined.add_metric([], len(quarantine_fingerprint(self.workspace)))
        yield quarantined
        up = GaugeMetricFamily("evmon_bridge_postgres_up", "1 if the bridge's Postgres answers, else 0")
        try:
            conn = self._connection()
            conn.execute("SELECT 1")
        except psycopg.Error as exc:
            log.debug("metrics: Postgres does not answer: %s", exc)
            self._close()
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        config = self.current_config()
        try:
            newest = conn.execute(_NEWEST).fetchall()
            estimated = conn.execute(_ESTIMATED).fetchall()
            fairness, outliers = read_fairness_outliers(conn, without_labels(config))
            explanations = conn.execute(EXPLANATIONS_SQL).fetchall()
            owners = read_owners(conn)
            lag = self._lag(conn, {row[0] for row in newest})
        except psycopg.Error as exc:  # the schema not there yet (the first sync migrates it), a timeout
            log.debug("metrics: Postgres values not read: %s", exc)
            if isinstance(exc, psycopg.OperationalError):
                self._close()
            return
        yield from _newest_values(newest)
        yield _estimated_values(estimated)
        yield from fairness_values(fairness)
        yield from outlier_values(outliers)
        yield from explanation_values(explanations)
        yield from threshold_values(config)
        yield owner_info(owners)
        yield _project_gauge(
            "evmon_bridge_lag_seconds",
            "Seconds the oldest snapshot write Postgres does not hold yet has waited (0: in step)",
            sorted(lag.items()),
        )

    def _lag(self, conn: psycopg.Connection, in_postgres: set[str]) -> dict[str, float]:
        since = self.in_step_since_ns()
        if since is None:
            return {}
        names = in_postgres | {p.name for p in self.config.projects}
        now = time.time()
        lag: dict[str, float] = {}
        for name in sorted(names):
            pid = project_id(name)
            version = self._folder_version(pid)
            if version is None:
                continue  # not in the workspace (yet, or any more)
            if version < since - 1_000_000_000:
                lag[name] = 0.0
                continue
            held = {(r[0], r[1], r[2]) for r in conn.execute(_HELD, (pid, pid))}
            try:
                files = self.workspace.list_snapshots(pid)
            except OSError as exc:
                log.warning("metrics: the snapshots of %s were not listed: %s", name, exc)
                continue
            waiting = [f.mtime_ns for f in files if (f.snapshot_id, f.size, f.mtime_ns) not in held]
            lag[name] = max(0.0, now - min(waiting) / 1e9) if waiting else 0.0
        return lag

    def _folder_version(self, pid: uuid.UUID) -> int | None:
        """The snapshot folder's mtime (changed by every write, replacement, removal); 0: always look."""
        if not self.workspace.stores_files:  # snapshots in a database: no folder to look at
            return 0
        return self.workspace.listing_mark(pid)


def _finite(value: Any) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


def _project_gauge(name: str, doc: str, values: Iterable[tuple[str, Any]]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=["project"])
    for project, value in values:
        if (number := _finite(value)) is not None:
            family.add_metric([project], number)
    return family


def _newest_values(newest: list[tuple[Any, ...]]) -> Iterator[Metric]:
    """The gauges of _NEWEST's rows (one per project)."""
    columns = (
        (1, "evmon_project_newest_day_timestamp_seconds", "Timestamp of the newest daily snapshot in Postgres"),
        (2, "evmon_project_rows", "Rows of the newest daily snapshot"),
        (3, "evmon_project_drift_share", "Share of drifted columns of the newest daily snapshot"),
        (4, "evmon_project_drifted_columns", "Drifted columns of the newest daily snapshot"),
        (5, "evmon_project_drift_share_threshold", "The drift share from which Evidently calls the dataset drifted"),
        (6, "evmon_project_missing_share", "Share of missing cells of the newest daily snapshot"),
        (7, "evmon_project_empty_columns", "Monitored columns without any value in the newest daily snapshot"),
        (8, "evmon_project_quality_day_timestamp_seconds", "Timestamp of the newest labelled daily snapshot"),
    )
    for index, name, doc in columns:
        yield _project_gauge(name, doc, ((row[0], _number(row[index])) for row in newest))
    family = GaugeMetricFamily(
        "evmon_project_quality",
        "Headline quality of the newest labelled day: metric roc_auc (classifiers) or r2 (regressors); "
        f"segment {MODEL_WIDE} for the whole model, else column=value",
        labels=["project", "segment", "metric"],
    )
    for project, *_, metric_type, segments, values in newest:
        for segment, value in zip(segments or [], values or [], strict=True):
            if (number := _finite(value)) is not None:
                label = MODEL_WIDE if segment == "default" else segment
                family.add_metric([project, label, QUALITY_METRICS[metric_type]], number)
    yield family


def _estimated_values(rows: list[tuple[Any, ...]]) -> Metric:
    """The gauge of _ESTIMATED's rows: the newest day's estimate and band, per project with estimation."""
    family = GaugeMetricFamily(
        "evmon_project_estimated_quality",
        "Estimated headline quality of the newest daily snapshot, before its labels (CBPE: metric roc_auc; "
        "DLE: mae), model-wide; bound estimate, lower or upper (the empirical band), nannyml_lower or "
        "nannyml_upper (NannyML's +-3 sampling errors)",
        labels=["project", "metric", "bound"],
    )
    for project, metric, bound, value in rows:
        if (number := _finite(value)) is not None:
            family.add_metric([project, metric, bound], number)
    return family


def _number(value: Any) -> Any:
    return value.timestamp() if isinstance(value, datetime) else value


def bridge_registry(
    config: EvmonConfig, bridge: Bridge
) -> tuple[CollectorRegistry, SyncCounters, BridgeStateCollector]:
    """The bridge's own registry: its sync counters and its scrape-time state."""
    registry = new_registry("bridge")
    counters = SyncCounters(registry)
    state = BridgeStateCollector(
        config, bridge.workspace, bridge.dsn, lambda: counters.in_step_since_ns, current_config=current_config(config)
    )
    registry.register(state)
    return registry, counters, state


@contextlib.contextmanager
def serve_bridge_metrics(
    config: EvmonConfig, bridge: Bridge, port: int | None, host: str | None, echo: Callable[[str], None]
) -> Iterator[SyncCounters | None]:
    """/metrics of the bridge while the block runs, if a port is given or configured; else nothing."""
    address = metrics_address(config.metrics, "bridge", port, host)
    if address is None:
        yield None
        return
    registry, counters, state = bridge_registry(config, bridge)
    try:
        with MetricsServer(registry, address) as server:
            echo(f"metrics: {server.address.url}")
            yield counters
    finally:
        state.close()
