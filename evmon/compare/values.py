"""The values of a snapshot, and day A against day B: pure, from evmon.snapshot.flatten's rows.

A snapshot's values are a per-column table (drift score, method, threshold, verdict, missing
share) and dataset-level values (share and count of drifted columns, rows, missing share,
model quality for the whole model and each segment), and the estimated quality of a project with
`presets.estimation` (evmon.compare.estimated). Comparing two snapshots gives, for each value, A, B
and the delta B - A, sorted by the largest change, with flipped verdicts flagged; a quality value is
the realized one where the day has it, else the estimate, flagged, and its delta says what it is between.

The drift verdict is Evidently's own: each stat test in Evidently 0.7.23's registry
(``evidently/legacy/calculations/stattests/*.py``) returns ``(score, drifted)`` with its own
comparison: p-value tests drift when the p-value is below the threshold (``ks`` and
``cramer_von_mises`` also at equality), distances when the score reaches it (``ed`` only
above it). The snapshot stores the score, method and threshold but not the verdict, so the
verdict is recomputed here with the same comparison; tests/app/test_compare.py checks every
rule against Evidently's registry and the count against the snapshot's DriftedColumnsCount.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Literal

from evmon.compare.bias import BiasKey, BiasValue, bias_values
from evmon.compare.estimated import (
    Estimated,
    Key,
    Shown,
    delta_basis,
    estimated_from_rows,
    quality_key,
    quality_name,
    shown,
)
from evmon.compare.explain import Explained, explained_of
from evmon.drift import drift_rule, drift_verdict
from evmon.snapshot.flatten import MetricRow, flatten

Group = Literal["drift", "data", "quality"]
GROUP_ORDER: dict[str, int] = {"drift": 0, "data": 1, "quality": 2}


@dataclass(frozen=True)
class ColumnValues:
    """One column of one snapshot."""

    column: str
    drift_score: float | None = None
    method: str | None = None
    threshold: float | None = None
    drifted: bool | None = None
    missing_share: float | None = None

    @property
    def method_name(self) -> str | None:
        """The registered method name ('wasserstein'), also when the snapshot stores a display name."""
        rule = drift_rule(self.method)
        return rule.method if rule is not None else self.method

    @property
    def rule_text(self) -> str:
        rule = drift_rule(self.method)
        return rule.describe(self.threshold) if rule is not None else "unknown method"


@dataclass(frozen=True)
class DatasetValue:
    """One dataset-level value of one snapshot."""

    key: str  # stable across snapshots: "drift.share", "quality.RocAuc.value.region=east"
    name: str
    group: Group
    value: float | None
    segment: str | None = None
    undefined: str | None = None  # why the value is undefined (then None), e.g. no positive predictions


@dataclass(frozen=True)
class SnapshotValues:
    """Everything the app compares, from one snapshot."""

    columns: dict[str, ColumnValues]
    dataset: dict[str, DatasetValue]
    drift_share: float | None = None  # the share of drifted columns that makes the dataset drift
    segments: tuple[str, ...] = ()  # with realized model quality
    estimated: dict[Key, Estimated] = field(default_factory=dict)  # (segment, metric): estimated quality
    bias: dict[BiasKey, BiasValue] = field(default_factory=dict)  # fairness and outlier figures (evmon.compare.bias)
    explained: Explained | None = None  # the model's attributions (evmon.compare.explain)

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns.values() if c.drifted]

    @property
    def evidently_drifted_count(self) -> int | None:
        """Evidently's own count (DriftedColumnsCount), None without the drift preset."""
        value = self.dataset.get("drift.count")
        return None if value is None or value.value is None else int(value.value)

    @property
    def dataset_drift(self) -> bool | None:
        """Evidently's dataset drift: the share of drifted columns reaches drift_share."""
        share = self.dataset.get("drift.share")
        if share is None or share.value is None or self.drift_share is None:
            return None
        return share.value >= self.drift_share

    def value(self, key: str) -> float | None:
        item = self.dataset.get(key)
        return None if item is None else item.value

    def estimated_by_key(self) -> dict[str, Estimated]:
        """The estimated quality by the key of the value each estimates ('quality.RocAuc.value.default')."""
        return {est.key: est for est in self.estimated.values()}


def snapshot_values(snapshot: Mapping[str, Any]) -> SnapshotValues:
    """The values of a parsed snapshot file (or a SnapshotModel's dict)."""
    return values_from_rows(flatten(snapshot))


def values_from_rows(rows: Iterable[MetricRow]) -> SnapshotValues:
    """The values of a snapshot, from its flattened rows."""
    rows = list(rows)
    columns: dict[str, dict[str, Any]] = {}
    dataset: dict[str, DatasetValue] = {}
    drift_share: float | None = None
    segments: list[str] = []
    missing: dict[str, float | None] = {}

    def column(name: str) -> dict[str, Any]:
        return columns.setdefault(name, {"column": name})

    def add(key: str, name: str, group: Group, value: float | None, segment: str | None = None) -> None:
        dataset.setdefault(key, DatasetValue(key, name, group, value, segment))

    for row in rows:
        kind = row.metric_type
        if kind == "ValueDrift" and row.column is not None:
            entry = column(row.column)
            entry["drift_score"] = row.value
            entry["method"] = _str_or_none(row.params.get("method"))
            entry["threshold"] = _float_or_none(row.params.get("threshold"))
        elif kind == "MissingValueCount" and row.column is not None and row.value_kind == "share":
            column(row.column)["missing_share"] = row.value
        elif kind == "DriftedColumnsCount":
            drift_share = _float_or_none(row.params.get("drift_share"))
            if row.value_kind == "share":
                add("drift.share", "Share of drifted columns", "drift", row.value)
            else:
                add("drift.count", "Drifted columns", "drift", row.value)
        elif kind == "RowCount":
            add("data.rows", "Rows", "data", row.value)
        elif kind == "MissingCellsShare":
            missing["share"] = row.value
        elif kind == "DatasetMissingValueCount" and row.value_kind == "count":
            missing["cells"] = row.value
        elif kind == "ColumnCount" and row.column is None and row.label is None:
            missing["columns"] = row.value
        elif row.label is None and (segment := row.segment) is not None:
            add(
                quality_key(kind, row.value_kind, segment),
                quality_name(kind, row.value_kind),
                "quality",
                row.value,
                segment,
            )
            if segment not in segments:
                segments.append(segment)
    _mark_undefined_precision(dataset, segments)
    share = missing.get("share", missing_cells_share(missing.get("cells"), dataset, missing.get("columns")))
    if share is not None or "cells" in missing:
        add("data.missing_share", "Missing values share", "data", share)
    built = {
        name: ColumnValues(
            column=name,
            drift_score=fields.get("drift_score"),
            method=fields.get("method"),
            threshold=fields.get("threshold"),
            drifted=drift_verdict(fields.get("method"), fields.get("drift_score"), fields.get("threshold")),
            missing_share=fields.get("missing_share"),
        )
        for name, fields in columns.items()
    }
    return SnapshotValues(
        built, dataset, drift_share, tuple(segments), estimated_from_rows(rows), bias_values(rows), explained_of(rows)
    )


NO_POSITIVE_PREDICTIONS = "no positive predictions"


def _mark_undefined_precision(dataset: dict[str, DatasetValue], segments: list[str]) -> None:
    """A precision with no positive prediction (TP + FP = 0) is 0/0: Evidently (scikit-learn) stores 0.

    TP + FP = 0 exactly when the TPR is 0 or undefined and the FPR is 0 or undefined; such a precision is
    shown as undefined, not as a drop to 0, and stays out of the ranking by change.
    """
    for segment in segments:
        precision = dataset.get(quality_key("Precision", "value", segment))
        rates = [dataset.get(quality_key(rate, "value", segment)) for rate in ("TPR", "FPR")]
        if precision is None or any(r is None for r in rates):
            continue
        if all(r is not None and (r.value is None or not math.isfinite(r.value) or r.value == 0) for r in rates):
            dataset[precision.key] = replace(precision, value=None, undefined=NO_POSITIVE_PREDICTIONS)


def missing_cells_share(
    cells: float | None, dataset: Mapping[str, DatasetValue], columns: float | None
) -> float | None:
    """Missing cells / all cells, for snapshots without evmon's MissingCellsShare (as Grafana computes it).

    Evidently's own DatasetMissingValueCount share divides by the rows only (missing values per row).
    """
    rows = dataset["data.rows"].value if "data.rows" in dataset else None
    if cells is None or rows is None or columns is None or rows * columns == 0:
        return None
    return cells / (rows * columns)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# --- comparison -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnDelta:
    """One column, day A against day B."""

    column: str
    method: str | None
    threshold: float | None
    score_a: float | None
    score_b: float | None
    delta: float | None
    drifted_a: bool | None
    drifted_b: bool | None
    missing_a: float | None
    missing_b: float | None
    missing_delta: float | None
    settings_changed: bool  # method or threshold differ between A and B

    @property
    def flipped(self) -> bool:
        return self.drifted_a is not None and self.drifted_b is not None and self.drifted_a != self.drifted_b


@dataclass(frozen=True)
class ValueDelta:
    """One dataset-level value, day A against day B."""

    key: str
    name: str
    group: Group
    segment: str | None
    a: float | None
    b: float | None
    delta: float | None
    verdict_a: bool | None = None  # only the drift share has one: dataset drift
    verdict_b: bool | None = None
    shown_a: Shown | None = None  # a quality value: realized or estimated, with the day's estimate
    shown_b: Shown | None = None
    undefined_a: str | None = None  # why A's value is undefined (DatasetValue.undefined)
    undefined_b: str | None = None

    @property
    def flipped(self) -> bool:
        return self.verdict_a is not None and self.verdict_b is not None and self.verdict_a != self.verdict_b

    @property
    def estimated(self) -> bool:
        """Whether A or B is an estimate (the day had no realized value)."""
        return any(s is not None and s.basis == "estimated" for s in (self.shown_a, self.shown_b))

    @property
    def basis(self) -> str | None:
        """A quality delta's basis: 'realized', 'estimated', or that it is an estimate against a realized value."""
        return delta_basis(self.shown_a, self.shown_b)


@dataclass(frozen=True)
class Comparison:
    """Day A against day B: columns by largest |delta| of the drift score, values by group, then |delta|."""

    columns: list[ColumnDelta]
    values: list[ValueDelta]

    @property
    def flipped_columns(self) -> list[ColumnDelta]:
        return [c for c in self.columns if c.flipped]

    @property
    def dataset_drift_flipped(self) -> bool:
        return any(v.flipped for v in self.values)


def delta(a: float | None, b: float | None) -> float | None:
    """b - a, None when either is missing or not finite."""
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return None
    return b - a


def _by_abs_delta(value: float | None) -> float:
    return -abs(value) if value is not None else math.inf


def compare(a: SnapshotValues, b: SnapshotValues) -> Comparison:
    """Day A against day B: every column and value present in either."""
    columns: list[ColumnDelta] = []
    for name in _union(a.columns, b.columns):
        ca, cb = a.columns.get(name, ColumnValues(name)), b.columns.get(name, ColumnValues(name))
        columns.append(
            ColumnDelta(
                column=name,
                method=cb.method_name or ca.method_name,
                threshold=cb.threshold if cb.threshold is not None else ca.threshold,
                score_a=ca.drift_score,
                score_b=cb.drift_score,
                delta=delta(ca.drift_score, cb.drift_score),
                drifted_a=ca.drifted,
                drifted_b=cb.drifted,
                missing_a=ca.missing_share,
                missing_b=cb.missing_share,
                missing_delta=delta(ca.missing_share, cb.missing_share),
                settings_changed=(ca.method_name, ca.threshold) != (cb.method_name, cb.threshold)
                and ca.method is not None
                and cb.method is not None,
            )
        )
    columns.sort(key=lambda c: _by_abs_delta(c.delta))
    values: list[ValueDelta] = []
    estimated_a, estimated_b = a.estimated_by_key(), b.estimated_by_key()
    for key in _union(a.dataset, b.dataset):
        va, vb = a.dataset.get(key), b.dataset.get(key)
        ref = vb if vb is not None else va
        assert ref is not None
        x, y = (va.value if va else None), (vb.value if vb else None)
        if ref.group == "quality":
            sa = shown(estimated_a.get(key), x, va is not None)
            sb = shown(estimated_b.get(key), y, vb is not None)
            undefined = (va.undefined if va else None, vb.undefined if vb else None)
            values.append(_quality_delta(key, ref.name, ref.segment, sa, sb, undefined))
            continue
        verdicts = (a.dataset_drift, b.dataset_drift) if key == "drift.share" else (None, None)
        values.append(ValueDelta(key, ref.name, ref.group, ref.segment, x, y, delta(x, y), *verdicts))
    for key in _union(estimated_a, estimated_b):  # estimated values without a realized one on either day
        if key not in a.dataset and key not in b.dataset:
            est = estimated_b.get(key) or estimated_a[key]
            name = quality_name(*est.estimates)
            sa, sb = shown(estimated_a.get(key)), shown(estimated_b.get(key))
            values.append(_quality_delta(key, name, est.segment, sa, sb))
    values.sort(key=lambda v: (GROUP_ORDER[v.group], _by_abs_delta(v.delta)))
    return Comparison(columns, values)


def _quality_delta(
    key: str,
    name: str,
    segment: str | None,
    a: Shown | None,
    b: Shown | None,
    undefined: tuple[str | None, str | None] = (None, None),
) -> ValueDelta:
    x, y = (a.value if a else None), (b.value if b else None)
    return ValueDelta(
        key,
        name,
        "quality",
        segment,
        x,
        y,
        delta(x, y),
        shown_a=a,
        shown_b=b,
        undefined_a=undefined[0],
        undefined_b=undefined[1],
    )


def _union(first: Mapping[str, Any], second: Mapping[str, Any]) -> list[str]:
    return [*first, *(k for k in second if k not in first)]


def week_before(day: date) -> date:
    """The same weekday a week before `day`."""
    return day - timedelta(days=7)


# --- a window of snapshots side by side -------------------------------------------------------


def side_by_side(
    columns: Sequence[str], named: Sequence[tuple[str, SnapshotValues]]
) -> list[dict[str, str | float | bool | None]]:
    """One row per column: for each named snapshot its score and verdict ('<name> score', '<name> drift')."""
    rows: list[dict[str, str | float | bool | None]] = []
    for name in columns:
        row: dict[str, str | float | bool | None] = {"column": name}
        for label, values in named:
            cv = values.columns.get(name)
            row[f"{label} score"] = cv.drift_score if cv else None
            row[f"{label} drift"] = cv.drifted if cv else None
        rows.append(row)
    return rows
