"""The "evmon / Data quality" dashboard, grafana/dashboards/data_quality.json: data volume, missing values and
per-column summary statistics of each day's data."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from evmon.grafana.frame import board, column_variable, project_variable
from evmon.grafana.panels import Column, columns, table_panel, time_series
from evmon.grafana.ranges import (
    COLUMN,
    COLUMN_MEAN,
    COLUMN_SERIES,
    DAILY_KIND,
    LOWEST_OR_HIGHEST,
    MAXIMUM,
    PROJECT,
    RANGE,
    Aggregate,
    Binned,
    Daily,
    weekly,
)
from evmon.grafana.shared_queries import missing_cells_share_panel

ROWS_PER_DAY = Daily("v.project", ("v.metric_type = 'RowCount'",), "rows", "v.value", view="evmon.data_quality q")

LATEST_SUMMARY_SQL = """SELECT l.project, v."column", l.day,
       max(v.value) FILTER (WHERE v.metric_type = 'MissingValueCount' AND v.value_kind = 'share')
         AS missing_share,
       max(v.value) FILTER (WHERE v.metric_type = 'MeanValue') AS mean,
       max(v.value) FILTER (WHERE v.metric_type = 'StdValue') AS std,
       max(v.value) FILTER (WHERE v.metric_type = 'MinValue') AS min,
       max(v.value) FILTER (WHERE v.metric_type = 'QuantileValue' AND v.label = '0.25')
         AS p25,
       max(v.value) FILTER (WHERE v.metric_type = 'QuantileValue' AND v.label = '0.5')
         AS median,
       max(v.value) FILTER (WHERE v.metric_type = 'QuantileValue' AND v.label = '0.75')
         AS p75,
       max(v.value) FILTER (WHERE v.metric_type = 'MaxValue') AS max,
       count(*) FILTER (WHERE v.metric_type = 'UniqueValueCount' AND v.value_kind = 'count') AS categories
FROM (SELECT DISTINCT ON (s.project) s.project, s.snapshot_id, s.day
      FROM evmon.snapshots s
      WHERE s.project = ANY(ARRAY[$project]::text[]) AND s.kind = 'daily' AND $__timeFilter(s."timestamp")
      ORDER BY s.project, s."timestamp" DESC) l
JOIN evmon.metric_values v ON v.snapshot_id = l.snapshot_id
WHERE v."column" = ANY(ARRAY[$column]::text[])
  AND v.metric_type IN ('MissingValueCount', 'MeanValue', 'StdValue', 'MinValue', 'QuantileValue', 'MaxValue',
                        'UniqueValueCount')
GROUP BY l.project, v."column", l.day
ORDER BY 1, 2
"""
SUMMARY_COLUMNS = [
    *columns(project="Project", column="Column"),
    Column("day", "Day", "time:YYYY-MM-DD"),
    Column("missing_share", "Missing", "percentunit", 2),
    *columns("none", 3, mean="Mean", std="Std", min="Min", p25="25%", median="Median", p75="75%", max="Max"),
    Column("categories", "Distinct values", "none", 0),
]


def _per_column(where: str, series: str = COLUMN_SERIES, aggregate: Aggregate = COLUMN_MEAN) -> Binned:
    """A value of each selected column (by default its mean per bin)."""
    return Binned(series, (PROJECT, DAILY_KIND, RANGE, COLUMN, where), aggregate)


MIN_AND_MAX = _per_column(
    "v.metric_type IN ('MinValue', 'MaxValue')",
    f"{COLUMN_SERIES} || CASE v.metric_type WHEN 'MinValue' THEN ' · min' ELSE ' · max' END",
    LOWEST_OR_HIGHEST,
)
CATEGORY_SHARES = _per_column(
    "v.metric_type = 'UniqueValueCount' AND v.value_kind = 'share'", f"{COLUMN_SERIES} || ' = ' || v.label"
)
# each dataset check: its metric type and its series' name (the last one the CASE's ELSE)
DATASET_CHECK_NAMES = {
    "DuplicatedRowCount": "duplicated rows",
    "EmptyRowsCount": "empty rows",
    "EmptyColumnsCount": "empty columns",
    "ConstantColumnsCount": "constant columns",
    "AlmostConstantColumnsCount": "almost constant columns",
    "DuplicatedColumnsCount": "duplicated columns",
    "AlmostDuplicatedColumnsCount": "almost duplicated columns",
}
*_CHECKS, (_, _LAST_CHECK) = DATASET_CHECK_NAMES.items()
DATASET_CHECKS = Binned(
    "v.project || ' · ' || CASE v.metric_type\n"
    + "".join(f"                 WHEN '{t}' THEN '{name}'\n" for t, name in _CHECKS)
    + f"                 ELSE '{_LAST_CHECK}' END",
    (PROJECT, DAILY_KIND, RANGE, "v.metric_type IN (" + ", ".join(f"'{t}'" for t in DATASET_CHECK_NAMES) + ")"),
    MAXIMUM,
    "count",
)


def build() -> model.Dashboard:
    """The "evmon / Data quality" dashboard."""
    return board(
        "evmon-data-quality",
        "evmon / Data quality",
        "Data volume, missing values and per-column summary statistics of each day's data.",
        [
            project_variable(),
            column_variable(
                "MissingValueCount",
                "Columns of the data summary (features and the prediction) in the newest daily snapshot of each "
                "selected project in the time range.",
            ),
        ],
        [(8, 12, 12), (10, 24), (8, 12, 12), (8, 12, 12), (8, 12, 12), (7, 24)],
        [
            time_series("Rows per day", ROWS_PER_DAY, "short", style="bars").description(
                "Rows in each day's data, as the report counted them (RowCount)."
            ),
            missing_cells_share_panel("Missing values share (dataset)"),
            table_panel("Latest summary statistics per column", LATEST_SUMMARY_SQL, SUMMARY_COLUMNS).description(
                "Each selected column in the newest daily snapshot of the time range: missing share, mean, standard "
                "deviation, min, quartiles, max (numerical columns) and number of distinct values (categorical "
                "columns)."
            ),
            time_series(
                "Missing values share per column",
                _per_column("v.metric_type = 'MissingValueCount' AND v.value_kind = 'share'"),
                "percentunit",
                limits=(0, None),
            ).description("Share of missing values in each selected column, per day." + weekly("averages")),
            time_series("Mean per column", _per_column("v.metric_type = 'MeanValue'")).description(
                "Daily mean of each numerical column." + weekly("averages")
            ),
            time_series(
                "Median per column", _per_column("v.metric_type = 'QuantileValue' AND v.label = '0.5'")
            ).description("Daily median (0.5 quantile) of each numerical column." + weekly("averages")),
            time_series(
                "Standard deviation per column", _per_column("v.metric_type = 'StdValue'"), limits=(0, None)
            ).description("Daily standard deviation of each numerical column." + weekly("averages")),
            time_series("Min and max per column", MIN_AND_MAX).description(
                "Daily minimum and maximum of each numerical column." + weekly("minimum and maximum")
            ),
            time_series("Category shares", CATEGORY_SHARES, "percentunit", limits=(0, 1)).description(
                "Share of each value of the selected categorical columns, per day." + weekly("averages")
            ),
            time_series("Dataset checks", DATASET_CHECKS, limits=(0, None), decimals=0).description(
                "Duplicated and empty rows, empty, constant, almost constant, duplicated and almost duplicated "
                "columns, per day: all should stay at 0." + weekly("maxima")
            ),
        ],
    )
