"""The compacted form of a snapshot (pure): only the results the UI's dashboard plots, no plots.

The UI parses every snapshot file into memory at start-up, and a 3.6 MB snapshot is mostly plot
payloads. An old daily snapshot is replaced by this form (its values unchanged, so the dashboard's
time series stay identical; its full original kept by the storage: evmon.storage.compaction).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evmon.snapshot.contract import compacted
from evmon.snapshot.flatten import short_type

# Kept when a project has no dashboard yet: the headline values every dashboard plots.
HEADLINE_TYPES = frozenset(
    {"DriftedColumnsCount", "ValueDrift", "RowCount", "DatasetMissingValueCount", "MissingValueCount"}
    | {"MissingCellsShare", "EstimatedQuality", "FairnessValue"}
    | {"OutRangeValueCount", "OutListValueCount", "MultivariateOutlierCount"}
    | {"AttributionNdcg", "FeatureAttribution"}
    | {"Accuracy", "Precision", "Recall", "F1Score", "RocAuc"}
    | {"MAE", "RMSE", "MeanError", "MAPE", "R2Score", "AbsMaxError"}
)


def dashboard_metric_types(dashboard: Mapping[str, Any] | None) -> frozenset[str]:
    """The short metric types a dashboard's panels plot (HEADLINE_TYPES without one)."""
    if not dashboard:
        return HEADLINE_TYPES
    types = {
        short_type(str(value.get("metric", "")))
        for panel in dashboard.get("panels", [])
        for value in panel.get("values", []) or []
        if isinstance(value, Mapping)
    }
    types.discard("")
    return frozenset(types) if types else HEADLINE_TYPES


def compacted_snapshot(full: Mapping[str, Any], keep_types: frozenset[str]) -> dict[str, Any]:
    """The compacted form of a full snapshot: kept results without widgets, no widgets, marked compacted."""
    results = {
        metric_id: _without_widgets(result)
        for metric_id, result in full.get("metric_results", {}).items()
        if short_type(str(result.get("metric_value_location", {}).get("metric", {}).get("params", {}).get("type", "")))
        in keep_types
    }
    return {
        **compacted(full),
        "metric_results": results,
        "top_level_metrics": [m for m in full.get("top_level_metrics", []) if m in results],
        "widgets": [],
        "tests_widgets": [],
    }


def _without_widgets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ([] if k == "widget" else _without_widgets(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_widgets(v) for v in value]
    return value
