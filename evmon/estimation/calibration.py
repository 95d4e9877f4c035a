"""The labelled data an estimator is fitted on: its rows, their days, what identifies them, the band's level."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from evmon.config.locations import is_url
from evmon.config.model import EvmonConfig, FileSource, Project
from evmon.config.sections import Reference
from evmon.days import window_utc
from evmon.errors import EstimationError, EvmonError
from evmon.estimation import conformal
from evmon.sources import read as sources


def calibration_data(config: EvmonConfig, project: Project, reference: pd.DataFrame) -> pd.DataFrame:
    """The labelled rows the estimator is fitted on: estimation.calibration, or the reference."""
    estimation = project.presets.estimation
    calibration = estimation.calibration if estimation is not None else None
    if calibration is None:
        return reference
    try:
        if calibration.path is None:
            assert calibration.start is not None and calibration.end is not None  # the config model's rule
            frame = sources.read_window(
                config, project, *window_utc(calibration.start, calibration.end, project.timezone)
            )
            if frame.empty:
                raise EstimationError(f"the window {calibration.start}..{calibration.end} has no rows")
            return frame
        located = sources.located(config, calibration.path)
        if not is_url(located) and not Path(located).is_file():  # read_reference would call it the reference
            raise EstimationError(f"the file {located} does not exist (path {calibration.path!r})")
        as_reference = Reference(path=calibration.path, format=calibration.format)
        return sources.read_reference(config, project.model_copy(update={"reference": as_reference}))
    except EvmonError as exc:
        cause = str(exc).removeprefix(f"{project.name}: ")
        raise EstimationError(
            f"{project.name}: the calibration data (presets.estimation.calibration) is unusable: {cause}"
        ) from exc


def fingerprint(config: EvmonConfig, project: Project) -> tuple[tuple[str, int, int | str], ...]:
    """Names, sizes and versions of the files the calibration rows come from (empty for SQL)."""
    estimation = project.presets.estimation
    calibration = estimation.calibration if estimation is not None else None
    source = project.source
    data: Reference = calibration if calibration is not None else project.reference
    path = data.path or (source.path if isinstance(source, FileSource) else None)
    if path is None:
        return ()
    try:
        return tuple(file.key for file in sources.source_files(config, path))
    except (OSError, EvmonError):  # unlistable now: reading it will say why
        return ()


def days_of(project: Project, rows: pd.DataFrame) -> list[str] | None:
    """Each calibration row's local day (the empirical band's cross-fitting units); None without timestamps."""
    column = project.source.timestamp_column
    if column not in rows.columns:
        return None
    try:
        stamps = pd.to_datetime(rows[column], utc=True, errors="coerce").dt.tz_convert(project.timezone)
    except (TypeError, ValueError):
        return None
    if stamps.isna().any():
        return None
    return stamps.dt.strftime("%Y-%m-%d").tolist()


def level_of(project: Project) -> float:
    estimation = project.presets.estimation
    return estimation.band_level if estimation is not None else conformal.BAND_LEVEL
