"""Evidently 0.7.23's joint histograms of a numerical column, with the reference's side kept across days.

Every histogram of a column against the reference (the summary's, and the drift's three per
column: the column's drift, the drift table, the dataset drift) goes through Evidently's
``get_distribution_for_column``: Doane's bins of the current and reference values together
(``histogram_bin_edges_doane``: the mean of the cubed standardised values, one libm ``pow`` per
row of a month of reference rows) and then the reference's histogram with those bins (``np.histogram``
with an array of edges: a sort of the reference). Measured on a warm 10,000-row day: a quarter of it.

Within `evmon.evidently.memo.memoized()` this module gives the same bins and counts from the
reference's moments and sorted values, computed once per process (a small LRU cache keyed by the
reference's values, memo_keys.values_key):
- the bins: Doane's number of bins is ``ceil(D)`` of a real number D of the skewness; D comes
  from the moments of the two parts combined (Chan et al.), exact to ~1e-12, so when D is farther
  than 1e-6 from an integer, ``ceil`` is the same and the edges are made by the same
  ``np.linspace`` call on the same minimum and maximum (of the joined values, as Evidently takes
  them); nearer than that, or for anything but plain float64 values, Evidently computes them;
- the reference's counts: ``np.histogram`` with array edges counts by searching the edges in sorted
  blocks of the values; searching them in the whole sorted reference gives the same integers.
The current's histogram is Evidently's own. Installed by `evmon.evidently.memo.install()` before
the memo captures the function, so the memo's per-Report cache calls this.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from cachetools import LRUCache

from evmon.evidently.memo_keys import active, values_key

REFERENCES_CACHE_BYTES = 256 * 2**20  # the sorted columns kept, at most (least recently used out first)
_NEAR_INTEGER = 1e-6  # D nearer an integer than this: Evidently's own bins (ceil could go either way)
_VISUALIZATIONS = "evidently.legacy.utils.visualizations"
# the modules that call it by a name of their own (Evidently 0.7.23), besides its own module
_USERS = ("evidently.legacy.calculations.data_drift", "evidently.metrics.column_statistics")


class _Part(NamedTuple):
    """One side's values as Doane's bins need them: count, mean, sums of squared and cubed deviations."""

    size: int
    mean: float
    m2: float
    m3: float


class _Kept(NamedTuple):
    part: _Part
    sorted_values: np.ndarray


_REFERENCES: LRUCache[Hashable, _Kept] = LRUCache(
    maxsize=REFERENCES_CACHE_BYTES, getsizeof=lambda kept: max(int(kept.sorted_values.nbytes), 1)
)
_LOCK = threading.Lock()
ORIGINALS: dict[str, Callable[..., Any]] = {}


def install() -> None:
    """Put the wrapper in place of every name of the function (once, under memo's install lock)."""
    visualizations = importlib.import_module(_VISUALIZATIONS)
    ORIGINALS["distribution"] = visualizations.get_distribution_for_column
    for name in (_VISUALIZATIONS, *_USERS):
        module = importlib.import_module(name)
        if getattr(module, "get_distribution_for_column", None) is ORIGINALS["distribution"]:
            setattr(module, "get_distribution_for_column", _distribution)  # noqa: B010  (a module's name, at runtime)


def _part(values: np.ndarray) -> _Part:
    mean = float(np.mean(values))
    deviations = values - mean
    squares = deviations * deviations
    return _Part(values.size, mean, float(np.sum(squares)), float(np.sum(squares * deviations)))


def _joined(a: _Part, b: _Part) -> _Part:
    """The moments of a and b's values together (Chan, Golub and LeVeque; Pébay for the third)."""
    size = a.size + b.size
    delta = b.mean - a.mean
    m2 = a.m2 + b.m2 + delta * delta * a.size * b.size / size
    m3 = (
        a.m3
        + b.m3
        + delta**3 * a.size * b.size * (a.size - b.size) / size**2
        + 3.0 * delta * (a.size * b.m2 - b.size * a.m2) / size
    )
    return _Part(size, a.mean + delta * b.size / size, m2, m3)


def _reference(values: np.ndarray) -> _Kept:
    values = np.ascontiguousarray(values)
    key = values_key(values)
    with _LOCK:
        hit = _REFERENCES.get(key)
    if hit is None:
        hit = _Kept(_part(values), np.sort(values))
        if hit.sorted_values.nbytes <= REFERENCES_CACHE_BYTES:
            with _LOCK:
                _REFERENCES[key] = hit
    return hit


def _doane_bins(current: np.ndarray, reference: np.ndarray, kept: _Kept) -> np.ndarray | None:
    """Evidently's histogram_bin_edges_doane of the joined values, or None where it must compute them."""
    visualizations = importlib.import_module(_VISUALIZATIONS)
    joined = np.concatenate((current, reference))  # the values as Evidently joins them (pd.concat)
    first_edge, last_edge = joined.min(), joined.max()
    if not (np.isfinite(first_edge) and np.isfinite(last_edge)) or first_edge == last_edge or joined.size <= 2:
        return None
    both = _joined(_part(current), kept.part) if current.size else kept.part
    variance = both.m2 / both.size
    if not variance > 1e-300:
        return None
    skewness = (both.m3 / both.size) / variance**1.5
    sg1 = np.sqrt(6.0 * (joined.size - 2) / ((joined.size + 1.0) * (joined.size + 3)))
    spread = visualizations._unsigned_subtract(last_edge, first_edge)
    width = spread / (1.0 + np.log2(joined.size) + np.log2(1.0 + np.absolute(skewness) / sg1))
    bins = spread / width
    if not np.isfinite(bins) or abs(bins - np.round(bins)) < _NEAR_INTEGER:
        return None
    n_equal_bins = int(np.ceil(bins))
    bin_type = np.result_type(first_edge, last_edge, joined)
    edges = np.linspace(first_edge, last_edge, n_equal_bins + 1, endpoint=True, dtype=bin_type)
    if np.any(edges[:-1] >= edges[1:]):
        return None
    return edges


def _distribution(*, column_type: str, current: pd.Series, reference: pd.Series | None = None, bins: Any = None) -> Any:
    original = ORIGINALS["distribution"]
    if not active() or column_type != "num" or reference is None or bins is not None:
        return original(column_type=column_type, current=current, reference=reference, bins=bins)
    if current.dtype != np.float64 or reference.dtype != np.float64:
        return original(column_type=column_type, current=current, reference=reference)
    current_values = current.dropna().to_numpy()
    reference_values = reference.dropna().to_numpy()
    if not reference_values.size:
        return original(column_type=column_type, current=current, reference=reference)
    kept = _reference(reference_values)
    edges = _doane_bins(current_values, reference_values, kept)
    if edges is None:
        return original(column_type=column_type, current=current, reference=reference)
    visualizations = importlib.import_module(_VISUALIZATIONS)
    # np.histogram(reference, edges) sums numpy's _search_sorted_inclusive over sorted blocks of the
    # values; over the whole sorted reference it is the same integers (NaNs, sorted last, count nowhere)
    cumulative = np.concatenate(
        (kept.sorted_values.searchsorted(edges[:-1], "left"), kept.sorted_values.searchsorted(edges[-1:], "right"))
    )
    counts = np.diff(cumulative)
    reference_distribution = visualizations.Distribution(x=edges, y=counts)
    current_distribution = visualizations.get_distribution_for_numerical_column(current, edges)
    return current_distribution, reference_distribution
