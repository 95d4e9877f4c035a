"""What a data source holds, known from its schema alone: Parquet footers, CSV header lines,
the columns of a SQL query's result.

Shared by the run-time reads (evmon.sources.read) and `evmon validate` (evmon.sources.validate): the
columns a project needs and the type each role expects, whether a type fits, and each Parquet
file's timestamp span from its footer statistics. Nothing here reads a data page or a data row.
"""

from __future__ import annotations

import bz2
import difflib
import functools
import gzip
import io
import lzma
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from evmon.config.model import Project, SqlSource
from evmon.errors import SourceError
from evmon.sources.remote import StoreError, arrow_paths, open_binary

Expect = Literal["any", "numeric", "timestamp"]
Span = tuple[datetime, datetime]
EXPECTED = {"numeric": "numbers (an integer or floating-point type)", "timestamp": "a timestamp type"}
EMPTY_WINDOW = datetime(2000, 1, 1)  # validate runs a SQL query with :start = :end = this: no rows
MAX_HEADER_BYTES = 1 << 20
_OPENERS: dict[str, Callable[..., Any]] = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


@dataclass(frozen=True)
class Need:
    """A column the project's reports need, the key that declares it, and the type its role expects."""

    column: str
    key: str  # key path inside the project, e.g. columns.numerical[2]
    expect: Expect

    @property
    def role(self) -> str:
        """The key without its list index: columns.numerical."""
        return re.sub(r"\[\d+\]$", "", self.key)


def needs(project: Project, with_timestamp: bool = True) -> list[Need]:
    """Every column the project's presets read, in the order of projects.yaml.

    The target is needed only by a quality preset; then every file must hold it (empty until
    the labels arrive), so that no day's labels silently come out null.
    """
    cols = project.columns
    out = [Need(c, f"columns.numerical[{i}]", "numeric") for i, c in enumerate(cols.numerical)]
    out += [Need(c, f"columns.categorical[{i}]", "any") for i, c in enumerate(cols.categorical)]
    pred = cols.prediction
    if pred is not None:
        out.append(Need(pred.column, "columns.prediction.column", "any" if pred.kind == "label" else "numeric"))
    if project.has_quality and cols.target is not None:
        regression = pred is not None and pred.kind == "regression"
        out.append(Need(cols.target, "columns.target", "numeric" if regression else "any"))
    if with_timestamp:
        out.append(Need(project.source.timestamp_column, "source.timestamp_column", "timestamp"))
    return out


def shown_columns(present: list[str]) -> str:
    """The columns a file has, as a message shows them (at most 30)."""
    return ", ".join(present[:30]) + (", ..." if len(present) > 30 else "")


def did_you_mean(column: str, present: list[str], declared: list[Need]) -> str:
    """'; did you mean 'x'?' for a close match among the present columns no other role declares, else ''."""
    taken = {need.column for need in declared}
    close = difflib.get_close_matches(column, [c for c in present if c not in taken], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def missing_from(project: Project, need: Need, origin: str, present: list[str]) -> str:
    """The run-time message for a needed column that `origin` lacks."""
    return (
        f"{project.name}: column {need.column!r} ({need.role}) is missing from {origin}; "
        f"it has: {shown_columns(present)}{did_you_mean(need.column, present, needs(project))}"
    )


def repeated(names: list[str]) -> dict[str, int]:
    """The column names that appear more than once (a CSV header may repeat one), with how often."""
    counts = Counter(names)
    return {name: count for name, count in counts.items() if count > 1}


def repeated_in(project: Project, need: Need, origin: str, times: int) -> str:
    """The run-time message for a needed column that `origin` has more than once."""
    return (
        f"{project.name}: column {need.column!r} ({need.role}) appears {times} times among the columns of "
        f"{origin}; expected it once"
    )


def format_of(path: str | Path, fmt: str) -> str:
    """'parquet' or 'csv': the configured format, or the one the file's name (or URL) tells."""
    if fmt != "auto":
        return fmt
    name = os.path.basename(str(path)).lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    raise SourceError(f"cannot tell the format of {path}: expected a .parquet or .csv file, or set format")


# --- types ------------------------------------------------------------------------------------


def arrow_fits(expect: Expect, data_type: pa.DataType) -> bool:
    """Whether a Parquet column of this type can play a role expecting `expect`."""
    if pa.types.is_dictionary(data_type):
        data_type = data_type.value_type
    if expect == "numeric":
        checks = (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal, pa.types.is_boolean)
        return any(check(data_type) for check in (*checks, pa.types.is_null))
    if expect == "timestamp":
        return pa.types.is_timestamp(data_type)
    return True


def local_bounds(ts_tz: str, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """An aware window as the naive local times a naive timestamp column holds."""
    zone = ZoneInfo(ts_tz)
    return start.astimezone(zone).replace(tzinfo=None), end.astimezone(zone).replace(tzinfo=None)


def overlaps(span: Span, start: datetime, end: datetime, ts_tz: str) -> bool:
    """Whether rows with timestamps in `span` (inclusive) can lie in [start, end).

    A naive span is compared in the data's local time, as the read's filter compares it.
    """
    low, high = span
    if low.tzinfo is None:
        start, end = local_bounds(ts_tz, start, end)
    return bool(low < end and high >= start)


# --- Parquet ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Footer:
    """A Parquet file as its footer describes it."""

    types: dict[str, pa.DataType]
    rows: int
    span: Span | None  # min and max of the timestamp column; None when the statistics do not say
    error: str | None = None  # why the footer could not be read

    @property
    def columns(self) -> list[str]:
        return list(self.types)


def parquet_footer(path: str, size: int, version: int | str, ts_col: str) -> Footer:
    """A Parquet file's (local path or URL) schema, row count and timestamp span, from its footer only
    (cached per process; size and version (mtime, ETag) in the key make a rewritten file read again)."""
    try:
        return _cached_footer(path, size, version, ts_col)
    except StoreError as exc:  # the store failed, not the file: tried again next time
        return Footer({}, 0, None, str(exc))


@functools.lru_cache(maxsize=65536)
def _cached_footer(path: str, size: int, version: int | str, ts_col: str) -> Footer:
    try:
        [arrow_path], filesystem = arrow_paths([path])
        with pq.ParquetFile(arrow_path, filesystem=filesystem) as parquet:
            schema, meta = parquet.schema_arrow, parquet.metadata
            types = {field.name: field.type for field in schema}
            span = _footer_span(meta, ts_col) if ts_col in types and pa.types.is_timestamp(types[ts_col]) else None
    except StoreError:
        raise
    except (ValueError, OSError, pa.ArrowException) as exc:
        return Footer({}, 0, None, str(exc))
    return Footer(types, meta.num_rows, span)


def _footer_span(meta: pq.FileMetaData, ts_col: str) -> Span | None:
    index = meta.schema.names.index(ts_col)
    lows, highs = [], []
    for group in range(meta.num_row_groups):
        row_group = meta.row_group(group)
        if row_group.num_rows == 0:
            continue
        stats = row_group.column(index).statistics
        if stats is None or not stats.has_min_max:
            return None
        lows.append(pd.Timestamp(stats.min))
        highs.append(pd.Timestamp(stats.max))
    if not lows:
        return None
    low, high = min(lows), max(highs)
    if low.tzinfo is None:
        return low, high
    return low.tz_convert("UTC"), high.tz_convert("UTC")


# --- CSV --------------------------------------------------------------------------------------


def csv_header(path: str) -> list[str]:
    """The column names on a CSV file's (local path or URL) first line, reading that line only.

    Raises ValueError for an empty file and UnicodeDecodeError for a header that is not UTF-8.
    """
    opener = _OPENERS.get(os.path.splitext(path)[1].lower())
    with open_binary(path, MAX_HEADER_BYTES) as raw:
        if opener is None:
            line = raw.readline(MAX_HEADER_BYTES)
        else:
            with opener(raw, "rb") as handle:
                line = handle.readline(MAX_HEADER_BYTES)
    text = line.decode("utf-8-sig")
    if not text.strip():
        raise ValueError("it is empty; expected a header line naming the columns")
    return header_names(io.StringIO(text))


def header_names(source: Any, compression: Any = "infer") -> list[str]:
    """The names on a CSV source's first line as written, a repeated one repeated (pandas would read
    the second 'x' as 'x.1'); an empty one as pandas names it ('Unnamed: 3')."""
    row = pd.read_csv(source, header=None, nrows=1, dtype=str, keep_default_na=False, compression=compression)
    return [str(name) if name != "" else f"Unnamed: {i}" for i, name in enumerate(row.iloc[0].tolist())]


# --- SQL --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SqlColumn:
    """A column of a query's result; kind None when the driver does not say its type (SQLite)."""

    name: str
    kind: Literal["numeric", "timestamp", "other"] | None
    type_name: str


def sql_columns(source: SqlSource, dsn: str) -> list[SqlColumn]:
    """The columns a SQL source's query returns, run on an empty window (:start = :end)."""
    import sqlalchemy as sa

    engine = sql_engine(dsn)
    with engine.connect() as conn:
        result = conn.execute(sa.text(source.query), {"start": EMPTY_WINDOW, "end": EMPTY_WINDOW})
        description = result.cursor.description if result.cursor is not None else None
        names = list(result.keys())
        result.close()
    dbapi = engine.dialect.loaded_dbapi
    number, stamp = getattr(dbapi, "NUMBER", None), getattr(dbapi, "DATETIME", None)
    out = []
    for i, name in enumerate(names):
        column: Any = description[i] if description is not None else None
        code = getattr(column, "type_code", None) if column is not None else None
        kind: Literal["numeric", "timestamp", "other"] | None = None
        if code is not None and number is not None and stamp is not None:
            kind = "numeric" if code == number else "timestamp" if code == stamp else "other"
        type_name = getattr(column, "type_display", None) or str(code)
        out.append(SqlColumn(str(name), kind, str(type_name)))
    return out


def sql_error(exc: Exception) -> str:
    """A driver's error in one line: its class and the first line of its message."""
    original = getattr(exc, "orig", None) or exc
    first = (str(original).strip().splitlines() or [""])[0]
    return f"{type(original).__name__}: {first}"


@functools.lru_cache(maxsize=16)
def sql_engine(dsn: str):  # type: ignore[no-untyped-def]
    """One SQLAlchemy engine per DSN and process."""
    import sqlalchemy as sa

    return sa.create_engine(dsn, pool_pre_ping=True)
