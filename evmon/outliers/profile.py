"""What the reference holds, per column: a numerical column's range, a categorical column's values.

The range is the reference's quantiles (pandas' linear interpolation) or its min and max; a value
is outside it when it is below the low bound or above the high one (bounds inclusive, as
Evidently's OutRangeValueCount counts). A category is new when it is not missing and never
occurs in the reference. Missing values are neither: the missing-values metrics count them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evmon.config.outliers import Outliers

# above this many distinct reference values a column's list would weigh on every snapshot (the
# list is the metric's parameter): such a column's new categories are not counted
MAX_LISTED_CATEGORIES = 1000

Category = str | int | bool


@dataclass(frozen=True)
class ColumnRange:
    column: str
    low: float
    high: float


@dataclass(frozen=True)
class ColumnCategories:
    column: str
    values: tuple[Category, ...]  # sorted by their text, so the same reference gives the same list


@dataclass(frozen=True)
class ReferenceProfile:
    ranges: tuple[ColumnRange, ...]
    categories: tuple[ColumnCategories, ...]
    notes: tuple[str, ...]  # what the reference lets evmon not count, or count oddly; logged every day
    missing: frozenset[str]  # categorical columns with missing values in the reference


def reference_profile(
    reference: pd.DataFrame, numerical: list[str], categorical: list[str], settings: Outliers
) -> ReferenceProfile:
    """The ranges and category lists of the watched columns, from the reference (infinite values as missing)."""
    notes: list[str] = []
    ranges = []
    for column in numerical:
        values = pd.to_numeric(reference[column], errors="coerce").dropna()
        if values.empty:
            notes.append(f"outliers of {column!r} not counted: no value in the reference (all missing)")
            continue
        low, high = value_range(values, settings)
        if low == high:
            notes.append(
                f"{column!r} has one value in the reference ({low:g}): any other value counts as outside its range"
            )
        ranges.append(ColumnRange(column, low, high))
    categories = []
    for column in categorical:
        listed = category_list(reference[column])
        if isinstance(listed, str):
            notes.append(f"new categories of {column!r} not counted: {listed}")
            continue
        categories.append(ColumnCategories(column, listed))
    missing = frozenset(c for c in categorical if reference[c].isna().any())
    return ReferenceProfile(tuple(ranges), tuple(categories), tuple(notes), missing)


def value_range(values: pd.Series, settings: Outliers) -> tuple[float, float]:
    """The reference's range of one column's (non-missing) values."""
    if settings.range == "minmax":
        return float(values.min()), float(values.max())
    low, high = settings.quantiles
    return float(values.quantile(low)), float(values.quantile(high))


def category_list(values: pd.Series) -> tuple[Category, ...] | str:
    """The reference's distinct values as Evidently's metric parameters take them, or why they cannot be."""
    distinct = values.dropna().unique()
    if len(distinct) == 0:
        return "no value in the reference (all missing)"
    if len(distinct) > MAX_LISTED_CATEGORIES:
        return f"{len(distinct)} distinct values in the reference, more than {MAX_LISTED_CATEGORIES}"
    listed: list[Category] = []
    for value in distinct:
        if isinstance(value, bool | np.bool_):
            listed.append(bool(value))
        elif isinstance(value, int | np.integer):
            listed.append(int(value))
        elif isinstance(value, float | np.floating) and float(value).is_integer():
            listed.append(int(value))  # integer codes read as floats (a column with missing values)
        elif isinstance(value, str):
            listed.append(value)
        else:
            return f"values of type {type(value).__name__} (expected text or whole numbers)"
    return tuple(sorted(set(listed), key=lambda v: (type(v).__name__, str(v))))


def out_of_range(values: pd.Series, low: float, high: float) -> pd.Series:
    """True where a value is below `low` or above `high` (missing: False)."""
    numbers = pd.to_numeric(values, errors="coerce")
    return (numbers < low) | (numbers > high)


def new_category(values: pd.Series, known: tuple[Category, ...]) -> pd.Series:
    """True where a value is present and not one of `known`."""
    return values.notna() & ~values.isin(list(known))
