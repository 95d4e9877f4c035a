"""Panels over long ranges read the bridge's rollups and show what their daily points aggregate to.

Each panel whose query reads evmon.metric_rollups is run twice on the bridged demo (35 days of both
projects): over the demo days alone (up to 92 days: one point a day, from evmon.metric_values) and
over 200 days (one point a week, from the rollups). Each weekly point must equal its week's daily
points aggregated here in Python the way the panel's description says: their mean, or for a min /
max panel the lowest / highest, for a drift verdict or a count of findings the highest.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from evmon.grafana.ranges import DAILY_UP_TO_DAYS
from tests.conftest import DEMO_END
from tests.grafana.conftest import FIRST_DAY
from tests.grafana.grafana_sql import TimeRange, day_start, expand
from tests.grafana.provisioned import Query, load_dashboards, panel_queries, resolve_variables

QUERIES = [q for d in load_dashboards() for q in panel_queries(d)]
ROLLED = [q for q in QUERIES if "evmon.metric_rollups" in q.sql and q.format == "time_series"]
DAYS_WITH_DRIFT = next(q for q in QUERIES if q.title == "Days with drift per column")
DAILY = TimeRange(day_start(FIRST_DAY) - timedelta(hours=1), day_start(DEMO_END) + timedelta(hours=1))
WEEKLY = TimeRange(day_start(DEMO_END) - timedelta(days=200), day_start(DEMO_END) + timedelta(hours=1))


def _moment(value: Any) -> datetime:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else value.astimezone(UTC)


def _monday(moment: datetime) -> date:
    day = moment.date()
    return day - timedelta(days=day.weekday())


def _points(conn: psycopg.Connection, query: Query, time_range: TimeRange) -> list[tuple[datetime, str, Any]]:
    variables = resolve_variables(conn, query.dashboard, time_range)
    sql = expand(query.sql, variables, time_range, query.interval(time_range))
    return [(_moment(r[0]), str(r[1]), r[2]) for r in conn.execute(sql.encode()).fetchall()]


def _aggregate(query: Query, series: str, values: list[float]) -> float | None:
    numbers = [v for v in values if v is not None and not math.isnan(v)]
    if not numbers:
        return None
    if "min(v.min)" in query.sql:  # "Min and max per column": a series per column and bound
        return min(numbers) if series.endswith(" · min") else max(numbers)
    if "max(v.max)" in query.sql or "v.drifted > 0" in query.sql:
        return max(numbers)
    return math.fsum(numbers) / len(numbers)


def test_the_rolled_up_panels_are_the_long_range_time_series() -> None:
    titles = {q.title for q in ROLLED}
    assert {"Min and max per column", "Median per column", "Drift verdict per column", "Prediction drift"} <= titles
    assert all(q.format == "time_series" for q in ROLLED)
    assert all("Over ranges longer than 92 days" in q.panel["description"] for q in ROLLED)


@pytest.mark.parametrize("query", ROLLED, ids=[q.where for q in ROLLED])
def test_a_weekly_point_is_the_aggregate_of_its_daily_points(query: Query, grafana_conn: psycopg.Connection) -> None:
    assert DAILY.end - DAILY.start <= timedelta(days=DAILY_UP_TO_DAYS)
    daily = _points(grafana_conn, query, DAILY)
    weekly = _points(grafana_conn, query, WEEKLY)
    if not daily:  # no demo project has regression segments: empty both ways
        assert query.title == "Regression: MAE per segment", query.where
        assert not weekly
        return
    assert all(moment.weekday() == 0 and moment.time() == datetime.min.time() for moment, _, _ in weekly), query.where
    assert len(weekly) < len(daily)

    grouped: dict[tuple[date, str], list[Any]] = defaultdict(list)
    for moment, series, value in daily:
        grouped[(_monday(moment), series)].append(value)
    expected = {key: _aggregate(query, key[1], values) for key, values in grouped.items()}
    got = {(moment.date(), series): value for moment, series, value in weekly}
    assert set(got) == set(expected), f"{query.where}: weeks x series differ: {set(got) ^ set(expected)}"
    for key, want in expected.items():
        have = got[key]
        same = (have is None and want is None) or (
            have is not None and want is not None and math.isclose(have, want, rel_tol=1e-9, abs_tol=1e-12)
        )
        assert same, f"{query.where}: week {key[0]} {key[1]!r}: rollup {have} != daily {want}"


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 2, 25), date(2026, 3, 31)),  # the demo days: a Wednesday to a Tuesday
        (date(2025, 9, 1), date(2026, 4, 1)),  # Monday to Wednesday: whole weeks, the days after
        (date(2026, 3, 2), date(2026, 3, 16)),  # Monday to Monday: two whole weeks and one day
        (date(2026, 3, 4), date(2026, 3, 8)),  # inside one week: daily rows only
    ],
)
def test_days_with_drift_counts_the_days_of_any_range(start: date, end: date, grafana_conn: psycopg.Connection) -> None:
    """The bar gauge counts whole weeks from the rollups and the days around them: the same count as the days'."""
    time_range = TimeRange(day_start(start), day_start(end) + timedelta(minutes=30))
    variables = resolve_variables(grafana_conn, DAYS_WITH_DRIFT.dashboard, time_range)
    sql = expand(DAYS_WITH_DRIFT.sql, variables, time_range)
    assert "evmon.metric_rollups" in sql
    shown = {row[0]: row[1] for row in grafana_conn.execute(sql.encode()).fetchall()}
    counted = {
        row[0]: row[1]
        for row in grafana_conn.execute(
            """SELECT project || ' / ' || "column", count(*) FILTER (WHERE drift_detected)
               FROM evmon.metric_values
               WHERE metric_type = 'ValueDrift' AND kind = 'daily' AND "timestamp" BETWEEN %s AND %s
               GROUP BY 1""",
            (time_range.start, time_range.end),
        ).fetchall()
    }
    assert shown == counted
    if start <= FIRST_DAY:
        assert sum(shown.values()) > 0  # the demo's feature-shift days drift
