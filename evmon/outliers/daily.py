"""A day's outliers against the project's reference: what the snapshot's outlier metrics store.

The reference's ranges, category lists and forest are worked out once per process while the
project's settings and reference frame are unchanged (a ProjectCache). Each day: the columns
whose values are counted (by Evidently's OutRangeValueCount and OutListValueCount, against
those bounds and lists), the forest's share of outlier rows, and on a labelled day the model's
quality on the rows the forest flags and on the others. What a day's data does not allow is a
note for the day's log, never an error: the other figures are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evmon.cache import ProjectCache
from evmon.config.model import Project
from evmon.config.outliers import Outliers
from evmon.outliers.forest import FittedForest, fit_forest
from evmon.outliers.profile import ColumnCategories, ColumnRange, ReferenceProfile, reference_profile

FOREST = "isolation_forest"
OUTLIER_ROWS, INLIER_ROWS = "outliers", "inliers"


@dataclass(frozen=True)
class OutlierValue:
    """One figure: the forest's outlier rows (metric FOREST, group 'all': count, share), or the
    model's quality (metric 'accuracy' or 'mae') on one group of rows (count: its rows)."""

    metric: str
    group: str
    count: int
    value: float


@dataclass(frozen=True)
class OutlierDay:
    settings: Outliers
    ranges: tuple[ColumnRange, ...]  # numerical columns counted today, and their reference range
    categories: tuple[ColumnCategories, ...]  # categorical columns counted today, and their reference values
    values: tuple[OutlierValue, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class _Fitted:
    frame: pd.DataFrame  # held: the cache's fingerprint is its id
    profile: ReferenceProfile
    forest: FittedForest | None
    notes: tuple[str, ...]


_FITTED: ProjectCache[_Fitted] = ProjectCache("outlier references", size=8)


def watched_columns(project: Project, settings: Outliers) -> tuple[list[str], list[str]]:
    """The watched (numerical, categorical) columns."""
    cols = project.columns
    watched = settings.columns_of(cols.features())
    return [c for c in watched if c in cols.numerical], [c for c in watched if c in cols.categorical]


def fitted_reference(project: Project, settings: Outliers, reference: pd.DataFrame) -> _Fitted:
    def build() -> _Fitted:
        numerical, categorical = watched_columns(project, settings)
        profile = reference_profile(reference, numerical, categorical, settings)
        forest: FittedForest | None = None
        notes: tuple[str, ...] = ()
        if settings.isolation_forest.enabled:
            forest, notes = fit_forest(reference, numerical, categorical, settings.isolation_forest)
        return _Fitted(reference, profile, forest, (*profile.notes, *notes))

    return _FITTED.get(project.name, (project.config_hash(), id(reference)), build)


def day_outliers(project: Project, current: pd.DataFrame, reference: pd.DataFrame, labelled: bool) -> OutlierDay:
    """The day's outlier figures (project.outliers must be set); infinite values are to be missing in both frames."""
    settings = project.outliers
    if settings is None:
        raise ValueError(f"{project.name}: outliers are not configured")
    fitted = fitted_reference(project, settings, reference)
    notes = list(fitted.notes)
    ranges = tuple(r for r in fitted.profile.ranges if _has_values(current, r.column, notes))
    categories = tuple(c for c in fitted.profile.categories if _has_values(current, c.column, notes))
    for column in categories:
        missing = int(current[column.column].isna().sum())
        if missing and column.column not in fitted.profile.missing:
            notes.append(
                f"{missing} missing values of {column.column!r} today, none in the reference: "
                "not counted as new categories"
            )
    values: list[OutlierValue] = []
    if fitted.forest is not None:
        flagged = fitted.forest.outliers(current)
        values.append(OutlierValue(FOREST, "all", int(flagged.sum()), float(flagged.mean())))
        if labelled:
            values += _quality_by_group(project, current, flagged, notes)
    return OutlierDay(settings, ranges, categories, tuple(values), tuple(notes))


def _has_values(current: pd.DataFrame, column: str, notes: list[str]) -> bool:
    if current[column].notna().any():
        return True
    notes.append(f"outliers of {column!r} not counted: no value today ({len(current)} rows, all missing)")
    return False


def _quality_by_group(
    project: Project, current: pd.DataFrame, flagged: np.ndarray, notes: list[str]
) -> list[OutlierValue]:
    """The model's quality on the forest's outlier rows and on the others (rows with a label and a prediction)."""
    cols, pred = project.columns, project.columns.prediction
    if not project.has_quality or pred is None or cols.target is None:
        return []
    known = (current[cols.target].notna() & current[pred.column].notna()).to_numpy()
    target, prediction = current[cols.target][known], current[pred.column][known]
    if pred.kind == "regression":
        metric, hits = "mae", (pd.to_numeric(prediction) - pd.to_numeric(target)).abs().to_numpy(dtype=float)
    else:
        metric = "accuracy"
        classification = project.presets.classification
        threshold = classification.probas_threshold if classification and classification.probas_threshold else 0.5
        predicted = prediction >= threshold if pred.kind == "probability" else prediction == cols.positive_label
        hits = (predicted.to_numpy() == (target == cols.positive_label).to_numpy()).astype(float)
    result = []
    for group, rows in ((OUTLIER_ROWS, flagged[known]), (INLIER_ROWS, ~flagged[known])):
        if rows.any():
            result.append(OutlierValue(metric, group, int(rows.sum()), float(hits[rows].mean())))
        else:
            notes.append(f"{metric} on the {group} not computed: no labelled row today is among them")
    return result
