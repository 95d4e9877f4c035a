"""PSI as Evidently 0.7.23 computes it, in numpy alone: the live service never imports Evidently.

Evidently's PSI (evidently/legacy/calculations/stattests/psi.py, get_binned_data in utils.py):
- both samples without NaN and infinite values (its data drift drops them first);
- a numerical column whose reference holds more than 20 distinct values: bins over BOTH samples
  together, `np.histogram_bin_edges(reference + current, bins="sturges")` (equal widths from the
  smallest to the largest value, ceil(log2(n) + 1) of them), each sample's share per bin;
- any other column: each distinct value of either sample is a bin;
- a share of 0 becomes 1e-4 (or the smallest non-zero share / 1e6 when that is below 1e-4);
- PSI = sum((ref - cur) * ln(ref / cur)); drift when PSI >= the threshold.

The bins depend on the current sample, so what is computed once is the reference's side: its values
sorted (a bin's reference count is then two binary searches, as numpy's histogram counts with explicit
edges) or its value counts. The same edges, counts and sums in the same order: equal to Evidently's
value up to the order of a float sum over categories (a set's order); tests/online/test_psi.py checks
1e-9.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

DISTINCT_FOR_BINS = 20  # Evidently bins a numerical column when its reference has more distinct values


@dataclass(frozen=True)
class ColumnReference:
    """One column's reference, prepared once: sorted finite values (binned) or value counts."""

    column: str
    kind: Literal["num", "cat"]
    threshold: float
    size: int  # the reference's values without NaN (and without infinite values)
    sorted_values: np.ndarray | None  # binned numerical columns
    counts: dict[Hashable, int] | None  # every other column

    @property
    def binned(self) -> bool:
        return self.sorted_values is not None


def column_reference(column: str, kind: Literal["num", "cat"], values: pd.Series, threshold: float) -> ColumnReference:
    """The reference of one column as Evidently's PSI uses it."""
    if kind == "num":
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        clean = numbers[np.isfinite(numbers)]
        if pd.Series(clean).nunique() > DISTINCT_FOR_BINS:
            return ColumnReference(column, kind, threshold, clean.size, np.sort(clean), None)
        counts = Counter(clean.tolist())
    else:
        kept = values.replace([np.inf, -np.inf], np.nan).dropna()
        counts = Counter(kept.tolist())
    return ColumnReference(column, kind, threshold, sum(counts.values()), None, dict(counts))


def current_values(reference: ColumnReference, values: np.ndarray) -> np.ndarray:
    """The values Evidently would compare: without NaN, None and infinite values."""
    if reference.kind == "num":
        numbers = values.astype(float, copy=False)
        return numbers[np.isfinite(numbers)]
    return np.asarray([v for v in values if v is not None and v == v], dtype=object)


def psi(reference: ColumnReference, current: np.ndarray) -> float | None:
    """Evidently's PSI of `current` (cleaned by current_values) against the reference; None if either is empty."""
    if reference.size == 0 or current.size == 0:
        return None
    if reference.sorted_values is not None:
        ref_share, cur_share = _binned_shares(reference.sorted_values, current)
    else:
        ref_share, cur_share = _value_shares(reference.counts or {}, reference.size, current)
    _fill_zeroes(ref_share)
    _fill_zeroes(cur_share)
    return float(np.sum((ref_share - cur_share) * np.log(ref_share / cur_share)))


def sturges_edges(sorted_reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """np.histogram_bin_edges(reference + current, bins="sturges"), from the reference's ends and the current sample."""
    first = min(sorted_reference[0], current.min())
    last = max(sorted_reference[-1], current.max())
    ptp = last - first
    if first == last:
        first, last = first - 0.5, last + 0.5
    width = ptp / (np.log2(sorted_reference.size + current.size) + 1.0)
    bins = int(np.ceil((last - first) / width)) if width else 1
    return np.linspace(first, last, bins + 1, endpoint=True, dtype=np.result_type(first, last, current))


def _inclusive_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin as numpy's histogram counts with explicit edges (the last bin closed)."""
    cumulative = np.concatenate(
        (sorted_values.searchsorted(edges[:-1], "left"), sorted_values.searchsorted(edges[-1:], "right"))
    )
    return np.diff(cumulative)


def _binned_shares(sorted_reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = sturges_edges(sorted_reference, current)
    ref_counts = _inclusive_counts(sorted_reference, edges)
    cur_counts = _inclusive_counts(np.sort(current), edges)
    return ref_counts / sorted_reference.size, cur_counts / current.size


def _value_shares(counts: dict[Hashable, int], size: int, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    current_counts = Counter(current.tolist())
    keys = list(set(counts) | set(current_counts))
    ref_share = np.array([counts.get(key, 0) / size for key in keys])
    cur_share = np.array([current_counts.get(key, 0) / current.size for key in keys])
    return ref_share, cur_share


def _fill_zeroes(shares: np.ndarray) -> None:
    smallest = shares[shares != 0].min()
    np.place(shares, shares == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001)
