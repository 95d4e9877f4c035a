"""The multivariate outlier score: scikit-learn's IsolationForest, fitted once on the reference.

Features: the watched numerical columns as they are, their missing values filled with the
reference's median (a missing value alone does not make a row an outlier: the missing-values
metrics count those); the watched categorical columns as the reference's frequency of each value
(a rare category is a small number, a category the reference never holds is 0, missing is a
category of its own), so a rare or new value is easy to isolate, which ordinal codes in an
arbitrary order would not make it. A column without any value in the reference is left out.

A row is an outlier where the fitted forest predicts -1: at the reference's own contamination
('auto': scikit-learn's fixed offset; a share: the threshold that flags that share of the
reference), so about that share of a day like the reference is flagged. Seeded: a re-run gives
the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from evmon.config.outliers import IsolationForestSettings


@dataclass(frozen=True)
class FittedForest:
    numerical: dict[str, float]  # column -> the reference's median, for its missing values
    categorical: dict[str, dict[object, float]]  # column -> the reference's share of each value
    missing_share: dict[str, float]  # column -> the reference's share of missing values
    forest: IsolationForest

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """The rows of `frame` as the forest's features."""
        parts = [pd.to_numeric(frame[c], errors="coerce").fillna(median) for c, median in self.numerical.items()]
        for column, shares in self.categorical.items():
            values = frame[column]
            encoded = values.map(shares).astype(float).fillna(0.0)
            parts.append(encoded.where(values.notna(), self.missing_share[column]))
        return np.column_stack([p.to_numpy(dtype=float) for p in parts])

    def outliers(self, frame: pd.DataFrame) -> np.ndarray:
        """True for each row of `frame` the forest scores as an outlier."""
        if frame.empty:
            return np.zeros(0, dtype=bool)
        return np.asarray(self.forest.predict(self.encode(frame)) == -1)


def fit_forest(
    reference: pd.DataFrame, numerical: list[str], categorical: list[str], settings: IsolationForestSettings
) -> tuple[FittedForest | None, tuple[str, ...]]:
    """The forest fitted on the reference's watched columns (None when none has a value), and notes."""
    notes: list[str] = []
    medians: dict[str, float] = {}
    for column in numerical:
        values = pd.to_numeric(reference[column], errors="coerce")
        if values.notna().any():
            medians[column] = float(values.median())
        else:
            notes.append(f"multivariate outliers without {column!r}: no value in the reference (all missing)")
    shares: dict[str, dict[object, float]] = {}
    missing: dict[str, float] = {}
    for column in categorical:
        values = reference[column]
        if values.notna().any():
            shares[column] = {k: float(v) for k, v in (values.value_counts() / len(values)).items()}
            missing[column] = float(values.isna().mean())
        else:
            notes.append(f"multivariate outliers without {column!r}: no value in the reference (all missing)")
    if not medians and not shares:
        return None, (*notes, "no multivariate outliers: no watched column has a value in the reference")
    forest = IsolationForest(
        n_estimators=settings.n_estimators, contamination=settings.contamination, random_state=settings.seed
    )
    fitted = FittedForest(medians, shares, missing, forest)
    forest.fit(fitted.encode(reference))
    return fitted, tuple(notes)
