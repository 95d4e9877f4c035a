"""The SQL Grafana sends to PostgreSQL, reproduced without Grafana: template variables, then macros.

No Grafana server runs on the machines that test evmon, so the provisioned dashboards and alert
rules are checked by expanding their SQL exactly as Grafana would and running it on a real
Postgres. Grafana does it in two steps, and so does this module:

1. the front end replaces template variables (public/app/features/templating/template_srv.ts with
   the SQL data sources' ``interpolateVariable``, public/app/features/plugins/sql/datasource/
   SqlDatasource.ts): a single value goes in raw with ``'`` doubled (so SQL writes ``'$project'``);
   a value of a multi-value or include-all variable, and every list, become quoted literals joined
   by commas, an empty list nothing (so evmon's SQL writes ``= ANY(ARRAY[$project]::text[])``, valid
   with no options too, where ``IN ($project)`` is not); "All" without a custom all value means every option;
2. the back end expands the global substitutions (``$__interval_ms``, ``$__interval``,
   ``$__unixEpochFrom()``, ``$__unixEpochTo()``; pkg/tsdb/grafana-postgresql-datasource/sqleng/
   sql_engine.go) and then the macros matching ``\\$([_a-zA-Z0-9]+)\\(([^\\)]*)\\)`` (macros.go).

Times are formatted as Go formats them: RFC3339Nano in UTC, and intervals with ``%v`` of a float
(``86400``, ``1.0368e+06``). SQL comments are not stripped: some Grafana versions strip them
before expanding, others do not, so provisioned SQL should carry none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

ALL = "$__all"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# template_srv.ts's variableRegex: $var, [[var]] / [[var:fmt]], ${var}, ${var.path}, ${var:fmt}
_VARIABLE = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}",
    re.ASCII,
)
_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")
_DATE_UNIT = re.compile(r"^(\d+)([dwMy])$")
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": Decimal(1) / Decimal(10**9),
    "us": Decimal(1) / Decimal(10**6),
    "µs": Decimal(1) / Decimal(10**6),
    "μs": Decimal(1) / Decimal(10**6),
    "ms": Decimal(1) / Decimal(1000),
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3600),
}


class GrafanaSQLError(ValueError):
    """The SQL cannot be expanded (Grafana would answer with an error too)."""


@dataclass(frozen=True)
class TimeRange:
    """A dashboard's or an alert query's time range (aware datetimes)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("TimeRange needs timezone-aware datetimes")

    @classmethod
    def last(cls, span: timedelta, now: datetime) -> TimeRange:
        """`now - span` to `now`, as Grafana computes relative ranges (to the millisecond)."""
        end = now.astimezone(UTC).replace(microsecond=now.microsecond // 1000 * 1000)
        return cls(end - span, end)


@dataclass(frozen=True)
class Variable:
    """One template variable as the front end holds it: its current value(s) and its options."""

    name: str
    current: str | Sequence[str]  # ALL (or [ALL]) means "All"
    options: Sequence[str] = ()  # every option's value, for "All"
    multi: bool = False
    include_all: bool = False
    all_value: str | None = None  # a custom "All" value: inserted raw, itself interpolated

    @property
    def is_all(self) -> bool:
        if isinstance(self.current, str):
            return self.current == ALL
        return bool(self.current) and self.current[0] == ALL


# ---- step 1: template variables (the front end) -------------------------------------------


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_interpolate(value: str | Sequence[str], variable: Variable) -> str:
    """SqlDatasource.interpolateVariable."""
    if isinstance(value, str):
        if variable.multi or variable.include_all:
            return _quote_literal(value)
        return value.replace("'", "''")
    return ",".join(_quote_literal(v) for v in value)


def _format(value: str | Sequence[str], fmt: str | None, variable: Variable) -> str:
    if fmt is None:
        return _sql_interpolate(value, variable)
    values = [value] if isinstance(value, str) else list(value)
    if fmt in ("raw", "csv"):
        return ",".join(values)
    if fmt == "sqlstring":
        return ",".join(_quote_literal(v) for v in values)
    raise GrafanaSQLError(f"variable format {fmt!r} of ${{{variable.name}}} is not supported by this expander")


def interpolate_variables(
    sql: str, variables: Mapping[str, Variable], builtins: Mapping[str, str] | None = None
) -> str:
    """templateSrv.replace(sql, scopedVars, interpolateVariable): unknown names are left as they are.

    `builtins` are the panel's scoped variables (``__interval``, ``__interval_ms``, ``__from``,
    ``__to``), inserted like single values.
    """
    scoped = dict(builtins or {})

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(6)
        if match.group(5):
            raise GrafanaSQLError(f"field paths (${{{name}.{match.group(5)}}}) are not supported by this expander")
        if name in scoped:
            return _format(scoped[name], fmt, Variable(name, scoped[name]))
        variable = variables.get(name)
        if variable is None:
            return match.group(0)
        value: str | Sequence[str] = variable.current
        if variable.is_all:
            if variable.all_value is not None:
                return variable.all_value  # a custom all value goes in unformatted
            value = [v for v in variable.options if v != ALL]
        return _format(value, fmt, variable)

    return _VARIABLE.sub(replace, sql)


def scoped_builtins(time_range: TimeRange, interval: timedelta) -> dict[str, str]:
    """The scoped variables a panel query gets: $__from/$__to (epoch ms), $__interval(_ms)."""
    return {
        "__from": str(_unix_ms(time_range.start)),
        "__to": str(_unix_ms(time_range.end)),
        "__interval": seconds_to_hms(interval.total_seconds()),
        "__interval_ms": str(interval // timedelta(milliseconds=1)),
    }


# rangeutil.roundInterval: (below this many ms, round to this many ms)
_ROUND_MS = [
    (10, 1), (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000), (3500, 2000),
    (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000), (45000, 30000), (90000, 60000),
    (210000, 120000), (450000, 300000), (750000, 600000), (1050000, 900000), (1500000, 1200000),
    (2700000, 1800000), (5400000, 3600000), (9000000, 7200000), (16200000, 10800000), (32400000, 21600000),
    (86400000, 43200000), (604800000, 86400000), (1814400000, 604800000), (3628800000, 2592000000),
]  # fmt: skip
_INTERVAL_UNIT_S = {"y": 31536000, "M": 2592000, "w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}


def panel_interval(time_range: TimeRange, max_data_points: int, min_interval: str = "1m") -> timedelta:
    """rangeutil.calculateInterval: the range over maxDataPoints, rounded, at least the min interval.

    A panel's min interval is its `interval`, else the data source's timeInterval ('1m' for SQL
    data sources); maxDataPoints is the panel's, else its width in pixels.
    """
    span_ms = (time_range.end - time_range.start) / timedelta(milliseconds=1)
    raw = span_ms / max_data_points
    rounded = next((to for below, to in _ROUND_MS if raw < below), 31536000000)
    match = re.match(r"^(-?\d+(?:\.\d+)?)(ms|[Mwdhmsy])", min_interval)
    if match is None:
        raise GrafanaSQLError(f"invalid interval {min_interval!r}")
    low = _INTERVAL_UNIT_S[match.group(2)] * 1000 * int(float(match.group(1)))
    return timedelta(milliseconds=max(rounded, low))


def seconds_to_hms(seconds: float) -> str:
    """rangeutil.secondsToHms: the largest whole unit, as the front end writes $__interval ('1d', '7d')."""
    year_rest = seconds % 31536000
    parts = [
        ("y", seconds // 31536000),
        ("d", year_rest // 86400),
        ("h", year_rest % 86400 // 3600),
        ("m", year_rest % 86400 % 3600 // 60),
        ("s", year_rest % 86400 % 3600 % 60),
    ]
    for suffix, count in parts:
        if int(count):
            return f"{int(count)}{suffix}"
    ms = int(seconds * 1000)
    return f"{ms}ms" if ms else "less than a millisecond"


# ---- step 2: global substitutions and macros (the back end) --------------------------------


def expand_macros(sql: str, time_range: TimeRange, interval: timedelta = timedelta(minutes=1)) -> str:
    """sqleng.Interpolate, then the PostgreSQL macro engine's Interpolate (no TimescaleDB)."""
    sql = sql.replace("$__interval_ms", str(interval // timedelta(milliseconds=1)))
    sql = sql.replace("$__interval", format_interval(interval))
    sql = sql.replace("$__unixEpochFrom()", str(_unix(time_range.start)))
    sql = sql.replace("$__unixEpochTo()", str(_unix(time_range.end)))
    original = sql

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "__timeGroup":
            # pre-5.3 compatibility: a ',' right after the macro's FIRST occurrence adds AS "time"
            index = original.find(match.group(0))
            if index >= 0:
                index += len(match.group(0))
                if len(original) > index and original[index] == ",":
                    name = "__timeGroupAlias"
        args = [arg.strip(" ") for arg in match.group(2).split(",")]
        return _macro(name, args, time_range)

    return _MACRO.sub(replace, sql)


def _macro(name: str, args: list[str], time_range: TimeRange) -> str:
    start, end = time_range.start, time_range.end
    column = args[0]  # Go's strings.Split("", ",") is [""]: an empty argument is not an error
    if name == "__time":
        return f'{column} AS "time"'
    if name == "__timeEpoch":
        return f'extract(epoch from {column}) as "time"'
    if name == "__timeFilter":
        return f"{column} BETWEEN '{rfc3339_nano(start)}' AND '{rfc3339_nano(end)}'"
    if name == "__timeFrom":
        return f"'{rfc3339_nano(start)}'"
    if name == "__timeTo":
        return f"'{rfc3339_nano(end)}'"
    if name in ("__timeGroup", "__timeGroupAlias", "__unixEpochGroup", "__unixEpochGroupAlias"):
        if len(args) < 2:
            raise GrafanaSQLError(f"macro {name} needs time column and interval and optional fill value")
        seconds = go_float(_interval_seconds(args[1].strip("'")))
        if len(args) == 3:
            _check_fill(args[2])
        if name.startswith("__unixEpochGroup"):
            group = f"floor(({column})/{seconds})*{seconds}"
        else:
            group = f"floor(extract(epoch from {column})/{seconds})*{seconds}"
        return group + ' AS "time"' if name.endswith("Alias") else group
    if name == "__unixEpochFilter":
        return f"{column} >= {_unix(start)} AND {column} <= {_unix(end)}"
    if name == "__unixEpochNanoFilter":
        return f"{column} >= {_unix_nano(start)} AND {column} <= {_unix_nano(end)}"
    if name == "__unixEpochNanoFrom":
        return str(_unix_nano(start))
    if name == "__unixEpochNanoTo":
        return str(_unix_nano(end))
    raise GrafanaSQLError(f'unknown macro "{name}"')


def _check_fill(value: str) -> None:
    """sqleng.SetupFillmode: NULL, previous, or a number (it changes the result, not the SQL)."""
    if value in ("NULL", "previous"):
        return
    try:
        float(value)
    except ValueError:
        raise GrafanaSQLError(f"error parsing fill value {value}") from None


def expand(
    sql: str,
    variables: Mapping[str, Variable],
    time_range: TimeRange,
    interval: timedelta = timedelta(minutes=1),
) -> str:
    """What Grafana sends to PostgreSQL for `sql`: variables first (front end), then macros (back end)."""
    interpolated = interpolate_variables(sql, variables, scoped_builtins(time_range, interval))
    return expand_macros(interpolated, time_range, interval)


# ---- Go's formatting of times, durations and floats ----------------------------------------


def rfc3339_nano(moment: datetime) -> str:
    """Go's time.RFC3339Nano of moment.UTC(): fraction without trailing zeros, 'Z'."""
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += "." + f"{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def _unix(moment: datetime) -> int:
    return (moment.astimezone(UTC) - _EPOCH) // timedelta(seconds=1)


def _unix_ms(moment: datetime) -> int:
    return (moment.astimezone(UTC) - _EPOCH) // timedelta(milliseconds=1)


def _unix_nano(moment: datetime) -> int:
    return (moment.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1) * 1000


def go_float(value: float) -> str:
    """fmt.Sprintf("%v", value) of a float64: %g with the shortest digits, exponent from 1e+06 on."""
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    digits_tuple = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(str(d) for d in digits_tuple.digits)
    exponent = digits_tuple.exponent
    assert isinstance(exponent, int)
    point = len(digits) + exponent  # the decimal point's position in `digits`
    exp = point - 1
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def format_interval(interval: timedelta) -> str:
    """gtime.FormatInterval: the largest whole unit (y, d, h, m, s, ms)."""
    units = [
        ("y", timedelta(days=365)),
        ("d", timedelta(days=1)),
        ("h", timedelta(hours=1)),
        ("m", timedelta(minutes=1)),
        ("s", timedelta(seconds=1)),
        ("ms", timedelta(milliseconds=1)),
    ]
    for suffix, unit in units:
        if interval >= unit:
            return f"{interval // unit}{suffix}"
    return "1ms"


def _interval_seconds(text: str, now: datetime | None = None) -> float:
    """gtime.ParseInterval(text).Seconds(): Go durations, or N d/w/M/y counted back from now (UTC)."""
    if text == "":
        raise GrafanaSQLError(f"error parsing interval {text!r}")
    match = _DATE_UNIT.match(text)
    if text[-1] not in "dwMy" or match is None:
        return parse_go_duration(text)
    count, unit = int(match.group(1)), match.group(2)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    if unit == "d":
        return float(count * 86400)
    if unit == "w":
        return float(count * 7 * 86400)
    months = count if unit == "M" else 12 * count
    return (moment - _add_months(moment, -months)).total_seconds()


def _add_months(moment: datetime, months: int) -> datetime:
    """Go's AddDate(0, months, 0): day overflow rolls into the next month (Mar 31 - 1M = Mar 3)."""
    total = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(total, 12)
    first = moment.replace(year=year, month=month + 1, day=1)
    return first + timedelta(days=moment.day - 1)


def parse_go_duration(text: str) -> float:
    """Go's time.ParseDuration, in seconds: "300ms", "-1.5h", "2h45m"; a bare "0" is allowed."""
    rest = text
    sign = 1
    if rest[:1] in "+-":
        sign = -1 if rest[0] == "-" else 1
        rest = rest[1:]
    if rest == "0":
        return 0.0
    if rest == "":
        raise GrafanaSQLError(f"error parsing interval {text}")
    total = Decimal(0)
    while rest:
        match = _DURATION_PART.match(rest)
        if match is None or match.group(1) in ("", "."):
            raise GrafanaSQLError(f"error parsing interval {text}")
        total += Decimal(match.group(1)) * _DURATION_UNITS[match.group(2)]
        rest = rest[match.end() :]
    return float(sign * total)


def day_start(day: date) -> datetime:
    """Midnight UTC of `day` (dashboards and tests pick ranges in whole days)."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
