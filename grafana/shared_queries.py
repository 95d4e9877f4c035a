"""What more than one dashboard shows: the day's share of missing cells (Overview, Data quality)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import timeseries
from grafana_foundation_sdk.models import dashboard as model

from evmon.grafana.panels import sql, time_series
from evmon.grafana.ranges import ROLLUP_WHERE, by_range

# missing cells / (rows x monitored columns) each day; over long ranges the mean of evmon's MissingCellsShare
MISSING_CELLS_SHARE_DAILY_SQL = """SELECT $__time(v."timestamp"), v.project AS metric,
       max(v.value) FILTER (WHERE v.metric_type = 'DatasetMissingValueCount' AND v.value_kind = 'count')
         / nullif(max(v.value) FILTER (WHERE v.metric_type = 'RowCount')
                  * max(v.value) FILTER (WHERE v.metric_type = 'ColumnCount' AND v.label IS NULL), 0)
         AS missing_share
FROM evmon.metric_values v
WHERE v.project = ANY(ARRAY[$project]::text[]) AND v.kind = 'daily' AND $__timeFilter(v."timestamp") AND v."column" IS NULL
  AND v.metric_type IN ('DatasetMissingValueCount', 'RowCount', 'ColumnCount')
GROUP BY v."timestamp", v.project
ORDER BY 1, 2
"""  # noqa: E501
MISSING_CELLS_SHARE_ROLLUP_SQL = f"""SELECT $__time(v.period_start), v.project AS metric, v.sum / nullif(v.n, 0) AS missing_share
FROM evmon.metric_rollups v
WHERE v.project = ANY(ARRAY[$project]::text[]) AND v.kind = 'daily' AND {ROLLUP_WHERE}
  AND v."column" IS NULL AND v.metric_type = 'MissingCellsShare'
"""  # noqa: E501
MISSING_CELLS_SHARE_SQL = by_range(MISSING_CELLS_SHARE_DAILY_SQL, MISSING_CELLS_SHARE_ROLLUP_SQL)


def missing_cells_share_panel(panel_id: int, title: str, pos: model.GridPos) -> timeseries.Panel:
    """The panel of MISSING_CELLS_SHARE_SQL, the same on every dashboard that has it."""
    return time_series(
        panel_id,
        title,
        pos,
        sql(MISSING_CELLS_SHARE_SQL),
        description=(
            "Missing cells over all cells (rows x monitored columns) of the day: the seed's "
            "share_missing_values. Computed from Evidently's DatasetMissingValueCount count, RowCount and "
            "ColumnCount; Evidently's own 'share' of that metric divides by the rows only (missing values per"
            " row)."
        ),
        unit="percentunit",
    ).min(0)
