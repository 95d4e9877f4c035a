"""Long time ranges read the bridge's weekly or monthly rollups (evmon.metric_rollups), short ones the daily rows.

A time series over metric values is one specification, Daily or Binned: its series expression, its
filters and its aggregate. From it sql() builds the daily query and the rollup query and joins them by
UNION ALL, each guarded by the range's length: Postgres evaluates the guards once, before reading
anything (a one-time filter), so only one branch runs. Up to 92 days a panel shows each day; beyond,
one point a week (its Monday, UTC); beyond 1100 days (three years), one a month. A rollup row holds the
count, sum, min and max of its daily values (bridge/rollups.py keeps them equal to their daily rows), so
a weekly point is the mean of its days, and a min or max panel the week's lowest or highest.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

DAILY_UP_TO_DAYS = 92
WEEKLY_UP_TO_DAYS = 1100
SPAN = "($__timeTo()::timestamptz - $__timeFrom()::timestamptz)"
SHORT = f"{SPAN} <= interval '{DAILY_UP_TO_DAYS} days'"
LONG = f"{SPAN} > interval '{DAILY_UP_TO_DAYS} days'"
GRAIN = f"(CASE WHEN {SPAN} > interval '{WEEKLY_UP_TO_DAYS} days' THEN 'month' ELSE 'week' END)"
ROLLUP_NOTE = (
    f" Over ranges longer than {DAILY_UP_TO_DAYS} days each point stands for a week (over {WEEKLY_UP_TO_DAYS} days, a"
    " month), read from the bridge's rollups: the mean of its days (a min or max: the lowest or highest; a drift"
    " verdict: drift on any day)."
)
# filters of the specifications, over v (evmon.metric_values or evmon.metric_rollups), joined by AND in order
PROJECT = "v.project = ANY(ARRAY[$project]::text[])"
COLUMN = 'v."column" = ANY(ARRAY[$column]::text[])'
DAILY_KIND = "v.kind = 'daily'"
RANGE = "<range>"  # where the range's filter goes: the days' time filter and guard, or the rollups'
_DAYS_IN_RANGE = f'$__timeFilter(v."timestamp") AND {SHORT}'
_ROLLUPS_IN_RANGE = f"v.grain = {GRAIN} AND {LONG}\n        AND $__timeFilter(v.period_start)"
ROLLUPS = "evmon.metric_rollups v"
COLUMN_SERIES = "v.project || ' / ' || v.\"column\""  # a series per project and column
_V = re.compile(r"\bv\.")


def _where(filters: Sequence[str], time: str, indent: str = "") -> str:
    """The filters joined by AND, RANGE replaced by `time`; a line each after the range's."""
    at = list(filters).index(RANGE)
    head = " AND ".join(time if f == RANGE else f for f in filters[: at + 1])
    return "".join([head, *(f"\n{indent}  AND {f}" for f in filters[at + 1 :])])


def _by_range(daily: str, rollup: str, order: str) -> str:
    return f"{daily}\nUNION ALL\n{rollup}\nORDER BY {order}\n"


@dataclass(frozen=True)
class Daily:
    """Each series' value of each day (a point a day); over long ranges the mean of a week's or month's days.

    Over v (evmon.metric_values, or evmon.metric_rollups): `series` names each series, `filters` select its
    values after the project, daily and range filters; `value` is the day's value and `name` its column. The
    days may come from a view of the bridge instead (`view`, "evmon.dataset_drift d": its alias then stands for
    v in the series, value and filters), and `rollup_filters` select the rollups of what the view shows.
    `grouped`: `value` aggregates a project-day's rows into one. `rollups`: a FROM joining the rollups to the
    projects it picks itself (no project filter then).
    """

    series: str
    filters: tuple[str, ...] = ()
    name: str = "value"
    value: str = "NULLIF(v.value, 'NaN')"
    view: str = ""
    rollup_filters: tuple[str, ...] | None = None
    grouped: bool = False
    rollups: str = ROLLUPS

    def sql(self) -> str:
        value = self.value if self.value == f"v.{self.name}" else f"{self.value} AS {self.name}"
        daily = self._select('v."timestamp"', value, self.view or "evmon.metric_values v")
        daily += _where((PROJECT, DAILY_KIND, RANGE, *self.filters), _DAYS_IN_RANGE)
        daily += '\nGROUP BY v."timestamp", v.project' if self.grouped else ""
        scope = (PROJECT,) if self.rollups == ROLLUPS else ()
        filters = self.filters if self.rollup_filters is None else self.rollup_filters
        rollup = self._select("v.period_start", f"v.sum / nullif(v.n, 0) AS {self.name}", self.rollups)
        rollup += _where((*scope, DAILY_KIND, RANGE, *filters), _ROLLUPS_IN_RANGE)
        alias = self.view.split()[-1] if self.view else "v"
        return _by_range(_V.sub(f"{alias}.", daily), rollup, "1, 2")

    def _select(self, time: str, value: str, source: str) -> str:
        return f"SELECT $__time({time}), {self.series} AS metric,\n       {value}\nFROM {source}\nWHERE "


@dataclass(frozen=True)
class Aggregate:
    """A bin's value: `days` over the columns `day_columns` of its daily rows, or `rollups` over its rollups'."""

    days: str
    day_columns: str
    rollups: str
    rollup_columns: str
    alias: str = "v"


MEAN = Aggregate("avg(v.value)", "v.value", "sum(v.sum) / nullif(sum(v.n), 0)", "v.sum, v.n")
MAXIMUM = Aggregate("max(v.value)", "v.value", "max(v.max)", "v.max")
# a series per column and bound: the lowest of the minima, the highest of the maxima
LOWEST_OR_HIGHEST = Aggregate(
    "CASE WHEN min(v.metric_type) = 'MinValue' THEN min(v.value) ELSE max(v.value) END",
    "v.metric_type, v.value",
    "CASE WHEN min(v.metric_type) = 'MinValue' THEN min(v.min) ELSE max(v.max) END",
    "v.metric_type, v.min, v.max",
)
# drift (1) if the test fired on any day, no drift (0) if it was judged and never fired
ANY_DRIFT = Aggregate(
    "max(c.drift)",
    "CASE WHEN v.drift_detected THEN 1 WHEN NOT v.drift_detected THEN 0 END AS drift",
    "max(c.drift)",
    "CASE WHEN v.drifted > 0 THEN 1 WHEN v.judged > 0 THEN 0 END AS drift",
    alias="c",
)


@dataclass(frozen=True)
class Binned:
    """Each series' values aggregated per $__interval (at least a day): over its days, or its weeks or months.

    `filters` over v, in their order, with RANGE where the range's filter goes.
    """

    series: str
    filters: tuple[str, ...]
    aggregate: Aggregate = MEAN
    name: str = "value"

    def sql(self) -> str:
        a = self.aggregate
        daily = self._select(a.days, 'v."timestamp"', a.day_columns, "evmon.metric_values v")
        rollup = self._select(a.rollups, "v.period_start", a.rollup_columns, ROLLUPS)
        daily += _where(self.filters, _DAYS_IN_RANGE, " " * 6) + f") {a.alias}\nGROUP BY 1, 2"
        rollup += _where(self.filters, _ROLLUPS_IN_RANGE, " " * 6) + f") {a.alias}\nGROUP BY 1, 2"
        return _by_range(daily, rollup, "1")

    def _select(self, value: str, time: str, columns: str, source: str) -> str:
        a = self.aggregate.alias
        return (
            f"SELECT $__unixEpochGroupAlias({a}.epoch, $__interval), {a}.metric, {value} AS {self.name}\n"
            f"FROM (SELECT date_part('epoch', {time}) AS epoch,\n             {self.series} AS metric, {columns}\n"
            f"      FROM {source}\n      WHERE "
        )


# the Data quality dashboard's per-column means select the metric type too, unused (as their SQL always did)
COLUMN_MEAN = replace(MEAN, day_columns="v.metric_type, v.value")


def weekly(what: str) -> str:
    """What a binned panel's description says of its long ranges."""
    return f" Long ranges (about a year and more) show weekly {what} of the daily values, to keep the panel fast."
