"""evmon's own Evidently metric: the share of missing cells, what a "missing values share" panel means.

Evidently's DatasetMissingValueCount divides the missing cells by the number of rows (missing
values per row: 0.8 when 40% of two of nine columns are missing), so it cannot be plotted as a
share. MissingCellsShare divides them by all cells (rows x columns) of the same columns. It is a
regular Evidently metric: its results are standard SingleValue results under the type
``evidently:metric_v2:MissingCellsShare``, which the plain `evidently ui` reads and plots
without importing evmon (it only ever sees the snapshot's JSON).
"""

from __future__ import annotations

import math
from typing import Any

from evidently import Dataset
from evidently.core.metric_types import SingleValueCalculation, SingleValueMetric

import evmon  # noqa: F401  (sets DO_NOT_TRACK before Evidently is used)


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
