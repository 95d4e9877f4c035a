"""A project-day's fairness: per sensitive column, each group's values and the gaps between groups.

Per group (`group` = the value, as text): rows (rows with a prediction), ranked (1 when it has at
least fairness.min_rows rows, else 0); a classifier's selection_rate (the share predicted positive:
score >= the project's threshold, or label == positive_label; with fairness.favourable "negative",
the share predicted otherwise, e.g. a credit model's approvals) and, with reference_group,
disparate_impact (its selection rate / the reference group's); with labels, over the group's
labelled rows, tpr, fpr, precision and the quality metric (its own name: accuracy, f1, ...). A
regressor's mean_prediction and, with labels, its quality metric (mae or rmse). With estimation on
(presets.estimation), every day, labelled or not, estimated_<metric>: the group's quality estimated
by the project's CBPE or DLE estimator (evmon.estimation) from its rows' predictions alone, of the
quality metric where the estimator has it (CBPE: roc_auc, accuracy, precision, recall, f1; DLE: mae,
rmse), else of the estimator's headline (roc_auc, mae). A group the estimator could not estimate
(a note of the estimated quality in the day's log) has none.

Between the ranked groups (`group` None): demographic_parity_difference and demographic_parity_ratio
(disparate impact, the four-fifths rule), with labels equalized_odds_difference and quality_gap
(best minus worst group, as a positive number); a regressor's mean_prediction_gap and quality_gap;
with estimation on, estimated_quality_gap (the same over the groups' estimates), so that a quality
gap shows before the labels arrive.
A group below min_rows is reported with its values but left out of these: its rates are noise.

Data that leaves a measure undefined is a note (one line in the day's log), never an error: a
sensitive column without values, one ranked group only (no gap), a reference group absent today,
a group of the reference absent today, scores that are not numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evmon.config.fairness import Fairness, quality_metric_of
from evmon.config.model import Project
from evmon.fairness import measures

MAX_GROUPS = 50  # as segments (evmon.evidently.guard): the first 50 values of a sensitive column


@dataclass(frozen=True)
class FairnessMeasure:
    """One value of one sensitive column: of one group, or between groups (group None)."""

    column: str
    measure: str
    group: str | None
    value: float


@dataclass(frozen=True)
class FairnessDay:
    """A day's fairness values, and what could not be computed, as lines for the day's log."""

    values: tuple[FairnessMeasure, ...]
    notes: tuple[str, ...]
    labelled: bool
    quality_metric: str

    def value(self, column: str, measure: str, group: str | None = None) -> float | None:
        """One value, None when absent."""
        for item in self.values:
            if (item.column, item.measure, item.group) == (column, measure, group):
                return item.value
        return None


@dataclass(frozen=True)
class EstimatedGroups:
    """Each group's estimated quality (evmon.estimation.daily's EstimatedDay.groups, as the runner hands them)."""

    metric: str  # the estimated metric, e.g. accuracy: the groups' measure is estimated_<metric>
    values: Mapping[tuple[str, str], float]  # (sensitive column, group) -> the estimate

    @property
    def measure(self) -> str:
        return f"estimated_{self.metric}"


def decision_threshold(project: Project) -> float:
    """The score at and above which a row is predicted positive: classification's probas_threshold,
    else estimation's threshold, else 0.5 (Evidently's default)."""
    classification, estimation = project.presets.classification, project.presets.estimation
    if classification is not None and classification.probas_threshold is not None:
        return classification.probas_threshold
    if estimation is not None and estimation.threshold is not None:
        return estimation.threshold
    return 0.5


@dataclass(frozen=True)
class _Rows:
    """The day's rows that have a prediction, in the form the formulas take."""

    frame: pd.DataFrame
    decisions: np.ndarray | None  # classifier: predicted positive
    selected: np.ndarray | None  # classifier: the favourable decision (fairness.favourable), whose rate is compared
    scores: np.ndarray | None  # probability scores, or a regressor's predictions
    truth: np.ndarray | None  # classifier: is positive; regressor: the target; None without labels
    labelled: np.ndarray | None  # rows whose label is known


def day_fairness(
    project: Project,
    current: pd.DataFrame,
    reference: pd.DataFrame,
    labelled: bool,
    estimated: EstimatedGroups | None = None,
) -> FairnessDay:
    """The day's fairness values per sensitive column (the project must have a `fairness` section), with
    `estimated` (the groups' estimated quality, when the project estimates) estimated_<metric> and its gap."""
    fairness, cols = project.fairness, project.columns
    assert fairness is not None and cols.prediction is not None  # the config model's rule
    kind, column = cols.prediction.kind, cols.prediction.column
    metric = quality_metric_of(fairness, kind)
    target = cols.target
    with_labels = labelled and target is not None and target in current.columns and bool(current[target].notna().any())
    notes: list[str] = []
    if column not in current.columns:
        return FairnessDay((), (f"fairness: no prediction column {column!r} today; nothing computed",), False, metric)
    rows = current[current[column].notna()]
    if len(rows) < len(current):
        notes.append(f"fairness: {len(current) - len(rows)} rows without a prediction ({column}) left out")
    if kind != "label" and not pd.api.types.is_numeric_dtype(rows[column]):
        notes.append(f"fairness: the prediction column {column!r} holds no numbers today; nothing computed")
        return FairnessDay((), tuple(notes), False, metric)
    prepared = _prepare(project, rows, with_labels)
    values: list[FairnessMeasure] = []
    for sensitive in fairness.sensitive:
        found, column_notes = _column(project, fairness, prepared, sensitive, reference, metric, estimated)
        values += found
        notes += column_notes
    return FairnessDay(tuple(values), tuple(notes), with_labels, metric)


def _prepare(project: Project, rows: pd.DataFrame, with_labels: bool) -> _Rows:
    cols = project.columns
    assert cols.prediction is not None
    predicted = rows[cols.prediction.column]
    decisions = scores = truth = known = None
    if cols.prediction.kind == "label":
        decisions = (predicted == cols.positive_label).to_numpy(dtype=bool)
    else:
        scores = predicted.to_numpy(dtype=float)
        if cols.prediction.kind == "probability":
            decisions = scores >= decision_threshold(project)
    negative = project.fairness is not None and project.fairness.favourable == "negative"
    selected = None if decisions is None else ~decisions if negative else decisions
    if with_labels:
        assert cols.target is not None
        target = rows[cols.target]
        known = target.notna().to_numpy(dtype=bool)
        if cols.prediction.kind == "regression":
            truth = pd.to_numeric(target, errors="coerce").to_numpy(dtype=float)
        else:
            truth = (target == cols.positive_label).to_numpy(dtype=bool)
    return _Rows(rows, decisions, selected, scores, truth, known)


def _column(
    project: Project,
    fairness: Fairness,
    rows: _Rows,
    column: str,
    reference: pd.DataFrame,
    metric: str,
    estimated: EstimatedGroups | None,
) -> tuple[list[FairnessMeasure], list[str]]:
    where = f"fairness of {column}"
    if column not in rows.frame.columns:
        return [], [f"{where}: the column is not in the day's data; nothing computed"]
    sensitive = rows.frame[column]
    present = sensitive.notna().to_numpy(dtype=bool)
    notes = []
    if not present.any():
        return [], [f"{where}: no value today (every row's {column} is missing); nothing computed"]
    if not present.all():
        notes.append(f"{where}: {int((~present).sum())} rows without a value left out")
    names = sensitive.map(str, na_action="ignore").to_numpy(dtype=object)
    groups = sorted({str(v) for v in sensitive.dropna().unique()})
    if len(groups) > MAX_GROUPS:
        notes.append(f"{where}: {len(groups)} groups; the first {MAX_GROUPS} (in text order) computed")
        groups = groups[:MAX_GROUPS]
    if column in reference.columns:
        absent = sorted({str(v) for v in reference[column].dropna().unique()} - set(groups))
        if absent:
            notes.append(f"{where}: group(s) of the reference absent today: {', '.join(absent)}")
    per_group = {group: _group_values(project, rows, names == group, metric) for group in groups}
    if estimated is not None:
        for group in groups:
            if (column, group) in estimated.values:
                per_group[group][estimated.measure] = estimated.values[column, group]
    ranked = [g for g in groups if per_group[g]["rows"] >= fairness.min_rows]
    small = [g for g in groups if g not in ranked]
    if small:
        notes.append(
            f"{where}: group(s) below min_rows ({fairness.min_rows}) reported, not ranked: "
            + ", ".join(f"{g} ({int(per_group[g]['rows'])} rows)" for g in small)
        )
    for group in groups:
        per_group[group]["ranked"] = float(group in ranked)
    if column in fairness.reference_group:
        notes += _against_reference(where, str(fairness.reference_group[column]), per_group)
    values = [FairnessMeasure(column, m, g, v) for g in groups for m, v in per_group[g].items()]
    if len(ranked) < 2:
        which = f" ({', '.join(ranked)})" if ranked else ""
        enough = f"{len(ranked)} group(s) with at least {fairness.min_rows} rows{which}"
        notes.append(f"{where}: {enough}; no gap between groups")
        return values, notes
    between = _between([per_group[g] for g in ranked], metric, estimated.measure if estimated is not None else None)
    values += [FairnessMeasure(column, m, None, v) for m, v in between.items()]
    return values, notes


def _group_values(project: Project, rows: _Rows, mask: np.ndarray, metric: str) -> dict[str, float]:
    values = {"rows": float(mask.sum())}
    labelled = mask & rows.labelled if rows.labelled is not None else None
    if rows.decisions is not None:  # a classifier
        assert rows.selected is not None
        values["selection_rate"] = measures.selection_rate(rows.selected[mask])
        if labelled is not None and rows.truth is not None:
            scores = rows.scores[labelled] if rows.scores is not None else None
            values |= measures.classifier_rates(rows.truth[labelled], rows.decisions[labelled], scores, metric)
        return values
    assert rows.scores is not None
    values["mean_prediction"] = float(rows.scores[mask].mean())
    if labelled is not None and rows.truth is not None:
        values[metric] = measures.regressor_quality(rows.truth[labelled], rows.scores[labelled], metric)
    return values


def _against_reference(where: str, reference: str, per_group: dict[str, dict[str, float]]) -> list[str]:
    """Each group's disparate impact against the reference group, when that group has selections today."""
    if reference not in per_group:
        return [f"{where}: the reference group {reference} is absent today; no disparate impact against it"]
    base = per_group[reference].get("selection_rate", math.nan)
    if math.isnan(base) or base == 0:
        return [f"{where}: the reference group {reference} has no positive prediction today; no disparate impact"]
    for values in per_group.values():
        values["disparate_impact"] = values["selection_rate"] / base
    return []


def _between(groups: list[dict[str, float]], metric: str, estimated: str | None) -> dict[str, float]:
    def of(measure: str) -> list[float]:
        return [g[measure] for g in groups if measure in g]

    between: dict[str, float] = {}
    if of("selection_rate"):
        between["demographic_parity_difference"] = measures.gap(of("selection_rate"))
        between["demographic_parity_ratio"] = measures.ratio(of("selection_rate"))
    if of("tpr"):
        between["equalized_odds_difference"] = measures.equalized_odds_difference(of("tpr"), of("fpr"))
    if of("mean_prediction"):
        between["mean_prediction_gap"] = measures.gap(of("mean_prediction"))
    if of(metric):
        between["quality_gap"] = measures.gap(of(metric))
    if estimated is not None and of(estimated):
        between["estimated_quality_gap"] = measures.gap(of(estimated))
    return between
