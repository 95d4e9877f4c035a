"""`evmon validate` beyond the YAML: what the files and queries a config points at hold.

Each source's schema is read (Parquet footers, the header line of a CSV file, a SQL query's
columns on an empty window) and the reference's; every missing column, timestamp column that
is not a timestamp and numerical column that is not numeric is one line naming the config
file, the key path and the files. No data row is read: a CSV header says no type, so the
types of CSV columns (and broken lines) show only when a day is run. Files on an object store
(a URL) are checked the same way, through the store: footers and header lines only.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa

from evmon.config.locations import is_url
from evmon.config.model import EvmonConfig, FileSource, Project, SqlSource
from evmon.config.sections import Window
from evmon.days import window_utc
from evmon.errors import SourceError
from evmon.sources.read import located, reads_own_row_log, source_files
from evmon.sources.remote import DataFile, one_file, store_reason
from evmon.sources.schema import (
    EXPECTED,
    Need,
    Span,
    arrow_fits,
    csv_header,
    did_you_mean,
    format_of,
    needs,
    overlaps,
    parquet_footer,
    shown_columns,
    sql_columns,
    sql_error,
)

Where = Callable[[list["_FileSchema"]], str]
Role = tuple[str, str]  # the key of a data window or file in a project, and what a message calls it
REFERENCE: Role = ("reference", "reference")
CALIBRATION: Role = ("presets.estimation.calibration", "calibration")


@dataclass
class _FileSchema:
    """What one file's schema says: its columns, their Parquet types, its timestamp span."""

    path: str
    columns: list[str] = field(default_factory=list)
    types: dict[str, pa.DataType] = field(default_factory=dict)  # empty for CSV: a header has no types
    span: Span | None = None
    rows: int | None = None
    error: str | None = None


def check_sources(config: EvmonConfig) -> list[str]:
    """Every problem of every project's source and reference files (or query), one line each."""
    problems: list[str] = []
    for i, project in enumerate(config.projects):
        at = f"{config.source_file}: projects[{i}]"
        if isinstance(project.source, FileSource):
            problems += _check_files(config, project, project.source, at)
        else:
            problems += _check_query(project, project.source, at)
        if project.reference.path is not None:
            problems += _check_reference_file(config, project, project.reference.path, project.reference.format, at)
        calibration = project.presets.estimation.calibration if project.presets.estimation else None
        if calibration is not None and calibration.path is not None:
            problems += _check_reference_file(config, project, calibration.path, calibration.format, at, CALIBRATION)
    return problems


# what a model's own training data does to an estimate, measured on real data (issue 17)
OVERESTIMATES = (
    "a model's own training data overestimates its quality "
    "(on 334 days of real data: median ROC AUC 0.82 estimated, 0.63 realized)"
)


def check_warnings(config: EvmonConfig) -> list[str]:
    """What validate warns of without failing: a project's own row log with no file yet (its service has not
    run), an estimator fitted where it will overestimate."""
    warnings = [
        f"{config.source_file}: projects[{i}].source.path: no file yet: {project.name} reads its service's row log "
        f"(online.row_log), where no row is logged yet; its days have no rows until the service scores some"
        for i, project in enumerate(config.projects)
        if reads_own_row_log(config, project) and not _has_files(config, project)
    ]
    for i, project in enumerate(config.projects):
        estimation = project.presets.estimation
        if estimation is None:
            continue
        at = f"{config.source_file}: projects[{i}].presets.estimation"
        calibration, training = estimation.calibration, estimation.training
        if calibration is None:
            warnings.append(
                f"{at}: no calibration, so the estimator is fitted on the reference; {OVERESTIMATES}; "
                "set calibration to labelled data the model was not trained on"
            )
        elif _overlap(calibration.start, calibration.end, training):
            assert training is not None
            warnings.append(
                f"{at}.calibration: the window {calibration.start}..{calibration.end} overlaps the model's "
                f"training window {training.start}..{training.end} (presets.estimation.training); "
                f"{OVERESTIMATES}; calibrate on labelled days the model was not trained on"
            )
    return warnings


def _has_files(config: EvmonConfig, project: Project) -> bool:
    assert isinstance(project.source, FileSource)  # reads_own_row_log: a file source
    try:
        return bool(source_files(config, project.source.path))
    except (OSError, SourceError):
        return True  # not a missing row log: check_sources names the problem


def _overlap(start: date | None, end: date | None, training: Window | None) -> bool:
    if start is None or end is None or training is None:
        return False
    return start <= training.end and training.start <= end


def _check_files(config: EvmonConfig, project: Project, source: FileSource, at: str) -> list[str]:
    pattern = located(config, source.path)
    try:
        paths = source_files(config, source.path)
    except SourceError as exc:  # the store's package is not installed
        return [f"{at}.source.path: {exc}"]
    except OSError as exc:
        return [f"{at}.source.path: cannot list {pattern}: {store_reason(exc)}"]
    if not paths and reads_own_row_log(config, project):
        return []  # its service has logged no row yet (check_warnings says so): its days have no rows
    if not paths:
        return [
            f"{at}.source.path: {source.path!r} matches no file (looked for {pattern}); "
            "expected a path or glob of Parquet or CSV files"
        ]
    schemas = [_schema_of(path, source.format, source.timestamp_column) for path in paths]

    def where(bad: list[_FileSchema]) -> str:
        if len(paths) == 1:
            return _shown(config, bad[0].path)
        return f"{len(bad)} of {len(paths)} files matching {source.path} (e.g. {_shown(config, bad[0].path)})"

    problems = []
    unreadable = [s for s in schemas if s.error is not None]
    if unreadable:
        problems.append(f"{at}.source.path: cannot read {where(unreadable)}: {unreadable[0].error}")
    readable = [s for s in schemas if s.error is None]
    problems += _column_problems(needs(project), readable, at, where)
    windows = [(REFERENCE, project.reference)]
    if project.presets.estimation is not None and project.presets.estimation.calibration is not None:
        windows.append((CALIBRATION, project.presets.estimation.calibration))
    for role, window in windows:
        if window.start is not None and window.end is not None:
            problems += _check_reference_window(project, readable, source, at, role, window.start, window.end)
    return problems


def _check_reference_file(
    config: EvmonConfig, project: Project, ref_path: str, fmt: str, at: str, role: Role = REFERENCE
) -> list[str]:
    key, noun = role
    path = located(config, ref_path)
    try:
        file = one_file(path)
    except SourceError as exc:  # the store's package is not installed
        return [f"{at}.{key}.path: {exc}"]
    except OSError as exc:
        return [f"{at}.{key}.path: cannot read {path}: {store_reason(exc)}"]
    if file is None:
        return [
            f"{at}.{key}.path: {ref_path!r} is not a file (looked for {path}); "
            f"expected the {noun} data as Parquet or CSV"
        ]
    schema = _schema_of(file, fmt, None)
    if schema.error is not None:
        return [f"{at}.{key}.path: cannot read {_shown(config, path)}: {schema.error}"]

    def where(bad: list[_FileSchema]) -> str:
        return f"the {noun} file {_shown(config, path)} ({key}.path)"

    return _column_problems(needs(project, with_timestamp=False), [schema], at, where)


def _column_problems(wanted: list[Need], schemas: list[_FileSchema], at: str, where: Where) -> list[str]:
    problems = []
    for need in wanted:
        lacking = [s for s in schemas if need.column not in s.columns]
        if lacking:
            has = lacking[0].columns
            problems.append(
                f"{at}.{need.key}: column {need.column!r} is missing from {where(lacking)}; "
                f"it has: {shown_columns(has)}{did_you_mean(need.column, has, wanted)}"
            )
            continue
        repeating = [s for s in schemas if s.columns.count(need.column) > 1]
        if repeating:
            problems.append(
                f"{at}.{need.key}: column {need.column!r} appears {repeating[0].columns.count(need.column)} times "
                f"among the columns of {where(repeating)}; expected it once"
            )
            continue
        if need.expect == "any":
            continue
        unfit = [s for s in schemas if need.column in s.types and not arrow_fits(need.expect, s.types[need.column])]
        if unfit:
            problems.append(
                f"{at}.{need.key}: column {need.column!r} is {unfit[0].types[need.column]} in {where(unfit)}; "
                f"expected {EXPECTED[need.expect]}"
            )
    return problems


def _check_reference_window(
    project: Project, schemas: list[_FileSchema], source: FileSource, at: str, role: Role, first: date, last: date
) -> list[str]:
    """A reference (or calibration) window that no file's footer statistics reach holds no rows."""
    spans = [s.span for s in schemas if s.rows != 0 and s.span is not None]
    if not spans or len(spans) < len([s for s in schemas if s.rows != 0]):
        return []  # CSV files, or files without statistics: only their rows could tell
    start, end = window_utc(first, last, project.timezone)
    if any(overlaps(span, start, end, source.timestamp_timezone) for span in spans):
        return []
    low = min(span[0] for span in spans)
    high = max(span[1] for span in spans)
    return [
        f"{at}.{role[0]}: the window {first}..{last} holds no rows: the files matching {source.path} "
        f"hold timestamps from {low} to {high}; expected a window inside them"
    ]


def _check_query(project: Project, source: SqlSource, at: str) -> list[str]:
    dsn = os.environ.get(source.dsn_env)
    if not dsn:
        return [
            f"{at}.source.dsn_env: environment variable {source.dsn_env} is not set, so the query's columns "
            "cannot be checked; expected a SQLAlchemy URL such as postgresql+psycopg://user@host/db"
        ]
    try:
        columns = sql_columns(source, dsn)
    except Exception as exc:  # any driver or SQL error is the user's to fix
        return [f"{at}.source.query: the query failed (run on an empty window): {sql_error(exc)}"]
    names = [c.name for c in columns]
    kinds = {c.name: c for c in columns}
    problems = []
    wanted = needs(project)
    for need in wanted:
        if need.column not in kinds:
            problems.append(
                f"{at}.{need.key}: column {need.column!r} is missing from the query's columns (source.query); "
                f"it has: {shown_columns(names)}{did_you_mean(need.column, names, wanted)}"
            )
            continue
        if names.count(need.column) > 1:
            problems.append(
                f"{at}.{need.key}: column {need.column!r} appears {names.count(need.column)} times among the "
                "query's columns (source.query); expected it once"
            )
            continue
        column = kinds[need.column]
        if need.expect != "any" and column.kind is not None and column.kind != need.expect:
            problems.append(
                f"{at}.{need.key}: column {need.column!r} is {column.type_name} in the query's columns "
                f"(source.query); expected {EXPECTED[need.expect]}"
            )
    return problems


def _schema_of(file: DataFile, fmt: str, ts_col: str | None) -> _FileSchema:
    path = file.path
    try:
        kind = format_of(path, fmt)
    except SourceError:
        return _FileSchema(path, error="its format is not known; expected a .parquet or .csv file, or set format")
    if kind == "parquet":
        footer = parquet_footer(*file.key, ts_col or "")
        if footer.error is not None:
            return _FileSchema(path, error=footer.error)
        return _FileSchema(path, footer.columns, footer.types, footer.span, footer.rows)
    try:
        return _FileSchema(path, csv_header(path))
    except UnicodeDecodeError as exc:
        return _FileSchema(path, error=f"its header line is not UTF-8 text ({exc.reason})")
    except (OSError, ValueError) as exc:
        return _FileSchema(path, error=str(exc))


def _shown(config: EvmonConfig, path: str) -> str:
    """A path as the user wrote it: relative to projects.yaml's folder when inside it; a URL as is."""
    if is_url(path):
        return path
    try:
        return str(Path(path).resolve().relative_to(config.base_dir.resolve()))
    except ValueError:
        return str(path)
