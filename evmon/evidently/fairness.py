"""The day's fairness values (evmon.fairness.daily) as Evidently metrics: one FairnessValue per value.

Like EstimatedQuality (evmon.evidently.metrics): a plain SingleValue result under the type
``evidently:metric_v2:FairnessValue``, which the stock `evidently ui` plots without importing evmon
and the bridge flattens like any other (evmon.snapshot.flatten: `column` is the sensitive column,
the params `measure` and `group` name the value). The value is not a param (the UI keys a series by
all its params): the metric reads it from the Report's data, the day's table of values
(FAIRNESS_COLUMNS), one row per value.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pandas as pd
from evidently import DataDefinition, Dataset
from evidently.core.metric_types import SingleValueCalculation, SingleValueMetric
from evidently.core.serialization import SnapshotModel

import evmon  # noqa: F401  (sets DO_NOT_TRACK before Evidently is used)
from evmon.evidently.metrics import part_without_reference
from evmon.fairness.daily import FairnessDay

FAIRNESS_COLUMNS = ["column", "measure", "group", "value"]
_BETWEEN = ""  # the table's group of a between-groups value (the metric's group is None)


class FairnessValue(SingleValueMetric):
    """One fairness value of a sensitive column (evmon.fairness.daily): of one group, or between groups.

    measure: rows, ranked, selection_rate, disparate_impact, tpr, fpr, precision, the quality metric
    (accuracy, f1, ..., mae, rmse), mean_prediction and, with estimation on, estimated_<metric> (the
    group's estimated quality, e.g. estimated_accuracy, every day) per group;
    demographic_parity_difference, demographic_parity_ratio, equalized_odds_difference, quality_gap,
    mean_prediction_gap and estimated_quality_gap between groups (group None).
    """

    column: str
    measure: str
    group: str | None = None


class FairnessValueCalculation(SingleValueCalculation[FairnessValue]):
    def calculate(self, context: Any, current_data: Dataset, reference_data: Dataset | None) -> Any:
        table = current_data.as_dataframe()
        group = self.metric.group if self.metric.group is not None else _BETWEEN
        found = table[(table["column"] == self.metric.column) & (table["measure"] == self.metric.measure)]
        found = found[found["group"] == group]
        return self.result(float(found["value"].iloc[0]) if len(found) else math.nan), None

    def display_name(self) -> str:
        m = self.metric
        where = f"{m.column}={m.group}" if m.group is not None else f"{m.column}, between groups"
        return f"Fairness: {m.measure} ({where})"


def fairness_part(day: FairnessDay, timestamp: datetime) -> SnapshotModel:
    """The day's fairness values as FairnessValue results, each reading its value from the table of them."""
    table = pd.DataFrame(
        [(v.column, v.measure, _BETWEEN if v.group is None else v.group, v.value) for v in day.values],
        columns=FAIRNESS_COLUMNS,
    )
    metrics = [FairnessValue(column=v.column, measure=v.measure, group=v.group) for v in day.values]
    definition = DataDefinition(numerical_columns=["value"], categorical_columns=["column", "measure", "group"])
    return part_without_reference(metrics, table, definition, timestamp)
