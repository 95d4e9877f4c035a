"""evmon's own Evidently metrics: the share of missing cells, infinite values, columns left out of
drift, and estimated model quality.

MissingCellsShare is what a "missing values share" panel means.

Evidently's DatasetMissingValueCount divides the missing cells by the number of rows (missing
values per row: 0.8 when 40% of two of nine columns are missing), so it cannot be plotted as a
share. MissingCellsShare divides them by all cells (rows x columns) of the same columns. It is a
regular Evidently metric: its results are standard SingleValue results under the type
``evidently:metric_v2:MissingCellsShare``, which the plain `evidently ui` reads and plots
without importing evmon (it only ever sees the snapshot's JSON). InfiniteValueCount and
DriftNotComputed (evmon.evidently.guard decides when) are a column's infinite values and the mark
of a column whose drift was not computed; EstimatedQuality (below) is one value of evmon's
estimated model quality: plain SingleValue results too.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.core.metric_types import SingleValueCalculation, SingleValueMetric
from evidently.core.serialization import SnapshotModel
from evidently.legacy.model.widget import BaseWidgetInfo
from evidently.legacy.renderers.html_widgets import CounterData, WidgetSize, counter

import evmon  # noqa: F401  (sets DO_NOT_TRACK before Evidently is used)
from evmon.estimation.base import METRIC_NAMES


def part_without_reference(
    metrics: Sequence[Any], table: pd.DataFrame, definition: DataDefinition, timestamp: datetime
) -> SnapshotModel:
    """A snapshot part: `metrics` run on `table` alone, without a reference (a day's table of figures evmon
    computed, read by its metrics such as EstimatedQuality, or the day's own columns)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)  # Dataset's own statistics of NaN or constant columns
        data = Dataset.from_pandas(table, data_definition=definition)
        return Report(list(metrics)).run(data, None, timestamp=timestamp).to_snapshot_model()


class MissingCellsShare(SingleValueMetric):
    """Missing cells / (rows x columns) over the given columns."""

    columns: list[str]


class MissingCellsShareCalculation(SingleValueCalculation[MissingCellsShare]):
    def calculate(self, context: Any, current_data: Dataset, reference_data: Dataset | None) -> Any:
        current = self.result(missing_cells_share(current_data, self.metric.columns))
        if reference_data is None:
            return current, None
        return current, self.result(missing_cells_share(reference_data, self.metric.columns))

    def display_name(self) -> str:
        return "Share of missing values (missing cells / all cells)"


def missing_cells_share(dataset: Dataset, columns: list[str]) -> float:
    frame = dataset.as_dataframe()[columns]
    return float(frame.isna().to_numpy().sum() / frame.size) if frame.size else math.nan


# --- what the day's data kept out of the Report (evmon.evidently.guard) -------------------------


class InfiniteValueCount(SingleValueMetric):
    """How many values of a numerical column are +inf or -inf (left out of the rest of the Report)."""

    column: str


class InfiniteValueCountCalculation(SingleValueCalculation[InfiniteValueCount]):
    def calculate(self, context: Any, current_data: Dataset, reference_data: Dataset | None) -> Any:
        current = self.result(infinite_count(current_data.as_dataframe()[self.metric.column]))
        if reference_data is None:
            return current, None
        return current, self.result(infinite_count(reference_data.as_dataframe()[self.metric.column]))

    def display_name(self) -> str:
        return f"Infinite values of '{self.metric.column}' (left out of drift and statistics)"


def infinite_count(values: pd.Series) -> int:
    """The +inf and -inf values of a column (none in a column that is not of floats)."""
    if not pd.api.types.is_float_dtype(values):
        return 0
    return int(np.isinf(values.to_numpy(dtype=float, na_value=np.nan)).sum())


NO_CURRENT_VALUES = "no_current_values"
NO_REFERENCE_VALUES = "no_reference_values"
TOO_MANY_CATEGORIES = "too_many_categories"
# why a column's drift was not computed (DriftNotComputed's reason), as its widget says it
DRIFT_NOT_COMPUTED = {
    NO_CURRENT_VALUES: "no value in the day's data: every value is missing (or infinite)",
    NO_REFERENCE_VALUES: "no value in the reference: every value is missing (or infinite)",
    TOO_MANY_CATEGORIES: "more distinct values than presets.data_drift.max_categories",
}


class DriftNotComputed(SingleValueMetric):
    """A column left out of the day's drift (value 1), and why: a key of DRIFT_NOT_COMPUTED."""

    column: str
    reason: str


class DriftNotComputedCalculation(SingleValueCalculation[DriftNotComputed]):
    def calculate(self, context: Any, current_data: Dataset, reference_data: Dataset | None) -> Any:
        result = self.result(1.0)
        result.widget = [
            counter(
                title=self.display_name(),
                counters=[CounterData("drift not computed", DRIFT_NOT_COMPUTED.get(self.metric.reason, ""))],
                size=WidgetSize.FULL,
            )
        ]
        return result, None

    def display_name(self) -> str:
        return f"Drift of '{self.metric.column}' not computed ({self.metric.reason})"


# --- estimated model quality -------------------------------------------------------------------

ESTIMATES_COLUMNS = ["metric", "segment", "value_kind", "value"]


class EstimatedQuality(SingleValueMetric):
    """One value of a quality metric evmon estimated without labels (evmon.estimation.daily), or of its record.

    metric: roc_auc, accuracy, precision, recall, f1 (CBPE) or mae, rmse (DLE); value_kind: estimate,
    lower, upper (NannyML's band), empirical_lower, empirical_upper, level (the empirical band and its nominal
    coverage), realized, gap (estimate - realized), inside_band, inside_empirical (1 or 0); the segment is
    named as evmon's quality metrics name it (classification_name or regression_name: "default" or
    "<column>=<value>"). The value is not a param (the UI keys a series by all its params, and the
    metric id is their fingerprint): the metric reads it from the Report's data, the day's table of
    estimates (ESTIMATES_COLUMNS), one row per value.
    """

    metric: str
    value_kind: str
    method: str
    classification_name: str | None = None
    regression_name: str | None = None

    @property
    def segment(self) -> str:
        return self.classification_name or self.regression_name or "default"


class EstimatedQualityCalculation(SingleValueCalculation[EstimatedQuality]):
    def calculate(self, context: Any, current_data: Dataset, reference_data: Dataset | None) -> Any:
        values = _estimates_of(current_data.as_dataframe(), self.metric.metric, self.metric.segment)
        result = self.result(values.get(self.metric.value_kind, math.nan))
        # one counter per metric and segment in the report view (its estimate, band and realized value)
        result.widget = [_estimate_counter(self.display_name(), values)] if self.metric.value_kind == "estimate" else []
        return result, None

    def display_name(self) -> str:
        m = self.metric
        return f"{METRIC_NAMES.get(m.metric, m.metric)} {m.value_kind} ({m.method}, {m.segment})"


def _estimates_of(table: pd.DataFrame, metric: str, segment: str) -> dict[str, float]:
    rows = table[(table["metric"] == metric) & (table["segment"] == segment)]
    return dict(zip(rows["value_kind"], rows["value"].astype(float), strict=True))


def _estimate_counter(title: str, values: dict[str, float]) -> BaseWidgetInfo:
    low, high = values.get("empirical_lower", math.nan), values.get("empirical_upper", math.nan)
    counters = [
        CounterData("estimated", f"{values.get('estimate', math.nan):.3f}"),
        CounterData("band", f"{low:.3f} to {high:.3f}"),  # the empirical band (evmon.estimation.conformal)
        CounterData("NannyML's band", f"{values.get('lower', math.nan):.3f} to {values.get('upper', math.nan):.3f}"),
    ]
    if "realized" in values:
        counters.append(CounterData("realized", f"{values['realized']:.3f}"))
    return counter(title=title, counters=counters, size=WidgetSize.FULL)
