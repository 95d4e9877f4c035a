"""A day's outliers (evmon.outliers.daily) as Evidently metrics, in one part of the daily snapshot.

Per column, Evidently's own metrics with evmon's bounds: OutRangeValueCount(column, left, right)
with the reference's range, OutListValueCount(column, values) with the reference's values (the
day's values outside them: count, and share of the column's non-missing values). For the rows,
evmon's MultivariateOutlierCount (the IsolationForest's outlier rows: count, share) and, on a
labelled day, OutlierQuality (the model's accuracy or MAE on the outlier rows and on the others).
Both are plain CountValue / SingleValue results that the stock `evidently ui` plots without
importing evmon; like EstimatedQuality they read their values from a table of the day's figures
(OUTLIER_COLUMNS), so the values are not parameters and a series keeps its id day after day.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pandas as pd
from evidently import DataDefinition, Dataset
from evidently.core.metric_types import CountCalculation, CountMetric, SingleValueCalculation, SingleValueMetric
from evidently.core.serialization import SnapshotModel
from evidently.metrics import OutListValueCount, OutRangeValueCount

import evmon  # noqa: F401  (sets DO_NOT_TRACK before Evidently is used)
from evmon.config.model import Project
from evmon.evidently.metrics import part_without_reference
from evmon.outliers.daily import FOREST, OutlierDay, day_outliers

OUTLIER_COLUMNS = ["metric", "group", "count", "value"]


class MultivariateOutlierCount(CountMetric):
    """The day's rows the project's IsolationForest (fitted on the reference) scores as outliers."""

    method: str = FOREST
    contamination: str  # 'auto' or the share, as configured
    seed: int


class MultivariateOutlierCountCalculation(CountCalculation[MultivariateOutlierCount]):
    def calculate(self, context: Any, current_data: Dataset, reference_data: Dataset | None) -> Any:
        count, share = _figure(current_data.as_dataframe(), FOREST, "all")
        return self.result(int(count), share), None

    def display_name(self) -> str:
        return f"Rows scored as outliers (IsolationForest, contamination {self.metric.contamination})"


class OutlierQuality(SingleValueMetric):
    """The model's quality (metric: accuracy or mae) on the forest's outlier rows or on the others (group)."""

    metric: str
    group: str


class OutlierQualityCalculation(SingleValueCalculation[OutlierQuality]):
    def calculate(self, context: Any, current_data: Dataset, reference_data: Dataset | None) -> Any:
        return self.result(_figure(current_data.as_dataframe(), self.metric.metric, self.metric.group)[1]), None

    def display_name(self) -> str:
        return f"{self.metric.metric} on the {self.metric.group} rows (IsolationForest)"


def _figure(table: pd.DataFrame, metric: str, group: str) -> tuple[float, float]:
    rows = table[(table["metric"] == metric) & (table["group"] == group)]
    if rows.empty:
        return 0.0, math.nan
    return float(rows["count"].iloc[0]), float(rows["value"].iloc[0])


def outliers_part(day: OutlierDay, current: pd.DataFrame, timestamp: datetime) -> list[SnapshotModel]:
    """The day's outlier metrics as snapshot parts: the per-column counts, then the forest's figures."""
    parts = []
    metrics: list[Any] = [OutRangeValueCount(column=r.column, left=r.low, right=r.high) for r in day.ranges]
    metrics += [OutListValueCount(column=c.column, values=list(c.values)) for c in day.categories]
    if metrics:
        definition = DataDefinition(
            numerical_columns=[r.column for r in day.ranges], categorical_columns=[c.column for c in day.categories]
        )
        columns = [*definition.get_numerical_columns(), *definition.get_categorical_columns()]
        parts.append(part_without_reference(metrics, current[columns], definition, timestamp))
    if day.values:
        forest = day.settings.isolation_forest
        table = pd.DataFrame([(v.metric, v.group, v.count, v.value) for v in day.values], columns=OUTLIER_COLUMNS)
        figures: list[Any] = [
            MultivariateOutlierCount(contamination=str(forest.contamination), seed=forest.seed)
            if v.metric == FOREST
            else OutlierQuality(metric=v.metric, group=v.group)
            for v in day.values
        ]
        definition = DataDefinition(numerical_columns=["count", "value"], categorical_columns=["metric", "group"])
        parts.append(part_without_reference(figures, table, definition, timestamp))
    return parts


def day_outlier_parts(
    project: Project, current: pd.DataFrame, reference: pd.DataFrame, labelled: bool, timestamp: datetime
) -> tuple[list[SnapshotModel], tuple[str, ...]]:
    """The day's outlier parts (none when the project does not watch outliers) and notes for the day's log.

    Never raises: a failure of these metrics is a note, and the day keeps its other metrics.
    """
    if project.outliers is None:
        return [], ()
    try:
        day = day_outliers(project, current, reference, labelled)
        return outliers_part(day, current, timestamp), tuple(f"outliers: {note}" for note in day.notes)
    except Exception as exc:  # any failure here must leave the day's other metrics
        return [], (f"no outlier metrics: {type(exc).__name__}: {exc}",)
