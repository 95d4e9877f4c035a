"""Reading a project's rows for a time window: Parquet/CSV files or a SQL query.

Every read returns only the project's declared columns (plus the timestamp column), with
rows whose timestamp lies in [start, end). A missing column or an unreadable file raises
SourceError naming the project, the column or file, and what was expected.

A bad file fails only the windows it may hold rows of: each file has a timestamp span (Parquet:
its footer statistics; CSV: its readable rows), and only the files whose span overlaps the
window are checked and read. A file whose span cannot be known (an unreadable footer, a missing
or unusable timestamp column) may hold any day, so it fails every window, naming itself:
never a day that silently lacks its rows.

Files may be local or on an object store (an s3://, gs://, abfs:// URL: evmon.sources.remote),
read the same way: footers first, then only the window's row groups and the needed columns.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from evmon.config.locations import is_url, local_path
from evmon.config.model import EvmonConfig, FileSource, Project, SqlSource
from evmon.config.online import ParquetRowLog
from evmon.days import window_utc
from evmon.errors import SourceError
from evmon.sources import csv_files
from evmon.sources.remote import DataFile, StoreError, arrow_paths, data_files, one_file, store_reason
from evmon.sources.schema import (
    EXPECTED,
    Footer,
    Need,
    arrow_fits,
    format_of,
    local_bounds,
    missing_from,
    needs,
    overlaps,
    parquet_footer,
    repeated,
    repeated_in,
    sql_engine,
    sql_error,
)

T = TypeVar("T")


def read_window(config: EvmonConfig, project: Project, start: datetime, end: datetime) -> pd.DataFrame:
    """The project's rows with start <= timestamp < end (aware UTC datetimes)."""
    source = project.source
    if isinstance(source, SqlSource):
        return _read_sql(project, source, start, end)
    files = _source_files(config, project, source)
    if not files:  # the project's own row log, which its service has not written yet: no rows
        return pd.DataFrame(columns=[*project.columns.all_columns(), source.timestamp_column])
    parquet: list[DataFile] = []
    csv: list[DataFile] = []
    for file in files:
        (parquet if _format(project, file.path, source.format) == "parquet" else csv).append(file)
    frames = []
    if parquet:
        frames.append(_read_parquet(project, parquet, source, start, end))
    if csv:
        frames.append(_read_csv(project, csv, source, start, end))
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def read_reference(config: EvmonConfig, project: Project) -> pd.DataFrame:
    """The project's reference rows: the reference file, or the reference window of its source."""
    ref = project.reference
    if ref.path is not None:
        path = located(config, ref.path)
        try:
            file = one_file(path)
        except OSError as exc:
            raise SourceError(f"{project.name}: cannot read the reference file {path}: {store_reason(exc)}") from exc
        except SourceError as exc:
            raise SourceError(f"{project.name}: reference.path {exc}") from exc
        if file is None:
            raise SourceError(f"{project.name}: reference file {path} does not exist (reference.path {ref.path!r})")
        frame, repeats = _reference_file(project, file, _format(project, path, ref.format))
        wanted = needs(project, with_timestamp=False)
        _check_columns(project, wanted, path, [str(c) for c in frame.columns], repeats)
        frame = frame[[c for c in project.columns.all_columns() if c in frame.columns]]
        return numbers_checked(project, wanted, frame, path, lambda i: f"row {i + 1}")
    assert ref.start is not None and ref.end is not None  # guaranteed by the config model
    start, end = window_utc(ref.start, ref.end, project.timezone)
    frame = read_window(config, project, start, end)
    if frame.empty:
        raise SourceError(f"{project.name}: the reference window {ref.start}..{ref.end} has no rows")
    return frame


def numbers_checked(
    project: Project, wanted: list[Need], frame: pd.DataFrame, origin: str, row: Callable[[int], str]
) -> pd.DataFrame:
    """`frame` with its numerical columns as numbers; SourceError naming a value that is not one.

    A column that pandas read as text (a CSV column with a stray word, a SQL text or NUMERIC
    column) is converted when every value in it is a number; `row(i)` names the i-th row.
    """
    for need in wanted:
        if need.expect != "numeric" or need.column not in frame.columns:
            continue
        column = frame[need.column]
        if pd.api.types.is_numeric_dtype(column):
            continue
        numbers, bad = column, column.notna()  # datetimes, durations, lists: no number at all
        if pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column):
            try:
                numbers = pd.to_numeric(column, errors="coerce")
                bad = column.notna() & numbers.isna()
            except (TypeError, ValueError):
                pass
        if bad.any():
            at = int(bad.to_numpy().argmax())
            raise SourceError(
                f"{project.name}: column {need.column!r} ({need.role}) in {origin} holds non-numeric values, "
                f"e.g. {_shown(column.iloc[at])} ({row(at)}); expected numbers"
            )
        frame = frame.assign(**{need.column: numbers})
    return frame


def _shown(value: Any) -> str:
    return repr(str(value)) if isinstance(value, str) else str(value)


def located(config: EvmonConfig, path: str) -> str:
    """A configured path as read: a URL as written, a local path relative to projects.yaml."""
    return path if is_url(path) else str(config.resolve(local_path(path)))


def source_files(config: EvmonConfig, path: str) -> list[DataFile]:
    """The files a configured path or glob matches (OSError when a store cannot list them)."""
    return data_files(located(config, path))


def _source_files(config: EvmonConfig, project: Project, source: FileSource) -> list[DataFile]:
    pattern = located(config, source.path)
    try:
        files = data_files(pattern)
    except OSError as exc:
        raise SourceError(f"{project.name}: cannot list source.path {pattern}: {store_reason(exc)}") from exc
    except SourceError as exc:
        raise SourceError(f"{project.name}: source.path {exc}") from exc
    if not files and not reads_own_row_log(config, project):
        raise SourceError(f"{project.name}: source.path {source.path!r} matches no file (looked for {pattern})")
    return files


def reads_own_row_log(config: EvmonConfig, project: Project) -> bool:
    """Whether the project's source.path lies under its own Parquet row log (online.row_log.path): its daily
    runs read what its service scored, and a glob that matches no file yet is a service that has logged
    nothing yet (days without rows), not a misplaced path."""
    source, online = project.source, project.online
    row_log = online.row_log if online is not None else None
    if not isinstance(source, FileSource) or not isinstance(row_log, ParquetRowLog) or is_url(source.path):
        return False
    folder = os.path.normpath(config.resolve(row_log.path))
    return os.path.normpath(located(config, source.path)).startswith(folder + os.sep)


def _format(project: Project, path: str, fmt: str) -> str:
    try:
        return format_of(path, fmt)
    except SourceError as exc:
        raise SourceError(f"{project.name}: {exc}") from exc


# --- Parquet ----------------------------------------------------------------------------------


def _read_parquet(
    project: Project, files: list[DataFile], source: FileSource, start: datetime, end: datetime
) -> pd.DataFrame:
    ts_col, ts_tz = source.timestamp_column, source.timestamp_timezone
    wanted = needs(project)
    footers = [(file.path, parquet_footer(*file.key, ts_col)) for file in files]
    candidates = [
        (path, footer)
        for path, footer in footers
        if footer.error is not None
        or (footer.rows > 0 and (footer.span is None or overlaps(footer.span, start, end, ts_tz)))
    ]
    for path, footer in candidates:
        _check_footer(project, wanted, path, footer)
    columns = [*project.columns.all_columns(), ts_col]
    if not candidates:
        return _empty_frame(footers, columns)
    paths = [path for path, _ in candidates]
    try:
        dataset = _dataset(paths)
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(f"{project.name}: cannot read {paths[0]}: {exc}") from exc
    present = [c for c in columns if c in dataset.schema.names]
    lo, hi = _bounds_for(dataset.schema.field(ts_col).type, ts_tz, start, end)
    window = (pads.field(ts_col) >= lo) & (pads.field(ts_col) < hi)
    try:
        table = dataset.to_table(columns=present, filter=window)
    except (pa.ArrowException, OSError) as exc:
        culprit = _first_unreadable(paths, present, window) or paths[0]
        raise SourceError(f"{project.name}: cannot read {culprit}: {exc}") from exc
    origin = paths[0] if len(paths) == 1 else f"the files {', '.join(paths[:3])}{', ...' if len(paths) > 3 else ''}"
    return numbers_checked(project, wanted, table.to_pandas(), origin, lambda i: f"row {i + 1} of the window")


def _check_footer(project: Project, wanted: list[Need], path: str, footer: Footer) -> None:
    """SourceError for the first problem the footer shows: unreadable, a column missing or of the wrong type."""
    if footer.error is not None:
        raise SourceError(f"{project.name}: cannot read {path}: {footer.error}")
    for need in wanted:
        if need.column not in footer.types:
            raise SourceError(missing_from(project, need, path, footer.columns))
    for need in wanted:
        data_type = footer.types[need.column]
        if arrow_fits(need.expect, data_type):
            continue
        if need.expect == "timestamp":
            raise SourceError(
                f"{project.name}: timestamp column {need.column!r} in {path} is {data_type}, expected a timestamp"
            )
        try:  # an example value for the message: the error path only
            [arrow_path], filesystem = arrow_paths([path])
            values = pq.read_table(arrow_path, columns=[need.column], filesystem=filesystem).column(0).to_pandas()
        except (pa.ArrowException, OSError):
            values = pd.Series([], dtype=float)
        numbers_checked(project, [need], pd.DataFrame({need.column: values}), path, lambda i: f"row {i + 1}")
        raise SourceError(
            f"{project.name}: column {need.column!r} ({need.role}) in {path} is {data_type}; "
            f"expected {EXPECTED['numeric']}"
        )


def _dataset(paths: list[str]) -> pads.Dataset:
    """The Parquet files as one dataset, read through their store's filesystem when remote."""
    arrow_names, filesystem = arrow_paths(paths)
    return pads.dataset(arrow_names, format="parquet", filesystem=filesystem)


def _first_unreadable(paths: list[str], columns: list[str], window: pads.Expression) -> str | None:
    """Which of several files a failed read came from (read again one by one, on the error path only)."""
    for path in paths:
        try:
            _dataset([path]).to_table(columns=columns, filter=window)
        except (pa.ArrowException, OSError):
            return path
    return None


def _empty_frame(footers: list[tuple[str, Footer]], columns: list[str]) -> pd.DataFrame:
    """No file holds the window: no rows, with the columns and types of the first readable file."""
    for _, footer in footers:
        if footer.error is None:
            fields = [pa.field(c, footer.types[c]) for c in columns if c in footer.types]
            return pa.schema(fields).empty_table().to_pandas()
    return pd.DataFrame(columns=columns)


def _bounds_for(field_type: pa.DataType, ts_tz: str, start: datetime, end: datetime) -> tuple[pa.Scalar, pa.Scalar]:
    if field_type.tz is not None:
        return pa.scalar(start, type=field_type), pa.scalar(end, type=field_type)
    lo, hi = local_bounds(ts_tz, start, end)
    return pa.scalar(lo, type=field_type), pa.scalar(hi, type=field_type)


# --- CSV --------------------------------------------------------------------------------------


def _read_csv(
    project: Project, files: list[DataFile], source: FileSource, start: datetime, end: datetime
) -> pd.DataFrame:
    ts_col, ts_tz = source.timestamp_column, source.timestamp_timezone
    wanted = needs(project)
    columns = [*project.columns.all_columns(), ts_col]
    frames = []
    for file in files:
        path = file.path
        summary = _csv(project, file, csv_files.csv_summary, ts_col)
        if summary.rows == 0 and summary.problem is None:
            continue
        if summary.span is not None and not overlaps(summary.span, start, end, ts_tz):
            continue
        if summary.problem is not None:  # the file may hold rows of this window: it must be whole
            raise SourceError(f"{project.name}: {path}: {summary.problem}")
        _check_columns(project, wanted, path, list(summary.columns), summary.repeated)
        parsed = _csv(project, file, csv_files.csv_file, ts_col)
        if parsed.problem is not None:  # a broken line, which a scan of the timestamps does not see
            raise SourceError(f"{project.name}: {path}: {parsed.problem}")
        assert parsed.stamps is not None  # a timestamp column that gives no stamps is a problem
        stamps = parsed.stamps
        if stamps.dt.tz is None:
            lo, hi = local_bounds(ts_tz, start, end)
            mask = (stamps >= pd.Timestamp(lo)) & (stamps < pd.Timestamp(hi))
        else:
            mask = (stamps >= pd.Timestamp(start)) & (stamps < pd.Timestamp(end))
        part = parsed.frame.loc[mask.to_numpy(), [c for c in columns if c in parsed.frame.columns]]
        part = numbers_checked(project, wanted, part, path, _file_rows(part.index))
        frames.append(part.reset_index(drop=True))
    if not frames:
        return _empty_csv_frame(project, files, ts_col, columns)
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _check_columns(
    project: Project, wanted: list[Need], origin: str, columns: list[str], repeats: dict[str, int]
) -> None:
    """SourceError for a needed column that `origin` lacks, or has more than once."""
    for need in wanted:
        if need.column not in columns:
            raise SourceError(missing_from(project, need, origin, columns))
    for need in wanted:
        if need.column in repeats:
            raise SourceError(repeated_in(project, need, origin, repeats[need.column]))


def _csv(project: Project, file: DataFile, read: Callable[[str, int, int | str, str], T], ts_col: str) -> T:
    """A CSV file's summary or rows (cached); SourceError when its store cannot give it."""
    try:
        return read(*file.key, ts_col)
    except StoreError as exc:
        raise SourceError(f"{project.name}: cannot read {file.path}: {exc}") from exc


def _empty_csv_frame(project: Project, files: list[DataFile], ts_col: str, columns: list[str]) -> pd.DataFrame:
    """No file holds the window: no rows, with the columns and types of the first good file."""
    for file in files:
        if _csv(project, file, csv_files.csv_summary, ts_col).problem is None:
            frame = _csv(project, file, csv_files.csv_file, ts_col).frame
            return frame.iloc[:0][[c for c in columns if c in frame.columns]]
    return pd.DataFrame(columns=columns)


def _file_rows(index: pd.Index) -> Callable[[int], str]:
    """Names the i-th row of a window's part of a file by its row in the file."""
    return lambda i: f"row {int(index[i]) + 1}"


def _reference_file(project: Project, file: DataFile, fmt: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """The reference file's rows, and the names its header repeats (a CSV file's)."""
    try:
        rows = _reference_rows(*file.key, fmt)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise SourceError(f"{project.name}: cannot read {file.path}: {exc}") from exc
    if rows.problem is not None:
        raise SourceError(f"{project.name}: {file.path}: {rows.problem}")
    return rows.frame, rows.repeated


@functools.lru_cache(maxsize=8)
def _reference_rows(path: str, size: int, version: int | str, fmt: str) -> csv_files.CsvRows:
    """A whole reference file, kept per process; size and version in the key make a rewrite read again."""
    if fmt == "parquet":
        [arrow_path], filesystem = arrow_paths([path])
        return csv_files.CsvRows(pd.read_parquet(arrow_path, filesystem=filesystem))
    return csv_files.read_csv_rows(path)


# --- SQL --------------------------------------------------------------------------------------


def _read_sql(project: Project, source: SqlSource, start: datetime, end: datetime) -> pd.DataFrame:
    dsn = os.environ.get(source.dsn_env)
    if not dsn:
        raise SourceError(
            f"{project.name}: environment variable {source.dsn_env} (source.dsn_env) is not set; "
            "expected a SQLAlchemy URL such as postgresql+psycopg://user@host/db"
        )
    import sqlalchemy as sa

    lo, hi = local_bounds(source.timestamp_timezone, start, end)
    try:
        with sql_engine(dsn).connect() as conn:
            frame = pd.read_sql(sa.text(source.query), conn, params={"start": lo, "end": hi})
    except Exception as exc:  # any driver or SQL error: the project's run fails, others go on
        raise SourceError(f"{project.name}: the SQL source query failed: {sql_error(exc)}") from exc
    origin = f"the SQL query of {source.dsn_env}"
    wanted = needs(project)
    names = [str(c) for c in frame.columns]
    _check_columns(project, wanted, origin, names, repeated(names))
    keep = [c for c in [*project.columns.all_columns(), source.timestamp_column] if c in frame.columns]
    return numbers_checked(project, wanted, frame[keep], origin, lambda i: f"row {i + 1} of the window")
