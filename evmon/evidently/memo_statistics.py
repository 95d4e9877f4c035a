"""A column's statistics in Evidently 0.7.23 kept by its values, across days: the reference's once per process.

A day's DataSummaryPreset asks, for every numerical column, its minimum, maximum, mean, standard
deviation, median and quantiles, of the current rows and again of the reference's (a month of
rows, the same every day): ``StatisticsCalculation.calculate_value`` of each statistic's metric,
a pandas reduction or quantile (a partition of every row). Measured on a warm 10,000-row day,
after the other wrappers: about a tenth of it, nearly all on the reference.

Within `evmon.evidently.memo.memoized()` each of these pure statistics is looked up first in a small
per-process cache, keyed by the statistic (its class, its quantile) and exactly the values it
reads (memo_keys.series_key: the column's dtype and bytes); the value is a number, the same object
each time. Outside it Evidently runs as shipped. Installed by `evmon.evidently.memo.install()`.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Hashable
from typing import Any

from cachetools import LRUCache

from evmon.evidently.memo_keys import active, series_key

VALUES_CACHE_SIZE = 4096  # statistics kept, at most (least recently used out first)
# the statistics whose value is a function of the column's values and the metric's quantile only
PURE = ("Min", "Mean", "Max", "Std", "Median", "Quantile", "Sum")

_VALUES: LRUCache[Hashable, Any] = LRUCache(maxsize=VALUES_CACHE_SIZE)
_LOCK = threading.Lock()
_MISSING = object()
ORIGINALS: dict[str, Callable[..., Any]] = {}


def install() -> None:
    """Wrap each pure statistic's calculate_value (called once, under memo's install lock)."""
    statistics = importlib.import_module("evidently.metrics.column_statistics")
    for name in PURE:
        calculation = getattr(statistics, f"{name}ValueCalculation")
        ORIGINALS[name] = calculation.calculate_value
        calculation.calculate_value = _kept(name)


def _kept(name: str) -> Callable[..., Any]:
    def calculate(calculation: Any, column: Any) -> Any:
        calculate_value = ORIGINALS[name]
        if not active():
            return calculate_value(calculation, column)
        key = (name, repr(getattr(calculation.metric, "quantile", None)), series_key(column.data))
        with _LOCK:
            value = _VALUES.get(key, _MISSING)
        if value is _MISSING:
            value = calculate_value(calculation, column)
            with _LOCK:
                _VALUES[key] = value
        return value

    return calculate
