"""DLE: a regressor's MAE and RMSE estimated without labels (NannyML's direct loss estimation).

Fit on a calibration set with labels: two gradient-boosted trees learn each row's loss from the
features and the model's prediction, one |y - y_pred| and one (y - y_pred)^2. For a day, the
estimated MAE is the mean predicted absolute error and the estimated RMSE the square root of the
mean predicted squared error (predicted losses clipped at 0, as NannyML). The realized metrics are
the same means of the actual losses.

NannyML fits LightGBM's LGBMRegressor with its defaults; evmon fits scikit-learn's
HistGradientBoostingRegressor, the same algorithm (histogram-binned, leaf-wise boosting) with the
same settings (100 trees, learning rate 0.1, 31 leaves, 20 rows a leaf, 255 bins, no early
stopping), so no new dependency. Categorical features are ordinal-encoded and split natively;
a category unseen in the calibration set, or missing, goes down the missing-value branch.

Blind spot: DLE learns where the model errs on the calibration set; it follows a shift of the inputs
towards regions of larger or smaller error, not a change in how the target relates to the inputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.preprocessing import OrdinalEncoder
from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

from evmon.errors import EstimationError
from evmon.estimation import conformal
from evmon.estimation.base import Estimate, band, columns, enough_rows, same_length, vector

REGRESSION_METRICS = ("mae", "rmse")
MAX_CATEGORIES = 255  # HistGradientBoosting splits at most max_bins categories; rarer ones are pooled
# The trees fit and predict on one OpenMP thread: estimators run in worker processes beside others, and on a
# busy 2-core machine scikit-learn's spinning OpenMP threads made a 3,000-row fit take 3-16 s instead of 0.3 s.
THREADS = 1


@dataclass(frozen=True)
class RegressionEstimator:
    """A fitted DLE estimator for one regressor; immutable and picklable."""

    numerical: tuple[str, ...]
    categorical: tuple[str, ...]
    reference_rows: int
    reference: dict[str, float]  # the realized metrics on the calibration set
    _encoder: OrdinalEncoder | None = field(repr=False)
    _abs_model: HistGradientBoostingRegressor = field(repr=False)
    _sq_model: HistGradientBoostingRegressor = field(repr=False)
    _components: dict[str, tuple[float, float]] = field(repr=False)  # NannyML's sampling-error components
    level: float = conformal.BAND_LEVEL  # the empirical band's nominal coverage
    # metric -> the calibration set's cross-fitted scores (evmon.estimation.conformal); empty: no empirical band
    band_scores: dict[str, tuple[float, ...]] = field(default_factory=dict, repr=False)

    @classmethod
    def fit(
        cls,
        features: pd.DataFrame,
        y_true: Any,
        y_pred: Any,
        *,
        numerical: Sequence[str] = (),
        categorical: Sequence[str] = (),
        random_state: int = 0,
        days: Any = None,
        level: float = conformal.BAND_LEVEL,
        empirical: bool = True,
    ) -> RegressionEstimator:
        """Fit on a calibration set: the model's features, the labels and the model's predictions, one row each.

        days: each row's day (or None), the units the empirical band's scores are cross-fitted on;
        empirical=False skips those scores (no empirical band).
        """
        numerical, categorical = tuple(numerical), tuple(categorical)
        both = sorted(set(numerical) & set(categorical))
        if both:
            raise EstimationError(f"column(s) {', '.join(both)} are listed as both numerical and categorical")
        if not isinstance(features, pd.DataFrame):
            raise EstimationError(f"features must be a pandas DataFrame; got {type(features).__name__}")
        columns(features, numerical + categorical, "features")
        truth = vector("y_true", y_true)
        predicted = vector("y_pred", y_pred)
        rows = same_length(features=features, y_true=truth, y_pred=predicted)
        enough_rows(rows)
        encoder = None
        if categorical:
            encoder = OrdinalEncoder(
                handle_unknown="use_encoded_value",
                unknown_value=np.nan,
                encoded_missing_value=np.nan,
                max_categories=MAX_CATEGORIES,
            ).fit(_categories(features, categorical))
        x = _matrix(features, predicted, numerical, categorical, encoder)
        mask = [False] * len(numerical) + [True] * len(categorical) + [False]
        error = truth - predicted
        absolute, squared = np.abs(error), error**2
        with threadpool_limits(limits=THREADS, user_api="openmp"):
            abs_model = _regressor(mask, random_state).fit(x, absolute)
            sq_model = _regressor(mask, random_state).fit(x, squared)
        fitted = cls(
            numerical=numerical,
            categorical=categorical,
            reference_rows=rows,
            reference=_metrics(absolute, squared),
            _encoder=encoder,
            _abs_model=abs_model,
            _sq_model=sq_model,
            _components={
                "mae": (float(np.std(absolute)), 0.0),
                "rmse": (float(np.std(squared)), float(np.mean(squared))),
            },
            level=level,
        )
        if not empirical:
            return fitted
        frame = features.reset_index(drop=True)

        def fit_on(train: np.ndarray) -> conformal.Scorer:
            part = cls.fit(
                frame.iloc[train],
                truth[train],
                predicted[train],
                numerical=numerical,
                categorical=categorical,
                random_state=random_state,
                empirical=False,
            )

            # every row's predicted losses, once per fold (its categories encoded as that fold's estimator does)
            x_part = _matrix(features, predicted, numerical, categorical, part._encoder)
            with threadpool_limits(limits=THREADS, user_api="openmp"):
                absolute_hat = np.maximum(0.0, part._abs_model.predict(x_part))
                squared_hat = np.maximum(0.0, part._sq_model.predict(x_part))

            def scorer(unit: np.ndarray) -> dict[str, tuple[float, float, float]]:
                estimates = _metrics(absolute_hat[unit], squared_hat[unit])
                realized = _metrics(absolute[unit], squared[unit])
                n = len(unit)
                return {m: (estimates[m], part.sampling_error(m, n), realized[m]) for m in REGRESSION_METRICS}

            return scorer

        day_of_row = None if days is None else np.asarray(days)
        return replace(fitted, band_scores=conformal.cross_fitted_scores(rows, day_of_row, fit_on))

    def predicted_losses(self, features: pd.DataFrame, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
        """Each row's predicted absolute and squared error (clipped at 0)."""
        if not isinstance(features, pd.DataFrame):
            raise EstimationError(f"features must be a pandas DataFrame; got {type(features).__name__}")
        columns(features, self.numerical + self.categorical, "features")
        predicted = vector("y_pred", y_pred)
        same_length(features=features, y_pred=predicted)
        x = _matrix(features, predicted, self.numerical, self.categorical, self._encoder)
        with threadpool_limits(limits=THREADS, user_api="openmp"):
            return np.maximum(0.0, self._abs_model.predict(x)), np.maximum(0.0, self._sq_model.predict(x))

    def estimate(
        self, features: pd.DataFrame, y_pred: Any, record: Mapping[str, Sequence[float]] | None = None
    ) -> dict[str, Estimate]:
        """MAE and RMSE estimated for one day's features and predictions, with both bands; `record`: each
        metric's scores on the last labelled days (evmon.estimation.conformal), oldest first."""
        absolute, squared = self.predicted_losses(features, y_pred)
        values = _metrics(absolute, squared)
        rows = len(absolute)
        return {
            name: band(
                name, values[name], self.sampling_error(name, rows), 0.0, math.inf, self.multiplier(name, record)
            )
            for name in REGRESSION_METRICS
        }

    def multiplier(self, metric: str, record: Mapping[str, Sequence[float]] | None = None) -> float:
        """The empirical band's half-width in sampling errors (NaN: no empirical band)."""
        calibration = self.band_scores.get(metric, ())
        recent = (record or {}).get(metric, ())
        return conformal.multiplier(calibration, recent, self.level) if calibration or recent else float("nan")

    def realized(self, y_true: Any, y_pred: Any) -> dict[str, float]:
        """MAE and RMSE computed from labels."""
        truth = vector("y_true", y_true)
        predicted = vector("y_pred", y_pred)
        same_length(y_true=truth, y_pred=predicted)
        error = truth - predicted
        return _metrics(np.abs(error), error**2)

    def sampling_error(self, metric: str, rows: int) -> float:
        """NannyML's sampling error for `rows` rows: MAE std/sqrt(n); RMSE by the delta method on the MSE."""
        std, mean_squared = self._components[metric]
        if metric == "mae":
            return float(std / np.sqrt(rows))
        return float(np.sqrt(std**2 / (4 * rows * mean_squared))) if mean_squared > 0 else 0.0


def _metrics(absolute: np.ndarray, squared: np.ndarray) -> dict[str, float]:
    return {"mae": float(np.mean(absolute)), "rmse": float(np.sqrt(np.mean(squared)))}


def _regressor(categorical_mask: list[bool], random_state: int) -> HistGradientBoostingRegressor:
    """LightGBM's LGBMRegressor defaults, as NannyML's DLE uses them."""
    return HistGradientBoostingRegressor(
        loss="squared_error",
        learning_rate=0.1,
        max_iter=100,
        max_leaf_nodes=31,
        min_samples_leaf=20,
        l2_regularization=0.0,
        max_bins=255,
        categorical_features=categorical_mask,
        early_stopping=False,
        random_state=random_state,
    )


def _categories(features: pd.DataFrame, categorical: tuple[str, ...]) -> pd.DataFrame:
    """Categorical columns as strings (so 1 and '1' are one category), missing values as NaN."""
    frame = features.loc[:, list(categorical)]
    return frame.astype(str).astype(object).where(frame.notna(), np.nan)


def _matrix(
    features: pd.DataFrame,
    predicted: np.ndarray,
    numerical: tuple[str, ...],
    categorical: tuple[str, ...],
    encoder: OrdinalEncoder | None,
) -> np.ndarray:
    """The trees' input: numerical features, encoded categorical features, then the prediction."""
    parts = []
    for name in numerical:
        try:
            parts.append(pd.to_numeric(features[name]).to_numpy(dtype=float, na_value=np.nan))
        except (TypeError, ValueError):
            raise EstimationError(f"numerical feature {name} has values that are not numbers") from None
    if encoder is not None:
        parts.extend(np.asarray(encoder.transform(_categories(features, categorical)), dtype=float).T)
    parts.append(predicted)
    return np.column_stack(parts)
