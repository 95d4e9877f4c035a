"""The data summary's dataset statistics of Evidently 0.7.23 kept by the hash of their data, across days.

A day's DataSummaryPreset renders Evidently's legacy DatasetSummaryMetric, which computes the same
statistics of the current and of the reference frame (``_calculate_dataset_common_stats``: missing
values, empty, constant, almost constant, duplicated and almost duplicated columns, duplicated
rows, each column's number of distinct values). The reference is a month of rows and the same
every day, so its half of the work is identical from one day to the next.

Within `evmon.evidently.memo.memoized()` the statistics of a frame are looked up first in memo_data's
per-process results cache, keyed by a hash of exactly the frame they read (its values, index,
names and dtypes), the column mapping and the metric's thresholds; each caller gets its own deep
copy. Outside it Evidently runs as shipped. Installed by `evmon.evidently.memo.install()`, for the
tested Evidently versions only.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pandas as pd

from evmon.evidently.memo_data import kept
from evmon.evidently.memo_keys import active, data_hash

ORIGINALS: dict[str, Callable[..., Any]] = {}
_SUMMARY = "evidently.legacy.metrics.data_integrity.dataset_summary_metric"


def install() -> None:
    """Wrap the summary's statistics of one frame (called once, under memo's install lock)."""
    summary = importlib.import_module(_SUMMARY)
    ORIGINALS["common_stats"] = summary.DatasetSummaryMetric._calculate_dataset_common_stats
    summary.DatasetSummaryMetric._calculate_dataset_common_stats = _common_stats


def _common_stats(metric: Any, dataset: pd.DataFrame, column_mapping: Any) -> Any:
    original = ORIGINALS["common_stats"]
    if not active():
        return original(metric, dataset, column_mapping)
    key = (
        "dataset_summary",
        repr(column_mapping),
        repr((metric.almost_duplicated_threshold, metric.almost_constant_threshold)),
        data_hash(dataset),
    )
    return kept(key, lambda: original(metric, dataset, column_mapping))
