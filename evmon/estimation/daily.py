"""Estimated model quality in the daily run: one fitted estimator per project, each day's estimates.

A project with `presets.estimation` gets CBPE (probability scores: evmon.estimation.cbpe) or DLE
(regression: evmon.estimation.dle), fitted once per process on its calibration data (a window of
its source or a file; the reference when none is set) and kept while that data and the project's
settings are unchanged. Each day the estimator estimates the day's rows that have a prediction
(the others are left out and counted), model-wide and per segment value; on a day whose labels have
arrived it adds, with the same functions, the realized value, the gap (estimate - realized) and
whether the realized value lies inside the band. evmon.evidently.report writes these values into
the day's snapshot as EstimatedQuality results.

A project with `fairness` as well gets, labelled day or not, each group of its sensitive columns
estimated with the same estimator (EstimatedDay.groups, of the one metric group_metric names); the
runner hands them to evmon.fairness, which stores them as FairnessValue results (estimated_<metric>,
estimated_quality_gap), not as EstimatedQuality. A sensitive column that is also a segment is
estimated once: its groups are the segment's estimates.

Unusable data (one class, too few rows, scores outside [0, 1], calibration data that cannot be
read) raises EstimationError naming the project and the cause; the runner then stores the day
without estimates and logs that line.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import pandas as pd

from evmon.cache import ProjectCache
from evmon.config.fairness import quality_metric_of
from evmon.config.model import EvmonConfig, Project
from evmon.days import window_utc
from evmon.errors import EstimationError, EvmonError
from evmon.estimation import calibration as calibrating
from evmon.estimation import conformal
from evmon.estimation.base import Estimate
from evmon.estimation.calibration import calibration_data
from evmon.estimation.cbpe import CLASSIFICATION_METRICS, ClassificationEstimator
from evmon.estimation.dle import REGRESSION_METRICS, RegressionEstimator
from evmon.sources import read as sources

Method = Literal["CBPE", "DLE"]
Estimator = ClassificationEstimator | RegressionEstimator
DEFAULT_SEGMENT = "default"  # the model-wide values, as the quality metrics name them
MAX_SEGMENT_VALUES = 50  # as evmon.evidently.guard: the first 50 values of a segment column
# lower/upper/inside_band: NannyML's band (+- 3 sampling errors); empirical_*: the empirical band
# (evmon.estimation.conformal), the default shown, of nominal coverage `level`
VALUE_KINDS = (
    "estimate",
    "lower",
    "upper",
    "empirical_lower",
    "empirical_upper",
    "level",
    "realized",
    "gap",
    "inside_band",
    "inside_empirical",
)
HEADLINE = {"CBPE": "roc_auc", "DLE": "mae"}  # the metric the UI's estimation panels show
METRICS = {"CBPE": CLASSIFICATION_METRICS, "DLE": REGRESSION_METRICS}
_Key = tuple[str, str, tuple[tuple[str, int, int | str], ...]]


@dataclass(frozen=True)
class EstimatedValue:
    """One value of one estimated metric of one segment ("default": model-wide) for one day."""

    metric: str  # roc_auc, accuracy, precision, recall, f1 (CBPE); mae, rmse (DLE)
    segment: str
    value_kind: str  # one of VALUE_KINDS; inside_band/inside_empirical are 1.0 or 0.0 (NaN where undefined)
    value: float


@dataclass(frozen=True)
class GroupEstimate:
    """The estimate of group_metric for one group of a sensitive column (projects.yaml fairness) for one day."""

    column: str
    group: str  # the column's value, as text (as evmon.fairness names groups)
    value: float


@dataclass(frozen=True)
class EstimatedDay:
    """A day's estimates (and, with labels, realized values) with what they were computed from."""

    method: Method
    values: tuple[EstimatedValue, ...]
    rows: int  # rows with a prediction: what the model-wide estimate is of
    dropped: int  # rows without a prediction, left out
    labelled: bool  # whether realized values are among the values
    notes: tuple[str, ...] = ()  # segments (and groups) that could not be estimated, and why
    group_metric: str | None = None  # the metric of `groups`; None without fairness
    groups: tuple[GroupEstimate, ...] = ()  # the sensitive columns' groups (estimates only, labels or not)

    @property
    def task_param(self) -> str:
        """The param naming a segment, as evmon's quality metrics name it (classification_name/regression_name)."""
        return "classification_name" if self.method == "CBPE" else "regression_name"

    def value(self, metric: str, value_kind: str, segment: str = DEFAULT_SEGMENT) -> float | None:
        """One value, None when absent (e.g. realized on a day without labels)."""
        for item in self.values:
            if (item.metric, item.value_kind, item.segment) == (metric, value_kind, segment):
                return item.value
        return None


def method_of(project: Project) -> Method | None:
    """CBPE for probability scores, DLE for a regression prediction; None when estimation is off."""
    prediction = project.columns.prediction
    if project.presets.estimation is None or prediction is None:
        return None
    return "DLE" if prediction.kind == "regression" else "CBPE"


def group_metric(project: Project) -> str | None:
    """The metric estimated per group of the sensitive columns: fairness' quality metric where the estimator
    has it, else its headline; None unless the project has both `fairness` and estimation."""
    method, prediction = method_of(project), project.columns.prediction
    if method is None or project.fairness is None or prediction is None:
        return None
    wanted = quality_metric_of(project.fairness, prediction.kind)
    return wanted if wanted in METRICS[method] else HEADLINE[method]


def threshold_of(project: Project) -> float:
    """CBPE's threshold: estimation's own, else the classification preset's probas_threshold, else 0.5."""
    estimation, classification = project.presets.estimation, project.presets.classification
    if estimation is not None and estimation.threshold is not None:
        return estimation.threshold
    if classification is not None and classification.probas_threshold is not None:
        return classification.probas_threshold
    return 0.5


ESTIMATORS: ProjectCache[Estimator | EstimationError] = ProjectCache("estimators")
Record = Mapping[str, Sequence[float]]  # metric -> the scores of the last labelled days, oldest first
_DAY_SCORES: dict[tuple[str, object, date], dict[str, float]] = {}  # (project, fingerprint, day) -> scores
_MAX_DAY_SCORES = 5000


def fitted(config: EvmonConfig, project: Project, reference: pd.DataFrame) -> Estimator:
    """The project's estimator, fitted once per process while its settings and calibration data are unchanged;
    EstimationError (the same one, day after day) when it cannot be fitted."""

    def fit_or_why() -> Estimator | EstimationError:
        try:
            return fit(project, calibration_data(config, project, reference))
        except EstimationError as exc:
            return exc

    found = ESTIMATORS.get(project.name, _fingerprint(config, project), fit_or_why)
    if isinstance(found, EstimationError):
        raise EstimationError(str(found))  # a fresh one: re-raising the kept one would grow its traceback
    return found


def _fingerprint(config: EvmonConfig, project: Project) -> tuple[object, ...]:
    return (project.config_hash(), calibrating.fingerprint(config, project))


def day_estimates(
    config: EvmonConfig,
    project: Project,
    current: pd.DataFrame,
    reference: pd.DataFrame,
    labelled: bool,
    record_days: Sequence[date] = (),
) -> EstimatedDay:
    """The day's estimates with the project's (cached) estimator; EstimationError if there are none.

    record_days: earlier days whose labels have arrived (newest first is fine); the last RECORD_DAYS of
    them outside the calibration window are the track record the empirical band learns from.
    """
    estimator = fitted(config, project, reference)
    record = day_record(config, project, estimator, record_days)
    return estimate_day(project, estimator, current, labelled, record)


def day_record(config: EvmonConfig, project: Project, estimator: Estimator, days: Sequence[date]) -> Record:
    """Each metric's model-wide score (evmon.estimation.conformal.score) on the given labelled days, oldest
    first: the days are read from the source and estimated once per process. Days up to the end of the
    calibration window (in-sample for the estimator) or of the training window (in-sample for the model),
    and days without rows or labels, are left out."""
    estimation = project.presets.estimation
    windows = (estimation.calibration, estimation.training) if estimation is not None else ()
    ends = [w.end for w in windows if w is not None and w.end is not None]
    fingerprint = _fingerprint(config, project)
    record: dict[str, list[float]] = {}
    outside = [d for d in set(days) if not ends or d > max(ends)]
    for day in sorted(outside)[-conformal.RECORD_DAYS :]:
        key = (project.name, fingerprint, day)
        if key not in _DAY_SCORES:
            if len(_DAY_SCORES) >= _MAX_DAY_SCORES:
                _DAY_SCORES.clear()
            _DAY_SCORES[key] = _scores_of_day(config, project, estimator, day)
        for metric, value in _DAY_SCORES[key].items():
            record.setdefault(metric, []).append(value)
    return record


def _scores_of_day(config: EvmonConfig, project: Project, estimator: Estimator, day: date) -> dict[str, float]:
    cols = project.columns
    assert cols.prediction is not None and cols.target is not None
    try:
        rows = sources.read_window(config, project, *window_utc(day, day, project.timezone))
    except EvmonError:
        return {}
    if cols.target not in rows.columns or cols.prediction.column not in rows.columns:
        return {}
    rows = rows[rows[cols.prediction.column].notna() & rows[cols.target].notna()]
    if rows.empty:
        return {}
    try:
        values = _segment_values(project, estimator, rows, DEFAULT_SEGMENT, True, {})
    except EstimationError:
        return {}
    found = {(v.metric, v.value_kind): v.value for v in values}
    scores: dict[str, float] = {}
    for metric in {m for m, _ in found}:
        realized = found.get((metric, "realized"), math.nan)
        scores[metric] = conformal.score(
            found[(metric, "estimate")], estimator.sampling_error(metric, len(rows)), realized
        )
    return scores


def fit(project: Project, calibration: pd.DataFrame) -> Estimator:
    """The project's estimator fitted on its calibration rows that have both a label and a prediction."""
    cols, method = project.columns, method_of(project)
    assert cols.target is not None and cols.prediction is not None and method is not None  # the config model's rule
    missing = [c for c in (cols.target, cols.prediction.column) if c not in calibration.columns]
    if missing:
        raise EstimationError(f"{project.name}: the calibration data has no column {', '.join(missing)}")
    rows = calibration[calibration[cols.target].notna() & calibration[cols.prediction.column].notna()]
    days, level = calibrating.days_of(project, rows), calibrating.level_of(project)
    try:
        if method == "CBPE":
            labels = (rows[cols.target] == cols.positive_label).astype(int)
            return ClassificationEstimator.fit(
                labels, rows[cols.prediction.column], threshold_of(project), days=days, level=level
            )
        return RegressionEstimator.fit(
            rows,
            rows[cols.target],
            rows[cols.prediction.column],
            numerical=cols.numerical,
            categorical=cols.categorical,
            days=days,
            level=level,
        )
    except EstimationError as exc:
        raise EstimationError(f"{project.name}: {method} cannot be fitted on the calibration data: {exc}") from exc


def estimate_day(
    project: Project, estimator: Estimator, current: pd.DataFrame, labelled: bool, record: Record | None = None
) -> EstimatedDay:
    """Estimates (and, when `labelled`, realized values) model-wide and per segment value; with `fairness`,
    the estimate of group_metric per group of each sensitive column. `record`: the model-wide track record
    (day_record), which every segment's empirical band learns from too."""
    record = record or {}
    cols, method = project.columns, method_of(project)
    assert cols.prediction is not None and method is not None
    scored = current[current[cols.prediction.column].notna()]
    if scored.empty:
        raise EstimationError(f"{project.name}: no row has a prediction ({cols.prediction.column})")
    with_labels = labelled and cols.target is not None and cols.target in current.columns
    values = list(_segment_values(project, estimator, scored, DEFAULT_SEGMENT, with_labels, record))
    notes = []
    for column in project.segments:
        for value, rows in _values_of(scored, column):
            segment = f"{column}={value}"
            try:
                values += _segment_values(project, estimator, rows, segment, with_labels, record)
            except EstimationError as exc:
                notes.append(f"segment {segment}: {exc}")
    metric = group_metric(project)
    groups = _sensitive_groups(project, estimator, scored, values, metric, notes) if metric is not None else []
    return EstimatedDay(
        method,
        tuple(values),
        len(scored),
        len(current) - len(scored),
        with_labels,
        tuple(notes),
        metric,
        tuple(groups),
    )


def _values_of(scored: pd.DataFrame, column: str) -> Iterator[tuple[object, pd.DataFrame]]:
    for value in sorted(scored[column].dropna().unique().tolist(), key=str)[:MAX_SEGMENT_VALUES]:
        yield value, scored[scored[column] == value]


def _sensitive_groups(
    project: Project,
    estimator: Estimator,
    scored: pd.DataFrame,
    values: list[EstimatedValue],
    metric: str,
    notes: list[str],
) -> list[GroupEstimate]:
    """Each sensitive column's groups' estimate of `metric`: a segment's own values (estimated once), else
    estimated here; what cannot be estimated is a note, never the day's other estimates."""
    assert project.fairness is not None
    groups: list[GroupEstimate] = []
    for column in project.fairness.sensitive:
        if column in project.segments:
            prefix = f"{column}="
            found = (v for v in values if v.metric == metric and v.value_kind == "estimate")
            groups += [
                GroupEstimate(column, v.segment[len(prefix) :], v.value) for v in found if v.segment.startswith(prefix)
            ]
            continue
        if column not in scored.columns:  # evmon.fairness says so in the day's log
            continue
        try:
            for value, rows in _values_of(scored, column):
                try:
                    estimates = _segment_values(project, estimator, rows, f"{column}={value}", False, {})
                except EstimationError as exc:
                    notes.append(f"group {column}={value} (fairness): {exc}")
                    continue
                found = (v for v in estimates if v.metric == metric and v.value_kind == "estimate")
                groups += [GroupEstimate(column, str(value), v.value) for v in found]
        except Exception as exc:  # a sensitive column's unusable values cost its estimates, not the day
            notes.append(f"groups of {column} (fairness): unexpected {type(exc).__name__}: {exc}")
    return groups


def _segment_values(
    project: Project, estimator: Estimator, rows: pd.DataFrame, segment: str, with_labels: bool, record: Record
) -> list[EstimatedValue]:
    cols = project.columns
    assert cols.prediction is not None
    prediction = rows[cols.prediction.column]
    if isinstance(estimator, ClassificationEstimator):
        estimates = estimator.estimate(prediction, record)
    else:
        estimates = estimator.estimate(rows, prediction, record)
    realized: dict[str, float] = {}
    if with_labels:
        assert cols.target is not None
        known = rows[rows[cols.target].notna()]
        if not known.empty:
            if isinstance(estimator, ClassificationEstimator):
                truth = (known[cols.target] == cols.positive_label).astype(int)
            else:
                truth = known[cols.target]
            realized = estimator.realized(truth, known[cols.prediction.column])
    level = estimator.level
    return [value for estimate in estimates.values() for value in _values(estimate, segment, realized, level)]


def _values(estimate: Estimate, segment: str, realized: dict[str, float], level: float) -> Iterator[EstimatedValue]:
    metric = estimate.metric
    yield EstimatedValue(metric, segment, "estimate", estimate.value)
    yield EstimatedValue(metric, segment, "lower", estimate.lower)
    yield EstimatedValue(metric, segment, "upper", estimate.upper)
    yield EstimatedValue(metric, segment, "empirical_lower", estimate.empirical_lower)
    yield EstimatedValue(metric, segment, "empirical_upper", estimate.empirical_upper)
    yield EstimatedValue(metric, segment, "level", level)
    if metric in realized:
        actual = realized[metric]
        undefined = math.isnan(actual) or math.isnan(estimate.value)
        yield EstimatedValue(metric, segment, "realized", actual)
        yield EstimatedValue(metric, segment, "gap", estimate.value - actual)
        yield EstimatedValue(
            metric, segment, "inside_band", math.nan if undefined else float(estimate.contains(actual))
        )
        no_band = undefined or math.isnan(estimate.empirical_lower)
        yield EstimatedValue(
            metric, segment, "inside_empirical", math.nan if no_band else float(estimate.inside_empirical(actual))
        )
