"""CSV files, one at a time: the readable rows, the timestamp span they give, what is wrong.

A CSV file has no statistics: its span is known only from its rows. A local file's summary
(columns, rows, span) comes from a scan of its timestamp column alone, in chunks: a 164 MB file
in 1.9 s and 130 MB instead of 4 s and 550 MB for parsing it whole, so a day that lies outside a
big file does not pay for its rows. The summary is kept per process, and only the few
files a window needs are parsed whole. A file the scan cannot vouch for (timestamps whose format
is not one for all rows, a broken encoding, ...) is parsed whole to summarise it, as before.
A file with a broken line keeps its good rows, so its span is still known and its problem
fails only the days it covers (evmon.sources.read decides that; the scan does not see such a
line, so the file's problem shows when a day that needs it parses it whole). A header that
repeats a column is recorded (pandas would read the second 'x' as 'x.1'). A file on an object
store (a URL) is fetched whole in one request and parsed whole; a failure of the store raises
StoreError and is not kept: the next window asks again.
"""

from __future__ import annotations

import functools
import io
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pandas.tseries.api import guess_datetime_format

from evmon.config.locations import is_url
from evmon.sources.remote import compression_of, read_bytes
from evmon.sources.schema import Span, header_names, repeated

_TOKENIZE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_RENAMED = re.compile(r"^(.*)\.\d+$")  # how pandas renames a repeated column: x, x.1, x.2
SCAN_CHUNK_ROWS = 500_000


@dataclass(frozen=True)
class CsvRows:
    """A CSV file as pandas read it: its good rows, and why some (or all) could not be read."""

    frame: pd.DataFrame
    problem: str | None = None
    repeated: dict[str, int] = field(default_factory=dict)  # header names that appear more than once


@dataclass(frozen=True)
class CsvFile:
    """A source file with its rows' timestamps: naive local (as written) or aware UTC."""

    frame: pd.DataFrame
    stamps: pd.Series | None  # None when the timestamp column is missing or holds no timestamps
    span: Span | None  # None when unknown (no usable timestamps): the file may hold any day
    problem: str | None
    repeated: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CsvSummary:
    """What a window needs to know of a file before reading its rows."""

    columns: tuple[str, ...]
    rows: int
    span: Span | None
    problem: str | None  # None from a scan: a broken line shows only when the file is parsed whole
    repeated: dict[str, int] = field(default_factory=dict)


def read_csv_rows(path: str) -> CsvRows:
    """A CSV file's (local path or URL) rows; a broken line or bytes that are not UTF-8 are a problem,
    not a failure. StoreError when an object store cannot give the file.

    The fast C parser reads a good file; only when it fails, a second, tolerant read (the python
    engine, skipping bad lines, replacing undecodable bytes) keeps the good rows.
    """
    data = read_bytes(path) if is_url(path) else None
    compression = "infer" if data is None else compression_of(path)

    def source() -> str | io.BytesIO:
        return path if data is None else io.BytesIO(data)

    try:
        frame = pd.read_csv(source(), compression=compression)
        return CsvRows(frame, repeated=_repeated(frame, source, compression))
    except FileNotFoundError:
        return CsvRows(pd.DataFrame(), "does not exist (any more)")
    except pd.errors.EmptyDataError:
        return CsvRows(pd.DataFrame())  # no header, no rows: holds no day
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        first = exc
    except OSError as exc:
        return CsvRows(pd.DataFrame(), f"cannot be read: {exc}")
    bad_lines: list[list[str]] = []

    def skip(line: list[str]) -> None:
        bad_lines.append(line)

    try:
        frame = pd.read_csv(
            source(), compression=compression, engine="python", on_bad_lines=skip, encoding_errors="replace"
        )
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        return CsvRows(pd.DataFrame(), f"cannot be read as CSV: {_one_line(exc)}")
    return CsvRows(frame, _describe(first, len(bad_lines)), _repeated(frame, source, compression))


def _repeated(frame: pd.DataFrame, source: Callable[[], str | io.BytesIO], compression: Any) -> dict[str, int]:
    """The header's repeated names; the header is read again only when pandas renamed a column so."""
    names = {str(c) for c in frame.columns}
    if not any((m := _RENAMED.match(name)) is not None and m.group(1) in names for name in names):
        return {}
    try:
        return repeated(header_names(source(), compression))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}


def _describe(exc: Exception, bad_lines: int) -> str:
    if isinstance(exc, UnicodeDecodeError):
        byte = exc.object[exc.start : exc.start + 1].hex()
        return f"is not UTF-8 text (byte 0x{byte}: {exc.reason}); expected UTF-8"
    match = _TOKENIZE.search(str(exc))
    if match is None:
        return f"cannot be read as CSV: {_one_line(exc)}"
    expected, line, saw = match.groups()
    more = f" ({bad_lines} such lines)" if bad_lines > 1 else ""
    return f"line {line} has {saw} fields, expected {expected} as in the header{more}"


def _one_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@functools.lru_cache(maxsize=64)
def csv_file(path: str, size: int, version: int | str, ts_col: str) -> CsvFile:
    """A CSV source file, parsed once per process while it is unchanged (size, mtime or ETag)."""
    rows = read_csv_rows(path)
    frame, problem = rows.frame, rows.problem
    if ts_col not in frame.columns:
        return CsvFile(frame, None, None, problem, rows.repeated)
    stamps, stamp_problem = _timestamps(frame[ts_col], ts_col)
    problem = problem or stamp_problem
    if stamps is None or stamps.isna().all():
        return CsvFile(frame, stamps, None, problem, rows.repeated)
    return CsvFile(frame, stamps, (stamps.min(), stamps.max()), problem, rows.repeated)


@functools.lru_cache(maxsize=65536)
def csv_summary(path: str, size: int, version: int | str, ts_col: str) -> CsvSummary:
    """A file's columns, row count, span and problem, kept longer than its rows.

    A local file is scanned (its timestamp column only); one the scan cannot vouch for, and a
    file on an object store (fetched whole anyway), is parsed whole.
    """
    scanned = None if is_url(path) else _scan(path, ts_col)
    if scanned is not None:
        return scanned
    parsed = csv_file(path, size, version, ts_col)
    columns = tuple(str(c) for c in parsed.frame.columns)
    return CsvSummary(columns, len(parsed.frame), parsed.span, parsed.problem, parsed.repeated)


def _scan(path: str, ts_col: str) -> CsvSummary | None:
    """A local file's summary from its header and its timestamp column, read in chunks; None when
    only parsing it whole can tell (no such column, non-timestamps, an unreadable byte, ...).

    The stamps are parsed with the format pandas guesses from the first one (what parsing the
    column whole does), and every stamp must fit it: the span is the one the whole parse gives.
    """
    try:
        names = header_names(path)
        repeats = repeated(names)
        if ts_col not in names or ts_col in repeats:
            return None
        columns = tuple(str(c) for c in pd.read_csv(path, nrows=0).columns)
        rows, low, high, fmt = 0, None, None, None
        for chunk in pd.read_csv(path, usecols=[ts_col], chunksize=SCAN_CHUNK_ROWS):
            raw = chunk[ts_col]
            rows += len(raw)
            present = raw[raw.notna()]
            if present.empty:
                continue
            if pd.api.types.is_numeric_dtype(raw):
                return None
            fmt = fmt or guess_datetime_format(str(present.iloc[0]))
            if fmt is None:
                return None
            stamps = pd.to_datetime(present, errors="coerce", format=fmt)
            if stamps.isna().any():
                return None
            if stamps.dt.tz is not None:
                stamps = stamps.dt.tz_convert("UTC")
            low = stamps.min() if low is None else min(low, stamps.min())
            high = stamps.max() if high is None else max(high, stamps.max())
    except (OSError, ValueError, TypeError, OverflowError, UnicodeDecodeError):
        return None  # pandas' parser and datetime errors are ValueErrors
    if low is None or high is None:
        return None if rows else CsvSummary(columns, 0, None, None, repeats)
    return CsvSummary(columns, rows, (low, high), None, repeats)


def _timestamps(raw: pd.Series, ts_col: str) -> tuple[pd.Series | None, str | None]:
    """The column parsed as timestamps (aware ones in UTC), and what is wrong with it, if anything."""
    if pd.api.types.is_numeric_dtype(raw) and raw.notna().any():
        example = raw[raw.notna()].iloc[0]
        return None, (
            f"timestamp column {ts_col!r} holds numbers, e.g. {example} (row {_row(raw.notna())}); "
            "expected timestamps such as 2026-01-31 23:59:00"
        )
    stamps, error = _parsed(raw)
    if stamps is None:
        return None, f"timestamp column {ts_col!r} holds values pandas cannot read as timestamps: {error}"
    bad = raw.notna() & stamps.isna()
    if bad.any():
        iso, _ = _parsed(raw, "ISO8601")  # the format pandas guessed from the first value may not fit all
        if iso is not None and (raw.notna() & iso.isna()).sum() < bad.sum():
            stamps, bad = iso, raw.notna() & iso.isna()
    if bad.any():
        example = raw[bad].iloc[0]
        return stamps, (
            f"timestamp column {ts_col!r} holds non-timestamps, e.g. {str(example)!r} (row {_row(bad)}); "
            "expected timestamps such as 2026-01-31 23:59:00"
        )
    return stamps, None


def _parsed(raw: pd.Series, fmt: str | None = None) -> tuple[pd.Series | None, str | None]:
    """`raw` as timestamps (NaT where a value is not one; aware ones in UTC), or None and why."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format": bad values are reported
        try:
            stamps = pd.to_datetime(raw, errors="coerce", format=fmt)
        except (ValueError, TypeError):  # offsets that differ (a DST zone): exact in UTC
            try:
                stamps = pd.to_datetime(raw, errors="coerce", format=fmt, utc=True)
            except (ValueError, TypeError) as exc:
                return None, str(exc)
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_convert("UTC")
    return stamps, None


def _row(mask: pd.Series) -> int:
    """The 1-based data row (header not counted) of the first True in `mask`."""
    return int(mask.to_numpy().argmax()) + 1
