"""Evidently 0.7.23's normed Wasserstein drift, with the reference's sorted values kept across days.

Each numerical column's drift (the default test above 1,000 reference rows) calls scipy's
``wasserstein_distance(reference, current)`` about three times per Report (the column's drift,
the drift table, the dataset drift) and divides it by the reference's std. scipy sorts the
reference (a month of rows) each time, and then sorts reference and current together: most of the
test's cost, and the reference side is the same every day.

Within `evmon.evidently.memo.memoized()` this module runs the same steps as scipy 1.x's
``_cdf_distance(1, u, v)`` on the same arrays, with the reference's sorted values and its std
looked up in a small per-process cache (keyed by a hash of its values) and the joint sort made
from the two sorted halves: the sorted joint array is the same values in the same order, so every
array after it, and the float sum, are the same bits. Where that could fail to hold (a NaN, a
negative zero) or the inputs are not plain float arrays, scipy runs as shipped.

Each column's drift is also asked for three times per Report (the column's drift, the drift table,
the dataset drift), with the same columns, test and threshold: within `memoized()` the result of
each of the pure tests in ONCE_PER_REPORT is kept for the rest of that Report, keyed by a hash of
the two columns' values, the test, the column type and the threshold. Installed by
`evmon.evidently.memo.install()`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import pandas as pd
from cachetools import LRUCache

from evmon.evidently.memo_keys import ACTIVE, active, values_key

REFERENCES_CACHE_BYTES = 256 * 2**20  # the sorted columns kept, at most (least recently used out first)

_REFERENCES: LRUCache[Hashable, tuple[np.ndarray, float]] = LRUCache(
    maxsize=REFERENCES_CACHE_BYTES, getsizeof=lambda kept: max(int(kept[0].nbytes), 1)
)
_LOCK = threading.Lock()
ORIGINALS: dict[str, Callable[..., Any]] = {}
_WRAPPERS: list[Any] = []
# the tests whose result is a function of the two columns' values, the column type and the threshold only
ONCE_PER_REPORT = frozenset({"wasserstein", "psi", "jensenshannon", "ks", "chisquare", "z"})


def install() -> None:
    """Put the cached version in the stat-test registry's Python implementation (once, under memo's lock)."""
    from evidently.legacy.calculations.stattests import registry
    from evidently.legacy.calculations.stattests.wasserstein_distance_norm import wasserstein_stat_test

    wrapper = registry._impls[wasserstein_stat_test][registry.PythonEngine]
    ORIGINALS["wasserstein"] = wrapper.func
    wrapper.func = _wasserstein_distance_norm
    _WRAPPERS.append(wrapper)
    for test, engines in registry._impls.items():
        impl = engines.get(registry.PythonEngine)
        if test.name in ONCE_PER_REPORT and isinstance(impl, registry.PythonStatTestWrapper):
            impl.func = _once_per_report(test.name, impl.func)


def _values_key(data: pd.Series) -> Hashable | None:
    """The values of a numerical column (not its index: a test reads values only); None: not kept.

    A column of strings is not kept: keying its values costs about what its test does.
    """
    dtype = getattr(data, "dtype", None)
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biuf" or data.ndim != 1:
        return None
    return values_key(np.asarray(data))


def _once_per_report(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` (a stat test's Python implementation), its result kept for the rest of the running Report."""

    def kept(reference_data: pd.Series, current_data: pd.Series, feature_type: Any, threshold: float) -> Any:
        memo = ACTIVE.get()
        if memo is None:
            return func(reference_data, current_data, feature_type, threshold)
        reference_key, current_key = _values_key(reference_data), _values_key(current_data)
        if reference_key is None or current_key is None:
            return func(reference_data, current_data, feature_type, threshold)
        key = ("stattest", name, repr(feature_type), repr(threshold), reference_key, current_key)
        hit = memo.get(key)
        if hit is None:
            hit = (func(reference_data, current_data, feature_type, threshold), [])
            memo[key] = hit
        return hit[0]

    kept.__wrapped__ = func  # type: ignore[attr-defined]
    return kept


def _plain(values: np.ndarray) -> bool:
    """No NaN and no negative zero: sorted arrays of these values have one order only."""
    return not bool(np.isnan(values).any()) and not bool((np.signbit(values) & (values == 0)).any())


def _reference(values: np.ndarray, reference_data: pd.Series) -> tuple[np.ndarray, float] | None:
    """The reference's values sorted as scipy sorts them, and its normaliser; None: not plain."""
    key = (str(reference_data.dtype), values_key(values))
    with _LOCK:
        hit = _REFERENCES.get(key)
    if hit is not None:
        return hit
    if not _plain(values):
        return None
    # Evidently's normaliser, of the Series as Evidently takes it (a function of its values)
    hit = (values[np.argsort(values)], max(float(np.std(reference_data)), 0.001))
    if hit[0].nbytes <= REFERENCES_CACHE_BYTES:  # a larger column is sorted again each time
        with _LOCK:
            _REFERENCES[key] = hit
    return hit


def _merged(u_sorted: np.ndarray, v_sorted: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """scipy's joint sort of u and v and its two searchsorted counts, from the sorted halves in linear time.

    scipy: ``all = sort(concatenate(u, v))``, ``u_sorted.searchsorted(all[:-1], "right")`` and the same
    for v: how many of u (of v) are <= each value but the last. Merged here instead: each v goes after
    the u's <= it (equal values are equal bits: no NaN, no negative zero), and a value's counts are
    those at the end of its run of equal values. The same integers, so the same floats after them.
    """
    size = u_sorted.size + v_sorted.size
    v_places = u_sorted.searchsorted(v_sorted, "right") + np.arange(v_sorted.size)
    from_v = np.zeros(size, dtype=bool)
    from_v[v_places] = True
    all_values = np.empty(size, dtype=np.result_type(u_sorted, v_sorted))
    all_values[v_places] = v_sorted
    all_values[~from_v] = u_sorted
    v_seen = np.cumsum(from_v)
    u_seen = np.arange(1, size + 1) - v_seen
    run_ends = np.flatnonzero(np.append(all_values[1:] != all_values[:-1], True))
    run_end = np.repeat(run_ends, np.diff(run_ends, prepend=-1))  # each place's last place of its run
    ends = run_end[:-1]
    return all_values, u_seen[ends], v_seen[ends]


def _wasserstein_distance_norm(
    reference_data: pd.Series, current_data: pd.Series, feature_type: Any, threshold: float
) -> tuple[float, bool]:
    original = ORIGINALS["wasserstein"]
    if not active():
        return original(reference_data, current_data, feature_type, threshold)
    u_values = np.asarray(reference_data, dtype=float)
    v_values = np.asarray(current_data, dtype=float)
    if u_values.ndim != 1 or v_values.ndim != 1 or not u_values.size or not v_values.size:
        return original(reference_data, current_data, feature_type, threshold)
    reference = _reference(u_values, reference_data)
    if reference is None or not _plain(v_values):
        return original(reference_data, current_data, feature_type, threshold)
    u_sorted, norm = reference
    from scipy._lib._util import np_vecdot

    # scipy.stats._stats_py._cdf_distance(1, u_values, v_values), u's sorting looked up
    v_sorted = v_values[np.argsort(v_values)]
    all_values, u_counts, v_counts = _merged(u_sorted, v_sorted)
    deltas = np.diff(all_values)
    u_cdf = u_counts / u_values.size
    v_cdf = v_counts / v_values.size
    wd_norm_value = np_vecdot(np.abs(u_cdf - v_cdf), deltas) / norm
    return wd_norm_value, wd_norm_value >= threshold
