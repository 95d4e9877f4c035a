"""Long time ranges read the bridge's weekly or monthly rollups (evmon.metric_rollups), short ones the daily rows.

A converted panel's SQL is its daily query and its rollup query joined by UNION ALL, each guarded by
the range's length: Postgres evaluates the guards once, before reading anything (a one-time filter),
so only one branch runs. Up to 92 days a panel shows each day; beyond, one point a week (its Monday,
UTC); beyond 1100 days (three years), one a month. A rollup row holds the count, sum, min and max of
its daily values (bridge/rollups.py keeps them equal to their daily rows), so a weekly point is the
mean of its days, and a min or max panel the week's lowest or highest.
"""

from __future__ import annotations

import re

DAILY_UP_TO_DAYS = 92
WEEKLY_UP_TO_DAYS = 1100
SPAN = "($__timeTo()::timestamptz - $__timeFrom()::timestamptz)"
SHORT = f"{SPAN} <= interval '{DAILY_UP_TO_DAYS} days'"
LONG = f"{SPAN} > interval '{DAILY_UP_TO_DAYS} days'"
GRAIN = f"(CASE WHEN {SPAN} > interval '{WEEKLY_UP_TO_DAYS} days' THEN 'month' ELSE 'week' END)"
# the rollup branch's filter on evmon.metric_rollups v: the range's grain, the range, the long-range guard
ROLLUP_WHERE = f"v.grain = {GRAIN} AND {LONG}\n        AND $__timeFilter(v.period_start)"
ROLLUP_NOTE = (
    f" Over ranges longer than {DAILY_UP_TO_DAYS} days each point stands for a week (over {WEEKLY_UP_TO_DAYS} days, a"
    " month), read from the bridge's rollups: the mean of its days (a min or max: the lowest or highest; a drift"
    " verdict: drift on any day)."
)
# whole weeks inside the range [from, to]: Mondays (UTC) m with WHOLE_WEEKS_FROM <= m < WHOLE_WEEKS_TO; a count
# over the range adds those weeks' rollups to the daily rows before and after them (exact, whatever the range)
WHOLE_WEEKS_FROM = (
    "((date_trunc('week', ($__timeFrom()::timestamptz AT TIME ZONE 'UTC') - interval '1 microsecond')"
    " + interval '7 days') AT TIME ZONE 'UTC')"
)
WHOLE_WEEKS_TO = "(date_trunc('week', $__timeTo()::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"
BEFORE_WHOLE_WEEKS = f'v."timestamp" >= $__timeFrom()::timestamptz AND v."timestamp" < {WHOLE_WEEKS_FROM}'
AFTER_WHOLE_WEEKS = (
    f'v."timestamp" >= greatest({WHOLE_WEEKS_FROM}, {WHOLE_WEEKS_TO}) AND v."timestamp" <= $__timeTo()::timestamptz'
)
IN_WHOLE_WEEKS = f"v.grain = 'week' AND v.period_start >= {WHOLE_WEEKS_FROM} AND v.period_start < {WHOLE_WEEKS_TO}"
_TIME_FILTER = re.compile(r"\$__timeFilter\([^)]*\)")
_ORDER_BY = re.compile(r"\n\s*ORDER BY ")


def by_range(daily: str, rollup: str) -> str:
    """The panel's daily query up to DAILY_UP_TO_DAYS, its rollup query beyond; the daily query's ORDER BY last."""
    parts = _ORDER_BY.split(daily.rstrip())
    if len(parts) != 2:
        raise ValueError("the daily query must end with one ORDER BY")
    body, order = parts
    body, found = _TIME_FILTER.subn(lambda match: f"{match.group(0)} AND {SHORT}", body, count=1)
    if not found:
        raise ValueError("the daily query has no $__timeFilter(...) to guard")
    if "evmon.metric_rollups v" not in rollup or "$__timeFilter(v.period_start)" not in rollup:
        raise ValueError("the rollup query must read evmon.metric_rollups v with ROLLUP_WHERE")
    return f"{body}\nUNION ALL\n{rollup.strip()}\nORDER BY {order}\n"


def reads_rollups(sql: str) -> bool:
    return "evmon.metric_rollups" in sql
