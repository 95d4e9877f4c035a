"""The monitor's Prometheus metrics: one set per registry, labelled by model (the project) and version.

What the service scored (`evmon_online_rows_total`, the score histogram), what was wrong with its
input (`evmon_online_feature_problems_total{feature, problem}`: missing, nan, mistyped,
unknown_category), the sliding window's drift (`evmon_online_psi{column}`,
`evmon_online_column_drifted`, `evmon_online_drifted_share`), and the row log (`..._rows_logged_total`,
`..._rows_dropped_total{reason}`, the time of the last write), and who owns the model
(`evmon_online_model_info{team}` = 1: the project's owner in projects.yaml, which the alert rules join).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

PROBABILITY_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 21))
LABELS = ("model", "version")
PROBLEMS = ("missing", "nan", "mistyped", "unknown_category")
DROP_REASONS = ("queue_full", "row_log", "monitor_error")


@dataclass(frozen=True)
class OnlineMetrics:
    rows: Counter
    scores: Histogram
    problems: Counter
    psi: Gauge
    drifted: Gauge
    drifted_share: Gauge
    window_rows: Gauge
    logged: Counter
    dropped: Counter
    last_logged: Gauge
    info: Gauge


# by the registry itself, held weakly: an id() could be a freed registry's, whose metrics a new one lacks
_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, OnlineMetrics] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def online_metrics(
    registry: CollectorRegistry = REGISTRY, buckets: Sequence[float] = PROBABILITY_BUCKETS
) -> OnlineMetrics:
    """The metrics registered in `registry` (once: every monitor of the process shares them)."""
    with _LOCK:
        found = _BY_REGISTRY.get(registry)
        if found is None:
            found = _BY_REGISTRY[registry] = _create(registry, buckets)
        return found


def _create(registry: CollectorRegistry, buckets: Sequence[float]) -> OnlineMetrics:
    p = "evmon_online_"
    return OnlineMetrics(
        rows=Counter(p + "rows", "Rows the service scored and the monitor observed", LABELS, registry=registry),
        scores=Histogram(
            p + "prediction_score", "The model's scores", LABELS, buckets=list(buckets), registry=registry
        ),
        problems=Counter(
            p + "feature_problems",
            "Input values the monitor found wrong: missing, nan, mistyped, unknown_category",
            (*LABELS, "feature", "problem"),
            registry=registry,
        ),
        psi=Gauge(p + "psi", "PSI of the sliding window against the reference", (*LABELS, "column"), registry=registry),
        drifted=Gauge(
            p + "column_drifted",
            "1 when the window's PSI is at or above the column's threshold",
            (*LABELS, "column"),
            registry=registry,
        ),
        drifted_share=Gauge(
            p + "drifted_share", "Share of the watched columns drifted in the window", LABELS, registry=registry
        ),
        window_rows=Gauge(p + "window_rows", "Rows in the sliding window", LABELS, registry=registry),
        logged=Counter(p + "rows_logged", "Rows written to the row log", LABELS, registry=registry),
        dropped=Counter(
            p + "rows_dropped",
            "Rows not logged (queue_full, row_log, monitor_error)",
            (*LABELS, "reason"),
            registry=registry,
        ),
        last_logged=Gauge(
            p + "last_logged_timestamp_seconds",
            "When the row log last wrote rows (Unix time)",
            LABELS,
            registry=registry,
        ),
        info=Gauge(
            p + "model_info",
            "1 per model and version: its owner (team, projects.yaml's owner), which the alerts are routed by",
            (*LABELS, "team"),
            registry=registry,
        ),
    )
