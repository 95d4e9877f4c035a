"""What more than one dashboard shows: the day's share of missing cells (Overview, Data quality)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import timeseries

from evmon.grafana.panels import time_series
from evmon.grafana.ranges import Daily

# missing cells / (rows x monitored columns) each day; over long ranges the mean of evmon's MissingCellsShare
MISSING_CELLS_SHARE = Daily(
    "v.project",
    ('v."column" IS NULL', "v.metric_type IN ('DatasetMissingValueCount', 'RowCount', 'ColumnCount')"),
    name="missing_share",
    value="""max(v.value) FILTER (WHERE v.metric_type = 'DatasetMissingValueCount' AND v.value_kind = 'count')
         / nullif(max(v.value) FILTER (WHERE v.metric_type = 'RowCount')
                  * max(v.value) FILTER (WHERE v.metric_type = 'ColumnCount' AND v.label IS NULL), 0)""",
    rollup_filters=('v."column" IS NULL', "v.metric_type = 'MissingCellsShare'"),
    grouped=True,
)


def missing_cells_share_panel(title: str) -> timeseries.Panel:
    """The panel of MISSING_CELLS_SHARE, the same on every dashboard that has it."""
    return time_series(title, MISSING_CELLS_SHARE, "percentunit", limits=(0, None)).description(
        "Missing cells over all cells (rows x monitored columns) of the day: the seed's share_missing_values. "
        "Computed from Evidently's DatasetMissingValueCount count, RowCount and ColumnCount; Evidently's own "
        "'share' of that metric divides by the rows only (missing values per row)."
    )
