"""Two pure computations inside Evidently 0.7.23 done once instead of again and again.

A daily Report asks Evidently for the same results many times over:
- the histogram of a numerical column against the reference (``get_distribution_for_column``)
  is computed for each statistic of the column (min, max, mean, std, every quantile): about
  six times per column and Report, on the ~300k rows of current + reference;
- the reference's classification quality (``calculate_metrics``: scores, ROC rates) is the
  same every day, yet computed again in every day's Report.

Both are pure functions of their inputs. Within `memoized()` (evmon.evidently.report runs each of
its Reports in it) the histogram is cached for that one Report, keyed by the memory the
columns live in, and the quality for the process (a small LRU cache), keyed by a hash of the data.
Everywhere else in the process (another thread, the benchmark's naive loop) Evidently runs
as shipped. Snapshots come out equal with and without it (tests/evidently/test_memo.py).
install() also puts in place the same kind of wrappers of its sibling modules: memo_figures (a
column's histogram and drift-line figures built once per Report, not once per widget), memo_data
(the classification metrics' target and prediction, and the PR table), memo_curves (confusion
matrices, class reports, ROC and PR curves, ROC AUC), memo_summary (the dataset summary's
statistics) and memo_statistics (each column's min, max, mean, std, quantiles), all kept across days
by their data's content (memo_keys: the reference's the same every day); memo_bins (Doane's bins and
the reference's histogram from its kept moments and sorted values) and memo_drift (each drift test once
per Report, the Wasserstein drift with the reference's sorted values kept).
tests/evidently/test_memo_whole_day.py compares whole days' snapshots with and without them all, byte for byte.
It wraps Evidently's internal names, so it is on only for the Evidently versions
that test covers (evmon.evidently.TESTED_VERSIONS); on any other, `memoized()` does nothing but
say so once in the log, and the Reports run as Evidently ships them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from cachetools import LRUCache

from evmon.evidently import (
    evidently_version,
    memo_bins,
    memo_curves,
    memo_data,
    memo_drift,
    memo_figures,
    memo_statistics,
    memo_summary,
    tested,
)
from evmon.evidently.memo_keys import ACTIVE, active, data_hash

log = logging.getLogger(__name__)

QUALITY_CACHE_SIZE = 16

_QUALITY: LRUCache[Hashable, Any] = LRUCache(maxsize=QUALITY_CACHE_SIZE)
_QUALITY_LOCK = threading.Lock()
_INSTALL_LOCK = threading.Lock()
_ORIGINALS: dict[str, Callable[..., Any]] = {}
_WARNED: list[bool] = []  # the one log line of an untested Evidently, said once per process
_COPIED = object()


@contextmanager
def memoized() -> Iterator[None]:
    """Run the enclosed Evidently Report with the memoized computations (a tested Evidently only)."""
    if not install():
        yield
        return
    token = ACTIVE.set({})
    try:
        yield
    finally:
        ACTIVE.reset(token)


def install() -> bool:
    """Put the wrappers in place of Evidently's two functions (once per process); False if it stays off."""
    with _INSTALL_LOCK:
        if _ORIGINALS:
            return True
        if not tested():
            if not _WARNED:
                _WARNED.append(True)
                log.warning(
                    "evidently %s is not a version evmon's memo was tested with; "
                    "Reports run as Evidently ships them (correct, slower)",
                    evidently_version(),
                )
            return False
        import evidently.legacy.metrics.classification_performance.classification_quality_metric as quality_module
        import evidently.metrics.column_statistics as statistics_module

        memo_bins.install()  # first: the histograms this memo keeps per Report are computed by it
        _ORIGINALS["distribution"] = statistics_module.get_distribution_for_column
        _ORIGINALS["quality"] = quality_module.calculate_metrics
        statistics_module.get_distribution_for_column = _distribution
        quality_module.calculate_metrics = _quality
        memo_figures.install()
        memo_data.install()
        memo_drift.install()
        memo_summary.install()
        memo_curves.install()
        memo_statistics.install()
        return True


def _memory_key(series: pd.Series | None, keep: list[np.ndarray]) -> Hashable:
    """Where the column's values live: equal keys mean the very same bytes."""
    if series is None:
        return None
    values = series.to_numpy()
    if values.flags.owndata:
        return _COPIED  # a copy made for this call: nothing to share, and not worth keeping
    keep.append(values)
    interface = values.__array_interface__
    return (interface["data"][0], values.shape, interface["strides"], values.dtype.str)


def _distribution(*, column_type: str, current: pd.Series, reference: pd.Series | None = None, bins: Any = None) -> Any:
    original = _ORIGINALS["distribution"]
    histograms = ACTIVE.get()
    if histograms is None or bins is not None:
        return original(column_type=column_type, current=current, reference=reference, bins=bins)
    keep: list[np.ndarray] = []
    key = (column_type, _memory_key(current, keep), _memory_key(reference, keep))
    if _COPIED in key:
        return original(column_type=column_type, current=current, reference=reference)
    hit = histograms.get(key)
    if hit is None:
        hit = (original(column_type=column_type, current=current, reference=reference), keep)
        histograms[key] = hit
    return hit[0]


def _quality(column_mapping: Any, confusion_matrix: Any, target: pd.Series, prediction: Any) -> Any:
    original = _ORIGINALS["quality"]
    if not active():
        return original(column_mapping, confusion_matrix, target, prediction)
    key = (
        repr(column_mapping),
        repr(confusion_matrix.labels),
        repr(confusion_matrix.values),
        repr(prediction.labels),
        data_hash(target),
        data_hash(prediction.predictions),
        data_hash(prediction.prediction_probas),
    )
    with _QUALITY_LOCK:
        if key in _QUALITY:
            return _QUALITY[key]
    result = original(column_mapping, confusion_matrix, target, prediction)
    with _QUALITY_LOCK:
        _QUALITY[key] = result
    return result
