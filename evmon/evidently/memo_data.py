"""Classification work of Evidently 0.7.23 kept by the hash of its data, across Reports and days.

A day's ClassificationPreset derives the same things from the same rows again and again: each of
its legacy metrics (quality, confusion matrix, quality by class, ROC and PR curves, PR table...)
asks for the target and prediction of the current and of the reference data
(``get_target_prediction_data``, ``get_prediction_data``: a Python lambda per row), and the PR
table sorts and sums a Python list of every row. The reference side (a month of rows) is the same
every day, so most of that work is identical from one day to the next.

Within `evmon.evidently.memo.memoized()` these three pure functions are looked up first in one
per-process LRU cache (at most RESULTS_CACHE_BYTES of columns), keyed by a hash of exactly the
data they read (the target and prediction columns with their index and dtypes) and of their
other arguments; each caller gets
its own deep copy, so no caller can change another's result. Outside it Evidently runs as
shipped. Installed by `evmon.evidently.memo.install()`, for the tested Evidently versions only.
"""

from __future__ import annotations

import copy
import importlib
import threading
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import pandas as pd
from cachetools import LRUCache

from evmon.evidently.memo_keys import active, data_hash

RESULTS_CACHE_BYTES = 512 * 2**20  # the results' columns kept, at most (least recently used out first)


def _nbytes(result: Any) -> int:
    """About the memory of a result: its pandas columns (a PR table, a few hundred numbers, counts 1)."""
    parts = result if isinstance(result, tuple) else (result,)
    frames = [v for part in parts for v in (part, *getattr(part, "__dict__", {}).values())]
    sizes = [
        int(np.asarray(f.memory_usage(index=True)).sum()) for f in frames if isinstance(f, pd.Series | pd.DataFrame)
    ]
    return max(sum(sizes), 1)


_RESULTS: LRUCache[Hashable, Any] = LRUCache(maxsize=RESULTS_CACHE_BYTES, getsizeof=_nbytes)
_LOCK = threading.Lock()
ORIGINALS: dict[str, Callable[..., Any]] = {}
_MISSING = object()

_CALCULATIONS = "evidently.legacy.calculations.classification_performance"
# every module that imported get_prediction_data by name (Evidently 0.7.23)
_PREDICTION_USERS = [
    f"evidently.legacy.metrics.classification_performance.{name}"
    for name in (
        "base_classification_metric",
        "class_separation_metric",
        "lift_curve_metric",
        "lift_table_metric",
        "pr_curve_metric",
        "pr_table_metric",
        "probability_distribution_metric",
        "quality_by_feature_table",
        "roc_curve_metric",
    )
] + [
    "evidently.legacy.metrics.data_drift.target_by_features_table",
    "evidently.legacy.metrics.data_quality.dataset_correlations_metric",
]


def install() -> None:
    """Wrap the three functions (called once, under memo's install lock)."""
    calculations = importlib.import_module(_CALCULATIONS)
    base = importlib.import_module(_PREDICTION_USERS[0])
    pr_table = importlib.import_module(_PREDICTION_USERS[5])
    ORIGINALS["prediction"] = calculations.get_prediction_data
    for name in _PREDICTION_USERS:
        module = importlib.import_module(name)
        if getattr(module, "get_prediction_data", None) is ORIGINALS["prediction"]:
            setattr(module, "get_prediction_data", _prediction_data)  # noqa: B010  (a module's name, at runtime)
    setattr(calculations, "get_prediction_data", _prediction_data)  # noqa: B010  (a module's name, at runtime)
    ORIGINALS["target_prediction"] = base.ThresholdClassificationMetric.get_target_prediction_data
    base.ThresholdClassificationMetric.get_target_prediction_data = _target_prediction_data
    ORIGINALS["pr_table"] = pr_table.ClassificationPRTable.calculate_metrics
    pr_table.ClassificationPRTable.calculate_metrics = _pr_table


def kept(key: Hashable, compute: Callable[[], Any]) -> Any:
    """A deep copy of the cached result of `key`, computed first when missing (memo_summary's too)."""
    with _LOCK:
        hit = _RESULTS.get(key, _MISSING)
    if hit is _MISSING:
        hit = compute()
        if _nbytes(hit) <= RESULTS_CACHE_BYTES:  # a larger one is computed again each time
            with _LOCK:
                _RESULTS[key] = hit
    return copy.deepcopy(hit)


def _used_columns(data: pd.DataFrame, utility: Any) -> Hashable:
    """The hash of the target and prediction columns (what the three functions read) of `data`."""
    names = [utility.target] if utility.target is not None else []
    prediction = utility.prediction
    names += prediction if isinstance(prediction, list) else [prediction] if prediction is not None else []
    present = [n for n in names if n in data.columns]
    return (tuple(names), tuple(present), data_hash(data[present]) if present else len(data))


def _prediction_data(data: pd.DataFrame, data_columns: Any, pos_label: Any, threshold: float = 0.5) -> Any:
    original = ORIGINALS["prediction"]
    if not active():
        return original(data, data_columns, pos_label, threshold)
    key = ("prediction", _used_columns(data, data_columns.utility_columns), repr(pos_label), repr(threshold))
    return kept(key, lambda: original(data, data_columns, pos_label, threshold))


def _target_prediction_data(metric: Any, data: pd.DataFrame, column_mapping: Any) -> Any:
    original = ORIGINALS["target_prediction"]
    if not active():
        return original(metric, data, column_mapping)
    from evidently.legacy.utils.data_operations import process_columns

    utility = process_columns(data, column_mapping).utility_columns
    key = (
        "target_prediction",
        repr(column_mapping),
        repr((metric.probas_threshold, metric.k)),
        _used_columns(data, utility),
    )
    return kept(key, lambda: original(metric, data, column_mapping))


def _pr_table(metric: Any, target_data: pd.Series, prediction: Any) -> Any:
    original = ORIGINALS["pr_table"]
    if not active():
        return original(metric, target_data, prediction)
    key = (
        "pr_table",
        type(metric).__qualname__,
        repr(prediction.labels),
        data_hash(target_data),
        data_hash(prediction.prediction_probas),
    )
    return kept(key, lambda: original(metric, target_data, prediction))
