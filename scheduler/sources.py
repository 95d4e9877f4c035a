"""Reading a project's rows for a time window: Parquet/CSV files or a SQL query.

Every read returns only the project's declared columns (plus the timestamp column), with
rows whose timestamp lies in [start, end). A missing column or an unreadable file raises
SourceError naming the project, the column or file, and what was expected.
"""

from __future__ import annotations

import functools
import glob
import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads

from evmon.config import EvmonConfig, FileSource, Project, SqlSource
from evmon.days import window_utc
from evmon.errors import SourceError


def read_window(config: EvmonConfig, project: Project, start: datetime, end: datetime) -> pd.DataFrame:
    """The project's rows with start <= timestamp < end (aware UTC datetimes)."""
    source = project.source
    if isinstance(source, SqlSource):
        return _read_sql(project, source, start, end)
    files = _source_files(config, project, source)
    return _read_files(project, files, source.format, source.timestamp_column, source.timestamp_timezone, start, end)


def read_reference(config: EvmonConfig, project: Project) -> pd.DataFrame:
    """The project's reference rows: the reference file, or the reference window of its source."""
    ref = project.reference
    if ref.path is not None:
        path = config.resolve(ref.path)
        try:
            stat = path.stat()
        except FileNotFoundError as exc:
            raise SourceError(
                f"{project.name}: reference file {path} does not exist (reference.path {ref.path!r})"
            ) from exc
        frame = _read_file_cached(str(path), ref.format, stat.st_size, stat.st_mtime_ns, project.name)
        _check_columns(project, list(frame.columns), str(path), with_timestamp=False)
        frame = frame[[c for c in project.columns.all_columns() if c in frame.columns]]
    else:
        assert ref.start is not None and ref.end is not None  # guaranteed by the config model
        start, end = window_utc(ref.start, ref.end, project.timezone)
        frame = read_window(config, project, start, end)
        if frame.empty:
            raise SourceError(f"{project.name}: the reference window {ref.start}..{ref.end} has no rows")
    return frame


def _source_files(config: EvmonConfig, project: Project, source: FileSource) -> list[Path]:
    pattern = config.resolve(source.path)
    files = sorted(Path(p) for p in glob.glob(str(pattern)))
    if not files:
        raise SourceError(f"{project.name}: source.path {source.path!r} matches no file (looked for {pattern})")
    return files


def _format_of(path: Path, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    raise SourceError(f"cannot tell the format of {path}: expected a .parquet or .csv file, or set format")


def _read_files(
    project: Project, files: list[Path], fmt: str, ts_col: str, ts_tz: str, start: datetime, end: datetime
) -> pd.DataFrame:
    formats = {_format_of(f, fmt) for f in files}
    if formats == {"parquet"}:
        return _read_parquet(project, files, ts_col, ts_tz, start, end)
    frames = [_read_file_cached(str(f), "csv", *_stat(f), project.name) for f in files]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return _filter_window(project, frame, ts_col, ts_tz, start, end, files[0])


def _stat(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def _read_parquet(
    project: Project, files: list[Path], ts_col: str, ts_tz: str, start: datetime, end: datetime
) -> pd.DataFrame:
    wanted = [*project.columns.all_columns(), ts_col]
    candidates = [f for f in files if _may_overlap(str(f), *_stat(f), ts_col, start, end)]
    if not candidates:
        candidates = files[:1]  # an empty frame with the right columns
    try:
        dataset = pads.dataset([str(f) for f in candidates], format="parquet")
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"{project.name}: cannot read {candidates[0]}: {exc}") from exc
    _check_columns(project, dataset.schema.names, str(candidates[0]), ts_col=ts_col)
    field_type = dataset.schema.field(ts_col).type
    if not pa.types.is_timestamp(field_type):
        raise SourceError(
            f"{project.name}: timestamp column {ts_col!r} in {candidates[0]} is {field_type}, expected a timestamp"
        )
    lo, hi = _bounds_for(field_type, ts_tz, start, end)
    try:
        table = dataset.to_table(
            columns=[c for c in wanted if c in dataset.schema.names],
            filter=(pads.field(ts_col) >= lo) & (pads.field(ts_col) < hi),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"{project.name}: cannot read the window from {candidates[0]}...: {exc}") from exc
    return table.to_pandas()


@functools.lru_cache(maxsize=65536)
def _may_overlap(path: str, size: int, mtime_ns: int, ts_col: str, start: datetime, end: datetime) -> bool:
    """Whether a Parquet file's timestamp statistics allow rows in [start, end); True if unknown."""
    span = _ts_span(path, size, mtime_ns, ts_col)
    if span is None:
        return True
    lo, hi = span
    return not (hi < start or lo >= end)


@functools.lru_cache(maxsize=65536)
def _ts_span(path: str, size: int, mtime_ns: int, ts_col: str) -> tuple[datetime, datetime] | None:
    """The min and max timestamp of a Parquet file as aware UTC, from its footer only."""
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
        index = meta.schema.names.index(ts_col)
        lows, highs = [], []
        for rg in range(meta.num_row_groups):
            stats = meta.row_group(rg).column(index).statistics
            if stats is None or not stats.has_min_max:
                return None
            lows.append(pd.Timestamp(stats.min))
            highs.append(pd.Timestamp(stats.max))
    except (ValueError, OSError, pa.ArrowException):
        return None
    if not lows:
        return None
    low, high = min(lows), max(highs)
    # naive statistics: widen by a day so any timestamp_timezone is covered
    if low.tzinfo is None:
        return (low - pd.Timedelta(days=1)).tz_localize("UTC"), (high + pd.Timedelta(days=1)).tz_localize("UTC")
    return low.tz_convert("UTC"), high.tz_convert("UTC")


def _bounds_for(field_type: pa.DataType, ts_tz: str, start: datetime, end: datetime) -> tuple[pa.Scalar, pa.Scalar]:
    if field_type.tz is not None:
        return pa.scalar(start, type=field_type), pa.scalar(end, type=field_type)
    zone = ZoneInfo(ts_tz)
    lo = start.astimezone(zone).replace(tzinfo=None)
    hi = end.astimezone(zone).replace(tzinfo=None)
    return pa.scalar(lo, type=field_type), pa.scalar(hi, type=field_type)


@functools.lru_cache(maxsize=64)
def _read_file_cached(path: str, fmt: str, size: int, mtime_ns: int, project_name: str) -> pd.DataFrame:
    """A whole file, cached per process; size and mtime in the key make a rewrite read again."""
    try:
        if _format_of(Path(path), fmt) == "parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except FileNotFoundError as exc:
        raise SourceError(f"{project_name}: {path} does not exist") from exc
    except (OSError, ValueError, pa.ArrowException, pd.errors.ParserError) as exc:
        raise SourceError(f"{project_name}: cannot read {path}: {exc}") from exc


def _filter_window(
    project: Project, frame: pd.DataFrame, ts_col: str, ts_tz: str, start: datetime, end: datetime, origin: Path
) -> pd.DataFrame:
    _check_columns(project, list(frame.columns), str(origin), ts_col=ts_col)
    try:
        stamps = pd.to_datetime(frame[ts_col])
    except (ValueError, TypeError) as exc:
        raise SourceError(
            f"{project.name}: timestamp column {ts_col!r} in {origin} holds non-timestamps: {exc}"
        ) from exc
    stamps = stamps.dt.tz_localize(ts_tz) if stamps.dt.tz is None else stamps
    stamps = stamps.dt.tz_convert("UTC")
    mask = (stamps >= pd.Timestamp(start)) & (stamps < pd.Timestamp(end))
    keep = [c for c in [*project.columns.all_columns(), ts_col] if c in frame.columns]
    return frame.loc[mask.to_numpy(), keep].reset_index(drop=True)


def _check_columns(
    project: Project, present: list[str], origin: str, ts_col: str | None = None, with_timestamp: bool = True
) -> None:
    cols = project.columns
    required: list[tuple[str, str]] = [(c, "columns.numerical") for c in cols.numerical]
    required += [(c, "columns.categorical") for c in cols.categorical]
    if cols.prediction is not None:
        required.append((cols.prediction.column, "columns.prediction.column"))
    if with_timestamp and ts_col is not None:
        required.append((ts_col, "source.timestamp_column"))
    have = set(present)
    for column, role in required:
        if column not in have:
            shown = ", ".join(present[:30]) + (", ..." if len(present) > 30 else "")
            raise SourceError(f"{project.name}: column {column!r} ({role}) is missing from {origin}; it has: {shown}")


def _read_sql(project: Project, source: SqlSource, start: datetime, end: datetime) -> pd.DataFrame:
    dsn = os.environ.get(source.dsn_env)
    if not dsn:
        raise SourceError(
            f"{project.name}: environment variable {source.dsn_env} (source.dsn_env) is not set; "
            "expected a SQLAlchemy URL such as postgresql+psycopg://user@host/db"
        )
    import sqlalchemy as sa

    zone = ZoneInfo(source.timestamp_timezone)
    params = {
        "start": start.astimezone(zone).replace(tzinfo=None),
        "end": end.astimezone(zone).replace(tzinfo=None),
    }
    try:
        engine = _engine(dsn)
        with engine.connect() as conn:
            frame = pd.read_sql(sa.text(source.query), conn, params=params)
    except Exception as exc:  # any driver or SQL error: the project's run fails, others go on
        raise SourceError(f"{project.name}: the SQL source query failed: {type(exc).__name__}: {exc}") from exc
    _check_columns(project, list(frame.columns), f"the SQL query of {source.dsn_env}", ts_col=source.timestamp_column)
    keep = [c for c in [*project.columns.all_columns(), source.timestamp_column] if c in frame.columns]
    return frame[keep]


@functools.lru_cache(maxsize=16)
def _engine(dsn: str):  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    return sa.create_engine(dsn, pool_pre_ping=True)
