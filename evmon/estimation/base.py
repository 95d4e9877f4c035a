"""Estimated model quality for days without labels: the parts CBPE and DLE share.

The estimators live beside this module: evmon.estimation.cbpe.ClassificationEstimator (CBPE,
binary classifiers with probability scores) and evmon.estimation.dle.RegressionEstimator (DLE,
regressors). Both follow NannyML's method (nannyml/performance_estimation/, nannyml/sampling_error/):
fit once on a calibration set with labels, then estimate each day from that day's model inputs and
outputs alone. Each estimate carries NannyML's band: the sampling error of the metric for that day's
row count (a per-row standard deviation from the calibration set over sqrt(rows), which is the
calibration set's standard error scaled by sqrt(n_reference / n)), and value +- 3 sampling errors,
clipped to the metric's range.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evmon.errors import EstimationError

SAMPLING_ERROR_RANGE = 3  # the band is value +- 3 sampling errors, as NannyML's SAMPLING_ERROR_RANGE
MIN_CALIBRATION_ROWS = 100  # fewer labelled rows give no usable calibration or sampling error
# how each estimated metric is named to people (the UI's panels, the app)
METRIC_NAMES = {
    "roc_auc": "ROC AUC",
    "accuracy": "Accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "mae": "MAE",
    "rmse": "RMSE",
}


@dataclass(frozen=True)
class Estimate:
    """One metric estimated for one day: the value and its band (NaN where the metric is undefined)."""

    metric: str
    value: float
    lower: float
    upper: float
    sampling_error: float
    # the empirical band (evmon.estimation.conformal): value +- multiplier sampling errors; NaN when not learned
    empirical_lower: float = math.nan
    empirical_upper: float = math.nan
    multiplier: float = math.nan

    def contains(self, realized: float) -> bool:
        """Whether a realized value lies inside NannyML's band."""
        return self.lower <= realized <= self.upper

    def inside_empirical(self, realized: float) -> bool:
        """Whether a realized value lies inside the empirical band."""
        return self.empirical_lower <= realized <= self.empirical_upper


def band(
    metric: str,
    value: float,
    sampling_error: float,
    low: float = -math.inf,
    high: float = math.inf,
    multiplier: float = math.nan,
) -> Estimate:
    """value +- SAMPLING_ERROR_RANGE sampling errors (NannyML's band) and value +- multiplier sampling errors
    (the empirical band), clipped to [low, high]; NaN ends when a term is NaN."""
    spread = SAMPLING_ERROR_RANGE * sampling_error
    wide = multiplier * sampling_error
    return Estimate(
        metric=metric,
        value=float(value),
        lower=float(np.clip(value - spread, low, high)),
        upper=float(np.clip(value + spread, low, high)),
        sampling_error=float(sampling_error),
        empirical_lower=float(np.clip(value - wide, low, high)),
        empirical_upper=float(np.clip(value + wide, low, high)),
        multiplier=float(multiplier),
    )


def vector(name: str, values: Any) -> np.ndarray:
    """One value a row as a float array; refuses other shapes, non-numbers, NaN and infinities."""
    try:
        if isinstance(values, pd.Series | pd.Index):
            array = values.to_numpy(dtype=float, na_value=np.nan)
        else:
            array = np.asarray(values)
            if array.ndim != 1:
                raise EstimationError(f"{name} must be one value a row (a 1-D array); got shape {array.shape}")
            array = array.astype(float)
    except (TypeError, ValueError) as exc:
        raise EstimationError(f"{name} must be numbers; {exc}") from None
    bad = ~np.isfinite(array)
    if bad.any():
        raise EstimationError(
            f"{name} has {int(bad.sum())} missing or infinite values of {len(array)}; drop those rows first"
        )
    return array


def labels(name: str, values: Any) -> np.ndarray:
    """Binary labels (1 = the positive class) as an int array."""
    array = vector(name, values)
    other = np.setdiff1d(np.unique(array), [0.0, 1.0])
    if other.size:
        shown = ", ".join(f"{v:g}" for v in other[:5])
        raise EstimationError(f"{name} must hold the labels 0 and 1 (1 = the positive class); found {shown}")
    return array.astype(int)


def probabilities(name: str, values: Any) -> np.ndarray:
    """Scores that must be probabilities of the positive class, in [0, 1]."""
    array = vector(name, values)
    if array.size and (array.min() < 0.0 or array.max() > 1.0):
        raise EstimationError(
            f"{name} must be probabilities of the positive class in [0, 1]; "
            f"found values from {array.min():g} to {array.max():g}"
        )
    return array


def same_length(**arrays: Any) -> int:
    """The common row count of the named arrays; refuses different lengths and no rows."""
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} {n}" for name, n in lengths.items())
        raise EstimationError(f"the inputs must have one row each: got {shown} rows")
    rows = next(iter(lengths.values()))
    if rows == 0:
        raise EstimationError(f"no rows to estimate on: {', '.join(lengths)} are empty")
    return rows


def enough_rows(rows: int, what: str = "the calibration set") -> None:
    """Refuses a calibration set too small to fit on."""
    if rows < MIN_CALIBRATION_ROWS:
        raise EstimationError(f"{what} has {rows} rows; at least {MIN_CALIBRATION_ROWS} labelled rows are needed")


def columns(frame: pd.DataFrame, names: Iterable[str], what: str) -> None:
    """Refuses a frame that lacks some of the named columns."""
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise EstimationError(f"{what} lacks the column(s) {', '.join(missing)}; it has {', '.join(frame.columns)}")
