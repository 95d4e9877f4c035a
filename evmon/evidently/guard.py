"""What a day's data lets the Report compute, decided before Evidently runs.

Evidently fails a whole Report, or hangs in it, on data a broken feed produces; the guard keeps
such data to the columns it concerns, says so in the snapshot, and gives the day's log a line:

- an infinite value (+inf, -inf) is not a value: the Report sees it as missing (drift, summary
  statistics, the missing shares), and evmon's InfiniteValueCount counts it per column;
- a column with no value left, in the day's data or in the reference (Evidently: "An empty column
  'x' was provided"), is left out of drift and marked DriftNotComputed; its missing share is 1;
- a categorical column with more distinct values (the day's and the reference's together) than
  presets.data_drift.max_categories is left out of drift, marked the same way, and of the data
  summary's count of each value (its missing values are still counted): Evidently's drift of a
  categorical column grows far faster than its categories (30,000 take about a minute), the
  counts with their number (seconds and megabytes of snapshot: bench/high_cardinality.py);
- the day's quality is not computed when its target or prediction has no value (Evidently fails
  on an empty input), a segment's when its rows have none.

A day with none of these runs exactly as before: the same frames, the same metrics, the same bytes.
The reference's share of the work (its infinite values, its distinct values) is done once per
reference frame (a ProjectCache, as the runner keeps the frame).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evmon.cache import ProjectCache
from evmon.config.model import Project
from evmon.evidently.metrics import NO_CURRENT_VALUES, NO_REFERENCE_VALUES, TOO_MANY_CATEGORIES, infinite_count

MAX_SEGMENT_VALUES = 50


@dataclass(frozen=True)
class Checked:
    """A day's frames as the Report is to see them, and what it is to leave out."""

    current: pd.DataFrame  # infinite values as missing
    reference: pd.DataFrame
    raw_current: pd.DataFrame  # as read: InfiniteValueCount counts in these
    raw_reference: pd.DataFrame
    not_drifted: tuple[tuple[str, str], ...] = ()  # (column, reason) left out of drift
    infinite: tuple[str, ...] = ()  # columns with infinite values, today or in the reference
    quality: bool = True  # some of the day's rows have both a target and a prediction
    labelled_current: pd.DataFrame | None = None  # those rows (`current` itself when every row has both)
    labelled_reference: pd.DataFrame | None = None  # the reference's (None when no row has both)
    notes: tuple[str, ...] = ()  # one line each, for the day's log

    @property
    def too_many_categories(self) -> list[str]:
        """Columns whose values are too many to drift or to count one by one (their missing ones are)."""
        return [column for column, reason in self.not_drifted if reason == TOO_MANY_CATEGORIES]

    def drift_columns(self, project: Project) -> list[str]:
        """The project's drift columns the day's drift can be computed on."""
        left_out = {column for column, _ in self.not_drifted}
        return [c for c in project.drift_columns() if c not in left_out]


class _ReferenceFacts:
    """What the guard needs of one reference frame, worked out once (held with the frame)."""

    def __init__(self, project: Project, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.infinite = _infinite_counts(frame, _report_columns(project))
        self.checked = _without_infinities(frame, self.infinite)
        self.empty = frozenset(c for c in _report_columns(project) if c in frame and self.checked[c].isna().all())
        self.distinct = {c: int(frame[c].nunique()) for c in _categorical_drift_columns(project) if c in frame}
        labelled = _class_labels(project, _labelled(self.checked, [c for c in _quality_columns(project) if c in frame]))
        self.labelled = labelled if not labelled.empty else None


_REFERENCE_FACTS: ProjectCache[_ReferenceFacts] = ProjectCache("reference checks", size=8)


def check_day(
    project: Project,
    current: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    with_quality: bool,
    reuse_reference: bool = False,
) -> Checked:
    """What of `project`'s Report the day's data allows (reuse_reference: keep the reference's share)."""
    if reuse_reference:  # the facts hold the frame: its id cannot be another frame's meanwhile
        fingerprint = (project.config_hash(), id(reference))
        facts = _REFERENCE_FACTS.get(project.name, fingerprint, lambda: _ReferenceFacts(project, reference))
    else:
        facts = _ReferenceFacts(project, reference)
    notes: list[str] = []
    infinite = _infinite_counts(current, _report_columns(project))
    checked_current = _without_infinities(current, infinite)
    for column in sorted(infinite.keys() | facts.infinite.keys(), key=_report_columns(project).index):
        counts = [f"{infinite[column]} infinite values today"] if column in infinite else []
        if column in facts.infinite:
            counts.append(f"{facts.infinite[column]}{'' if counts else ' infinite values'} in the reference")
        notes.append(
            f"column {column!r}: {' and '.join(counts)}, left out of drift and statistics "
            "(counted as missing there, and by InfiniteValueCount)"
        )
    not_drifted = _not_drifted(project, checked_current, facts, notes)
    labelled = None
    if with_quality and project.has_quality:
        labelled = _quality_rows(project, checked_current, facts, notes)
    return Checked(
        current=checked_current,
        reference=facts.checked,
        raw_current=current,
        raw_reference=reference,
        not_drifted=tuple(not_drifted),
        infinite=tuple(c for c in _report_columns(project) if c in infinite or c in facts.infinite),
        quality=labelled is not None,
        labelled_current=labelled,
        labelled_reference=facts.labelled,
        notes=tuple(notes),
    )


def segment_values(current: pd.DataFrame, column: str) -> list[object]:
    """The values of a segment column whose rows get their own quality part (at most MAX_SEGMENT_VALUES)."""
    return sorted(current[column].dropna().unique().tolist(), key=str)[:MAX_SEGMENT_VALUES]


def _not_drifted(
    project: Project, current: pd.DataFrame, facts: _ReferenceFacts, notes: list[str]
) -> list[tuple[str, str]]:
    drift = project.presets.data_drift
    if drift is None:
        return []
    cap = drift.max_categories
    categorical = set(_categorical_drift_columns(project))
    left_out = []
    for column in project.drift_columns():
        if current[column].isna().all():
            left_out.append((column, NO_CURRENT_VALUES))
            notes.append(f"drift of {column!r} not computed: no value today ({len(current)} rows, all missing)")
        elif column in facts.empty:
            left_out.append((column, NO_REFERENCE_VALUES))
            notes.append(f"drift of {column!r} not computed: no value in the reference (all missing)")
        elif cap is not None and column in categorical:
            distinct = _distinct(current[column], facts, column, cap)
            if distinct > cap:
                left_out.append((column, TOO_MANY_CATEGORIES))
                notes.append(
                    f"drift of {column!r} not computed: {distinct} distinct values today and in the reference, "
                    f"above presets.data_drift.max_categories ({cap})"
                )
    return left_out


def _distinct(values: pd.Series, facts: _ReferenceFacts, column: str, cap: int) -> int:
    """Distinct values of the day's and the reference's column together (exact when above the cap)."""
    today = int(values.nunique())
    if today + facts.distinct.get(column, 0) <= cap:
        return today + facts.distinct.get(column, 0)  # at most this many: under the cap whatever they share
    return int(pd.concat([values.dropna(), facts.frame[column].dropna()], ignore_index=True).nunique())


def _quality_rows(
    project: Project, current: pd.DataFrame, facts: _ReferenceFacts, notes: list[str]
) -> pd.DataFrame | None:
    """The day's rows with both a target and a prediction (None when none has), noting what is left out."""
    columns = [c for c in _quality_columns(project) if c in current]
    empty = [c for c in columns if current[c].isna().all()]
    if empty:
        notes.append(f"no quality metrics: no value today in {_listed(empty)}")
        return None
    labelled = _labelled(current, columns)
    if labelled is not current:
        notes.append(
            f"quality metrics on {len(labelled)} of {len(current)} rows: the others have no value in {_listed(columns)}"
        )
    labelled = _class_labels(project, labelled)
    if facts.labelled is None:
        notes.append(f"quality metrics without the reference's: no reference row has a value in {_listed(columns)}")
    for column in project.segments:
        kept = set(labelled[column].dropna().unique().tolist())
        for value in segment_values(current, column):
            if value not in kept:
                notes.append(
                    f"no quality metrics for segment {column}={value}: no row with a value in {_listed(columns)}"
                )
    return labelled if not labelled.empty else None


def _labelled(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """`frame`'s rows with a value in every one of `columns`: `frame` itself when that is all of them."""
    complete = frame[columns].notna().all(axis=1).to_numpy() if columns else None
    if complete is None or complete.all():
        return frame
    return frame[complete]


def _class_labels(project: Project, frame: pd.DataFrame) -> pd.DataFrame:
    """A classifier's labels as the integers they are where they were read as floats (a column that had
    a missing label: 0.0, 1.0), which Evidently takes for a continuous target; `frame` itself otherwise."""
    cols = project.columns
    if project.presets.classification is None or cols.prediction is None:
        return frame
    columns = [c for c in (cols.target, cols.prediction.column if cols.prediction.kind == "label" else None) if c]
    whole = {
        c: frame[c].astype("int64")
        for c in columns
        if c in frame and pd.api.types.is_float_dtype(frame[c]) and np.array_equal(frame[c], np.round(frame[c]))
    }
    return frame.assign(**whole) if whole else frame


def _listed(columns: Sequence[str]) -> str:
    return ", ".join(repr(c) for c in columns)


def _report_columns(project: Project) -> list[str]:
    """The columns the Report reads: features, the prediction, and the target where quality is computed."""
    cols = project.columns
    target = cols.target if project.has_quality else None
    extra = [c for c in (cols.prediction.column if cols.prediction else None, target) if c is not None]
    return list(dict.fromkeys([*cols.features(), *extra]))


def _categorical_drift_columns(project: Project) -> list[str]:
    cols = project.columns
    categorical = list(cols.categorical)
    if cols.prediction is not None and cols.prediction.kind == "label":
        categorical.append(cols.prediction.column)
    return [c for c in project.drift_columns() if c in categorical]


def _quality_columns(project: Project) -> list[str]:
    cols = project.columns
    return [c for c in (cols.target, cols.prediction.column if cols.prediction else None) if c is not None]


def _infinite_counts(frame: pd.DataFrame, columns: list[str]) -> dict[str, int]:
    counts = {c: infinite_count(frame[c]) for c in columns if c in frame}
    return {c: n for c, n in counts.items() if n}


def _without_infinities(frame: pd.DataFrame, infinite: dict[str, int]) -> pd.DataFrame:
    """`frame` itself when it holds no infinite value, else a copy with them as missing."""
    if not infinite:
        return frame
    return frame.assign(
        **{c: frame[c].mask(np.isinf(frame[c].to_numpy(dtype=float, na_value=np.nan))) for c in infinite}
    )
