"""The expander against Grafana's own expectations (macros_test.go, SqlDatasource.ts), exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.grafana.grafana_sql import (
    ALL,
    GrafanaSQLError,
    TimeRange,
    Variable,
    expand,
    expand_macros,
    format_interval,
    go_float,
    interpolate_variables,
    panel_interval,
    parse_go_duration,
    rfc3339_nano,
    seconds_to_hms,
)

FROM = datetime(2018, 4, 12, 18, 0, tzinfo=UTC)
RANGE = TimeRange(FROM, FROM + timedelta(minutes=5))


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("select $__time(time_column)", 'select time_column AS "time"'),
        ("select min($__time(time_column))", 'select min(time_column AS "time")'),
        ("select $__timeEpoch(ts)", 'select extract(epoch from ts) as "time"'),
        (
            "WHERE $__timeFilter(time_column)",
            "WHERE time_column BETWEEN '2018-04-12T18:00:00Z' AND '2018-04-12T18:05:00Z'",
        ),
        ("select $__timeFrom()", "select '2018-04-12T18:00:00Z'"),
        ("select $__timeTo()", "select '2018-04-12T18:05:00Z'"),
        ("SELECT $__timeGroup(time_column,'5m')", "SELECT floor(extract(epoch from time_column)/300)*300"),
        (
            "SELECT $__timeGroupAlias(time_column,'5m')",
            'SELECT floor(extract(epoch from time_column)/300)*300 AS "time"',
        ),
        # pre-5.3 compatibility: a ',' right after $__timeGroup(...) means the alias form
        (
            "SELECT $__timeGroup(time_column,'5m'), value",
            'SELECT floor(extract(epoch from time_column)/300)*300 AS "time", value',
        ),
        (
            "SELECT $__timeGroup(time_column,'5m') as time, value",
            "SELECT floor(extract(epoch from time_column)/300)*300 as time, value",
        ),
        ("$__timeGroup(time_column , '5m')", "floor(extract(epoch from time_column)/300)*300"),
        ("GROUP BY $__timeGroup(t, '1d')", "GROUP BY floor(extract(epoch from t)/86400)*86400"),
        ("GROUP BY $__timeGroup(t, '12d')", "GROUP BY floor(extract(epoch from t)/1.0368e+06)*1.0368e+06"),
        ("GROUP BY $__timeGroup(t, '1h', NULL)", "GROUP BY floor(extract(epoch from t)/3600)*3600"),
        ("GROUP BY $__timeGroup(t, '1h', 0)", "GROUP BY floor(extract(epoch from t)/3600)*3600"),
        (
            "SELECT $__unixEpochGroup(time_column+time_adjustment,'5m')",
            "SELECT floor((time_column+time_adjustment)/300)*300",
        ),
        (
            "SELECT $__unixEpochGroupAlias(time_column,'5m')",
            'SELECT floor((time_column)/300)*300 AS "time"',
        ),
        ("select $__unixEpochFilter(time)", "select time >= 1523556000 AND time <= 1523556300"),
        (
            "select $__unixEpochNanoFilter(time)",
            "select time >= 1523556000000000000 AND time <= 1523556300000000000",
        ),
        ("select $__unixEpochNanoFrom()", "select 1523556000000000000"),
        ("select $__unixEpochNanoTo()", "select 1523556300000000000"),
        ("select $__unixEpochFrom(), $__unixEpochTo()", "select 1523556000, 1523556300"),
        ("select '$__interval', $__interval_ms", "select '1m', 60000"),
    ],
)
def test_macros_expand_as_grafana_does(sql: str, expected: str) -> None:
    assert expand_macros(sql, RANGE) == expected


def test_time_filter_formats_rfc3339_nano_in_utc() -> None:
    plus2 = datetime(1960, 2, 1, 11, 0, 0, 500000, tzinfo=timezone(timedelta(hours=2)))
    late = TimeRange(plus2, datetime(1980, 2, 3, 8, 0, 0, 500000, tzinfo=UTC))
    assert expand_macros("WHERE $__timeFilter(c)", late) == (
        "WHERE c BETWEEN '1960-02-01T09:00:00.5Z' AND '1980-02-03T08:00:00.5Z'"
    )
    assert (
        expand_macros("select $__unixEpochFilter(t)", late) == "select t >= -312908400 AND t <= 318412800"
    )  # Go floors
    assert rfc3339_nano(datetime(2026, 3, 31, 0, 0, 0, 120000, tzinfo=UTC)) == "2026-03-31T00:00:00.12Z"


def test_a_timegroup_alias_is_decided_by_the_first_occurrence() -> None:
    # Grafana looks for a ',' after the FIRST occurrence of the same macro text (strings.Index)
    sql = "SELECT $__timeGroup(t,'1h') AS x, $__timeGroup(t,'1h'), v"
    assert (
        expand_macros(sql, RANGE)
        == "SELECT floor(extract(epoch from t)/3600)*3600 AS x, floor(extract(epoch from t)/3600)*3600, v"
    )


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("$__timeGroup(t)", "needs time column and interval"),
        ("$__timeGroup(t, 'soon')", "error parsing interval"),
        ("$__timeGroup(t, '1h', sometimes)", "error parsing fill value"),
        ("$__nope(t)", 'unknown macro "__nope"'),
    ],
)
def test_bad_macros_are_errors(sql: str, message: str) -> None:
    with pytest.raises(GrafanaSQLError, match=message):
        expand_macros(sql, RANGE)


def test_go_formats() -> None:
    assert [go_float(x) for x in (300.0, 86400.0, 604800.0, 1036800.0, 2592000.0, 0.5, 1e-05, -2.5)] == [
        "300", "86400", "604800", "1.0368e+06", "2.592e+06", "0.5", "1e-05", "-2.5",
    ]  # fmt: skip
    assert [parse_go_duration(t) for t in ("300ms", "1.5h", "2h45m", "-1m", "0")] == [0.3, 5400.0, 9900.0, -60.0, 0.0]
    assert [format_interval(timedelta(seconds=s)) for s in (0.0005, 0.02, 30, 300, 7200, 86400 * 3, 86400 * 400)] == [
        "1ms", "20ms", "30s", "5m", "2h", "3d", "1y",
    ]  # fmt: skip
    with pytest.raises(GrafanaSQLError):
        parse_go_duration("1d")  # days are ParseInterval's, not ParseDuration's


PROJECT = Variable("project", [ALL], ["credit", "taxi"], multi=True, include_all=True)


@pytest.mark.parametrize(
    ("variable", "sql", "expected"),
    [
        # a single value of a plain variable: raw, quotes doubled (SQL writes the quotes)
        (Variable("name", "O'Brien"), "WHERE n = '$name'", "WHERE n = 'O''Brien'"),
        (Variable("name", "x"), "WHERE n = '${name}' OR m = '[[name]]'", "WHERE n = 'x' OR m = 'x'"),
        # multi-value / include-all: quoted literals joined by commas
        (PROJECT, "WHERE p IN ($project)", "WHERE p IN ('credit','taxi')"),
        (Variable("project", ["a'b"], ["a'b", "c"], multi=True), "IN ($project)", "IN ('a''b')"),
        (Variable("project", "one", ["one"], include_all=True), "IN ($project)", "IN ('one')"),
        (Variable("project", [ALL], [], multi=True, include_all=True), "IN ($project)", "IN ()"),
        # a custom all value goes in unformatted
        (Variable("p", ALL, ["a"], True, True, all_value="SELECT name FROM t"), "IN ($p)", "IN (SELECT name FROM t)"),
        # explicit formats
        (PROJECT, "${project:csv}|${project:raw}", "credit,taxi|credit,taxi"),
        (Variable("p", ["it's"], multi=True), "${p:sqlstring}", "'it''s'"),
        # unknown names, macros and longer names stay for later
        (PROJECT, "$__timeFilter(t) AND $projects AND $other", "$__timeFilter(t) AND $projects AND $other"),
    ],
)
def test_template_variables(variable: Variable, sql: str, expected: str) -> None:
    assert interpolate_variables(sql, {variable.name: variable}) == expected


def test_unsupported_formats_are_errors() -> None:
    with pytest.raises(GrafanaSQLError, match="format 'singlequote'"):
        interpolate_variables("${project:singlequote}", {"project": PROJECT})


def test_variables_first_then_macros() -> None:
    sql = (
        "SELECT $__time(t), v FROM x WHERE p IN ($project) AND $__timeFilter(t) AND $__interval_ms > 0 AND $__from > 0"
    )
    assert expand(sql, {"project": PROJECT}, RANGE, timedelta(minutes=5)) == (
        "SELECT t AS \"time\", v FROM x WHERE p IN ('credit','taxi') "
        "AND t BETWEEN '2018-04-12T18:00:00Z' AND '2018-04-12T18:05:00Z' AND 300000 > 0 AND 1523556000000 > 0"
    )


def test_relative_ranges_are_millisecond_precise() -> None:
    now = datetime(2026, 4, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert TimeRange.last(timedelta(days=1), now) == TimeRange(
        datetime(2026, 3, 31, 12, 0, 0, 123000, tzinfo=UTC), datetime(2026, 4, 1, 12, 0, 0, 123000, tzinfo=UTC)
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        TimeRange(datetime(2026, 1, 1), now)


@pytest.mark.parametrize(
    ("span", "points", "min_interval", "expected"),
    [
        (timedelta(hours=6), 1000, "1m", timedelta(minutes=1)),  # 21.6 s rounds to 20 s, below the 1m floor
        (timedelta(days=1), 1000, "1m", timedelta(minutes=1)),  # 86.4 s -> 1m
        (timedelta(days=7), 1000, "1m", timedelta(minutes=10)),  # 604.8 s -> 10m
        (timedelta(days=30), 50, "1d", timedelta(days=1)),  # 14.4 h -> 12 h, below the 1d floor
        (timedelta(days=365), 50, "1d", timedelta(days=7)),  # 7.3 d -> 1w
        (timedelta(days=730), 50, "1d", timedelta(days=7)),  # 14.6 d -> 1w
        (timedelta(days=1500), 50, "1d", timedelta(days=30)),  # 30 d -> 30d
    ],
)
def test_panel_interval_as_the_front_end_computes_it(
    span: timedelta, points: int, min_interval: str, expected: timedelta
) -> None:
    now = datetime(2026, 4, 1, tzinfo=UTC)
    assert panel_interval(TimeRange.last(span, now), points, min_interval) == expected


def test_the_front_end_writes_interval_in_its_largest_unit() -> None:
    assert [seconds_to_hms(s) for s in (604800, 86400, 90061, 21600, 60, 20, 0.02, 31536000 * 2)] == [
        "7d", "1d", "1d", "6h", "1m", "20s", "20ms", "2y",
    ]  # fmt: skip
    range_1y = TimeRange.last(timedelta(days=365), datetime(2026, 4, 1, tzinfo=UTC))
    weekly = expand("SELECT $__timeGroupAlias(t, $__interval)", {}, range_1y, timedelta(days=7))
    assert weekly == 'SELECT floor(extract(epoch from t)/604800)*604800 AS "time"'
