"""The "evmon / Data quality" dashboard, grafana/dashboards/data_quality.json.

Data volume, missing values and per-column summary statistics of each day's data.

Each panel's SQL is a constant below (..._SQL), written into the JSON as it stands (Grafana expands its macros
and variables); build() places the panels.
"""

from __future__ import annotations

from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from evmon.grafana.frame import dashboard, project_variable, sql_variable
from evmon.grafana.panels import Column, at, sql, table_panel, time_series
from evmon.grafana.ranges import ROLLUP_WHERE, by_range
from evmon.grafana.shared_queries import missing_cells_share_panel

COLUMN_VARIABLE_SQL = """SELECT DISTINCT v."column"
FROM (SELECT DISTINCT ON (s.project) s.snapshot_id
      FROM evmon.snapshots s
      WHERE s.project = ANY(ARRAY[$project]::text[]) AND s.kind = 'daily' AND $__timeFilter(s."timestamp")
      ORDER BY s.project, s."timestamp" DESC) l
JOIN evmon.metric_values v ON v.snapshot_id = l.snapshot_id
WHERE v.metric_type = 'MissingValueCount'
ORDER BY 1
"""

ROWS_PER_DAY_DAILY_SQL = """SELECT $__time(q."timestamp"), q.project AS metric, q.value AS rows
FROM evmon.data_quality q
WHERE q.project = ANY(ARRAY[$project]::text[]) AND q.kind = 'daily' AND $__timeFilter(q."timestamp")
  AND q.metric_type = 'RowCount'
ORDER BY 1, 2
"""
ROWS_PER_DAY_ROLLUP_SQL = f"""SELECT $__time(v.period_start), v.project AS metric, v.sum / nullif(v.n, 0) AS rows
FROM evmon.metric_rollups v
WHERE v.project = ANY(ARRAY[$project]::text[]) AND v.kind = 'daily' AND {ROLLUP_WHERE}
  AND v.metric_type = 'RowCount'
"""
ROWS_PER_DAY_SQL = by_range(ROWS_PER_DAY_DAILY_SQL, ROWS_PER_DAY_ROLLUP_SQL)


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

COLUMN_SERIES = "v.project || ' / ' || v.\"column\""


def _column_mean_sql(series: str, where: str) -> str:
    """A per-column value's mean per $__interval: the days' values up to 92 days, the rollups' beyond."""
    daily = f"""SELECT $__unixEpochGroupAlias(v.epoch, $__interval), v.metric, avg(v.value) AS value
FROM (SELECT date_part('epoch', v."timestamp") AS epoch,
             {series} AS metric, v.metric_type, v.value
      FROM evmon.metric_values v
      WHERE v.project = ANY(ARRAY[$project]::text[]) AND v.kind = 'daily' AND $__timeFilter(v."timestamp") AND v."column" = ANY(ARRAY[$column]::text[])
        AND {where}) v
GROUP BY 1, 2
ORDER BY 1
"""  # noqa: E501
    rollup = f"""SELECT $__unixEpochGroupAlias(v.epoch, $__interval), v.metric, sum(v.sum) / nullif(sum(v.n), 0) AS value
FROM (SELECT date_part('epoch', v.period_start) AS epoch,
             {series} AS metric, v.sum, v.n
      FROM evmon.metric_rollups v
      WHERE v.project = ANY(ARRAY[$project]::text[]) AND v.kind = 'daily' AND {ROLLUP_WHERE} AND v."column" = ANY(ARRAY[$column]::text[])
        AND {where}) v
GROUP BY 1, 2
"""  # noqa: E501
    return by_range(daily, rollup)


MISSING_VALUES_SHARE_PER_COLUMN_SQL = _column_mean_sql(
    COLUMN_SERIES, "v.metric_type = 'MissingValueCount' AND v.value_kind = 'share'"
)

MEAN_PER_COLUMN_SQL = _column_mean_sql(COLUMN_SERIES, "v.metric_type = 'MeanValue'")

MEDIAN_PER_COLUMN_SQL = _column_mean_sql(COLUMN_SERIES, "v.metric_type = 'QuantileValue' AND v.label = '0.5'")

STANDARD_DEVIATION_PER_COLUMN_SQL = _column_mean_sql(COLUMN_SERIES, "v.metric_type = 'StdValue'")

MIN_AND_MAX_PER_COLUMN_DAILY_SQL = """SELECT $__unixEpochGroupAlias(v.epoch, $__interval), v.metric, CASE WHEN min(v.metric_type) = 'MinValue' THEN min(v.value) ELSE max(v.value) END AS value
FROM (SELECT date_part('epoch', v."timestamp") AS epoch,
             v.project || ' / ' || v."column" || CASE v.metric_type WHEN 'MinValue' THEN ' · min' ELSE ' · max' END AS metric, v.metric_type, v.value
      FROM evmon.metric_values v
      WHERE v.project = ANY(ARRAY[$project]::text[]) AND v.kind = 'daily' AND $__timeFilter(v."timestamp") AND v."column" = ANY(ARRAY[$column]::text[])
        AND v.metric_type IN ('MinValue', 'MaxValue')) v
GROUP BY 1, 2
ORDER BY 1
"""  # noqa: E501
MIN_AND_MAX_PER_COLUMN_ROLLUP_SQL = f"""SELECT $__unixEpochGroupAlias(v.epoch, $__interval), v.metric, CASE WHEN min(v.metric_type) = 'MinValue' THEN min(v.min) ELSE max(v.max) END AS value
FROM (SELECT date_part('epoch', v.period_start) AS epoch,
             v.project || ' / ' || v."column" || CASE v.metric_type WHEN 'MinValue' THEN ' · min' ELSE ' · max' END AS metric, v.metric_type, v.min, v.max
      FROM evmon.metric_rollups v
      WHERE v.project = ANY(ARRAY[$project]::text[]) AND v.kind = 'daily' AND {ROLLUP_WHERE} AND v."column" = ANY(ARRAY[$column]::text[])
        AND v.metric_type IN ('MinValue', 'MaxValue')) v
GROUP BY 1, 2
"""  # noqa: E501
MIN_AND_MAX_PER_COLUMN_SQL = by_range(MIN_AND_MAX_PER_COLUMN_DAILY_SQL, MIN_AND_MAX_PER_COLUMN_ROLLUP_SQL)

CATEGORY_SHARES_SQL = _column_mean_sql(
    COLUMN_SERIES + " || ' = ' || v.label", "v.metric_type = 'UniqueValueCount' AND v.value_kind = 'share'"
)

DATASET_CHECKS_DAILY_SQL = """SELECT $__unixEpochGroupAlias(v.epoch, $__interval), v.metric, max(v.value) AS count
FROM (SELECT date_part('epoch', v."timestamp") AS epoch,
             v.project || ' · ' || CASE v.metric_type
                 WHEN 'DuplicatedRowCount' THEN 'duplicated rows'
                 WHEN 'EmptyRowsCount' THEN 'empty rows'
                 WHEN 'EmptyColumnsCount' THEN 'empty columns'
                 WHEN 'ConstantColumnsCount' THEN 'constant columns'
                 WHEN 'AlmostConstantColumnsCount' THEN 'almost constant columns'
                 WHEN 'DuplicatedColumnsCount' THEN 'duplicated columns'
                 ELSE 'almost duplicated columns' END AS metric,
             v.value
      FROM evmon.metric_values v
      WHERE v.project = ANY(ARRAY[$project]::text[]) AND v.kind = 'daily' AND $__timeFilter(v."timestamp")
        AND v.metric_type IN ('DuplicatedRowCount', 'EmptyRowsCount', 'EmptyColumnsCount', 'ConstantColumnsCount',
                              'AlmostConstantColumnsCount', 'DuplicatedColumnsCount',
                              'AlmostDuplicatedColumnsCount')) v
GROUP BY 1, 2
ORDER BY 1
"""
DATASET_CHECKS_ROLLUP_SQL = f"""SELECT $__unixEpochGroupAlias(v.epoch, $__interval), v.metric, max(v.max) AS count
FROM (SELECT date_part('epoch', v.period_start) AS epoch,
             v.project || ' · ' || CASE v.metric_type
                 WHEN 'DuplicatedRowCount' THEN 'duplicated rows'
                 WHEN 'EmptyRowsCount' THEN 'empty rows'
                 WHEN 'EmptyColumnsCount' THEN 'empty columns'
                 WHEN 'ConstantColumnsCount' THEN 'constant columns'
                 WHEN 'AlmostConstantColumnsCount' THEN 'almost constant columns'
                 WHEN 'DuplicatedColumnsCount' THEN 'duplicated columns'
                 ELSE 'almost duplicated columns' END AS metric,
             v.max
      FROM evmon.metric_rollups v
      WHERE v.project = ANY(ARRAY[$project]::text[]) AND v.kind = 'daily' AND {ROLLUP_WHERE}
        AND v.metric_type IN ('DuplicatedRowCount', 'EmptyRowsCount', 'EmptyColumnsCount', 'ConstantColumnsCount',
                              'AlmostConstantColumnsCount', 'DuplicatedColumnsCount',
                              'AlmostDuplicatedColumnsCount')) v
GROUP BY 1, 2
"""
DATASET_CHECKS_SQL = by_range(DATASET_CHECKS_DAILY_SQL, DATASET_CHECKS_ROLLUP_SQL)


def build() -> model.Dashboard:
    """The "evmon / Data quality" dashboard."""
    return (
        dashboard(
            "evmon-data-quality",
            "evmon / Data quality",
            description="Data volume, missing values and per-column summary statistics of each day's data.",
        )
        .with_variable(project_variable())
        .with_variable(
            sql_variable(
                "column",
                "Column",
                COLUMN_VARIABLE_SQL,
                description=(
                    "Columns of the data summary (features and the prediction) in the newest daily snapshot of each "
                    "selected project in the time range."
                ),
            )
        )
        .with_panel(
            time_series(
                1,
                "Rows per day",
                at(0, 0, 12, 8),
                sql(ROWS_PER_DAY_SQL),
                description="Rows in each day's data, as the report counted them (RowCount).",
                unit="short",
            )
            .decimals(0)
            .draw_style(common.GraphDrawStyle.BARS)
            .fill_opacity(80)
        )
        .with_panel(missing_cells_share_panel(2, "Missing values share (dataset)", at(12, 0, 12, 8)))
        .with_panel(
            table_panel(
                3,
                "Latest summary statistics per column",
                at(0, 8, 24, 10),
                sql(LATEST_SUMMARY_SQL, "table"),
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
            )
        )
        .with_panel(
            time_series(
                4,
                "Missing values share per column",
                at(0, 18, 12, 8),
                sql(MISSING_VALUES_SHARE_PER_COLUMN_SQL),
                description=(
                    "Share of missing values in each selected column, per day. Long ranges (about a year and more) "
                    "show weekly averages of the daily values, to keep the panel fast."
                ),
                unit="percentunit",
            )
            .min(0)
            .interval("1d")
            .max_data_points(50)
        )
        .with_panel(
            time_series(
                5,
                "Mean per column",
                at(12, 18, 12, 8),
                sql(MEAN_PER_COLUMN_SQL),
                description=(
                    "Daily mean of each numerical column. Long ranges (about a year and more) show weekly averages of"
                    " the daily values, to keep the panel fast."
                ),
                unit="none",
            )
            .interval("1d")
            .max_data_points(50)
        )
        .with_panel(
            time_series(
                6,
                "Median per column",
                at(0, 26, 12, 8),
                sql(MEDIAN_PER_COLUMN_SQL),
                description=(
                    "Daily median (0.5 quantile) of each numerical column. Long ranges (about a year and more) show "
                    "weekly averages of the daily values, to keep the panel fast."
                ),
                unit="none",
            )
            .interval("1d")
            .max_data_points(50)
        )
        .with_panel(
            time_series(
                7,
                "Standard deviation per column",
                at(12, 26, 12, 8),
                sql(STANDARD_DEVIATION_PER_COLUMN_SQL),
                description=(
                    "Daily standard deviation of each numerical column. Long ranges (about a year and more) show "
                    "weekly averages of the daily values, to keep the panel fast."
                ),
                unit="none",
            )
            .min(0)
            .interval("1d")
            .max_data_points(50)
        )
        .with_panel(
            time_series(
                8,
                "Min and max per column",
                at(0, 34, 12, 8),
                sql(MIN_AND_MAX_PER_COLUMN_SQL),
                description=(
                    "Daily minimum and maximum of each numerical column. Long ranges (about a year and more) show "
                    "weekly minimum and maximum of the daily values, to keep the panel fast."
                ),
                unit="none",
            )
            .interval("1d")
            .max_data_points(50)
        )
        .with_panel(
            time_series(
                9,
                "Category shares",
                at(12, 34, 12, 8),
                sql(CATEGORY_SHARES_SQL),
                description=(
                    "Share of each value of the selected categorical columns, per day. Long ranges (about a year and "
                    "more) show weekly averages of the daily values, to keep the panel fast."
                ),
                unit="percentunit",
            )
            .min(0)
            .max(1)
            .interval("1d")
            .max_data_points(50)
        )
        .with_panel(
            time_series(
                10,
                "Dataset checks",
                at(0, 42, 24, 7),
                sql(DATASET_CHECKS_SQL),
                description=(
                    "Duplicated and empty rows, empty, constant, almost constant, duplicated and almost duplicated "
                    "columns, per day: all should stay at 0. Long ranges (about a year and more) show weekly maxima "
                    "of the daily values, to keep the panel fast."
                ),
                unit="none",
            )
            .decimals(0)
            .min(0)
            .interval("1d")
            .max_data_points(50)
        )
        .build()
    )
