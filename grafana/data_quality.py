"""The "evmon / Data quality" dashboard, grafana/dashboards/data_quality.json.

Data volume, missing values and per-column summary statistics of each day's data. The table's SQL is written
into the JSON as it stands (Grafana expands its macros and variables); a time series over metric values is the
specification its daily and rollup queries are built from.
"""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from evmon.grafana.frame import board, column_variable, project_variable
from evmon.grafana.panels import Column, table_panel, time_series
from evmon.grafana.ranges import (
    COLUMN,
    COLUMN_MEAN,
    COLUMN_SERIES,
    DAILY,
    LOWEST_OR_HIGHEST,
    MAXIMUM,
    PROJECT,
    RANGE,
    Binned,
    Daily,
    weekly,
)
from evmon.grafana.shared_queries import missing_cells_share_panel

ROWS_PER_DAY = Daily(
    "v.project", ("v.metric_type = 'RowCount'",), name="rows", value="v.value", view="evmon.data_quality q"
)

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


def _per_column(where: str, series: str = COLUMN_SERIES) -> Binned:
    """A value of each selected column: its mean per bin."""
    return Binned(series, (PROJECT, DAILY, RANGE, COLUMN, where), COLUMN_MEAN)


MIN_AND_MAX_PER_COLUMN = Binned(
    f"{COLUMN_SERIES} || CASE v.metric_type WHEN 'MinValue' THEN ' · min' ELSE ' · max' END",
    (PROJECT, DAILY, RANGE, COLUMN, "v.metric_type IN ('MinValue', 'MaxValue')"),
    LOWEST_OR_HIGHEST,
)
DATASET_CHECKS = Binned(
    """v.project || ' · ' || CASE v.metric_type
                 WHEN 'DuplicatedRowCount' THEN 'duplicated rows'
                 WHEN 'EmptyRowsCount' THEN 'empty rows'
                 WHEN 'EmptyColumnsCount' THEN 'empty columns'
                 WHEN 'ConstantColumnsCount' THEN 'constant columns'
                 WHEN 'AlmostConstantColumnsCount' THEN 'almost constant columns'
                 WHEN 'DuplicatedColumnsCount' THEN 'duplicated columns'
                 ELSE 'almost duplicated columns' END""",
    (
        PROJECT,
        DAILY,
        RANGE,
        "v.metric_type IN ('DuplicatedRowCount', 'EmptyRowsCount', 'EmptyColumnsCount', 'ConstantColumnsCount',"
        " 'AlmostConstantColumnsCount', 'DuplicatedColumnsCount', 'AlmostDuplicatedColumnsCount')",
    ),
    MAXIMUM,
    name="count",
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
        [
            time_series(
                "Rows per day",
                (12, 8),
                ROWS_PER_DAY,
                description="Rows in each day's data, as the report counted them (RowCount).",
                unit="short",
                style="bars",
            ),
            missing_cells_share_panel("Missing values share (dataset)"),
            table_panel(
                "Latest summary statistics per column",
                (24, 10),
                LATEST_SUMMARY_SQL,
                description=(
                    "Each selected column in the newest daily snapshot of the time range: missing share, mean, "
                    "standard deviation, min, quartiles, max (numerical columns) and number of distinct values "
                    "(categorical columns)."
                ),
                columns=[
                    Column("project", "Project"),
                    Column("column", "Column"),
                    Column("day", "Day", "time:YYYY-MM-DD"),
                    Column("missing_share", "Missing", "percentunit", 2),
                    Column("mean", "Mean", "none", 3),
                    Column("std", "Std", "none", 3),
                    Column("min", "Min", "none", 3),
                    Column("p25", "25%", "none", 3),
                    Column("median", "Median", "none", 3),
                    Column("p75", "75%", "none", 3),
                    Column("max", "Max", "none", 3),
                    Column("categories", "Distinct values", "none", 0),
                ],
            ),
            time_series(
                "Missing values share per column",
                (12, 8),
                _per_column("v.metric_type = 'MissingValueCount' AND v.value_kind = 'share'"),
                description="Share of missing values in each selected column, per day." + weekly("averages"),
                unit="percentunit",
            ).min(0),
            time_series(
                "Mean per column",
                (12, 8),
                _per_column("v.metric_type = 'MeanValue'"),
                description="Daily mean of each numerical column." + weekly("averages"),
                unit="none",
            ),
            time_series(
                "Median per column",
                (12, 8),
                _per_column("v.metric_type = 'QuantileValue' AND v.label = '0.5'"),
                description="Daily median (0.5 quantile) of each numerical column." + weekly("averages"),
                unit="none",
            ),
            time_series(
                "Standard deviation per column",
                (12, 8),
                _per_column("v.metric_type = 'StdValue'"),
                description="Daily standard deviation of each numerical column." + weekly("averages"),
                unit="none",
            ).min(0),
            time_series(
                "Min and max per column",
                (12, 8),
                MIN_AND_MAX_PER_COLUMN,
                description="Daily minimum and maximum of each numerical column." + weekly("minimum and maximum"),
                unit="none",
            ),
            time_series(
                "Category shares",
                (12, 8),
                _per_column(
                    "v.metric_type = 'UniqueValueCount' AND v.value_kind = 'share'",
                    f"{COLUMN_SERIES} || ' = ' || v.label",
                ),
                description=("Share of each value of the selected categorical columns, per day." + weekly("averages")),
                unit="percentunit",
            )
            .min(0)
            .max(1),
            time_series(
                "Dataset checks",
                (24, 7),
                DATASET_CHECKS,
                description=(
                    "Duplicated and empty rows, empty, constant, almost constant, duplicated and almost duplicated "
                    "columns, per day: all should stay at 0." + weekly("maxima")
                ),
                unit="none",
            )
            .decimals(0)
            .min(0),
        ],
    )
