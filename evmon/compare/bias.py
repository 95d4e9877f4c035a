"""Fairness and outlier figures in the compare view: a snapshot's values, and day A against day B.

From evmon.snapshot.flatten's rows of a daily snapshot: evmon's FairnessValue (column = the sensitive
column, label = the group, value_kind = the measure) gives per sensitive column the demographic parity
ratio (disparate impact), the equalized odds difference (labelled days only), the estimated quality
gap (with estimation on: every day, before the labels) and each group's selection rate; a group
below fairness.min_rows has `ranked` 0: its rate is shown, marked, and left out of the
between-groups values. Evidently's OutRangeValueCount / OutListValueCount give each watched
column's share of values outside the reference's range / of new categories, evmon's
MultivariateOutlierCount the share of rows the IsolationForest scores as outliers, and on labelled days
evmon's OutlierQuality (label = the rows, outliers or inliers; value_kind = the metric, accuracy or mae)
the model's quality on those rows and on the others: what the outliers cost.

A NaN (e.g. the ratio when no group has a positive prediction) is undefined: None, with why, no delta,
and ranked after every defined change, like the quality values (evmon.compare.values).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from evmon.snapshot.flatten import MetricRow

Section = Literal["fairness", "outliers"]
BiasKey = tuple[str, str, str, str]  # (section, column, measure, group or "")
MULTIVARIATE = "all rows"
FAIRNESS_MEASURES = {
    "demographic_parity_ratio": "disparate impact (demographic parity ratio)",
    "equalized_odds_difference": "equalized odds difference",
    "estimated_quality_gap": "estimated quality gap (best minus worst group)",
    "selection_rate": "selection rate",
}
OUTLIER_MEASURES = {
    "OutRangeValueCount": "share outside the reference's range",
    "OutListValueCount": "share of new categories",
    "MultivariateOutlierCount": "multivariate outlier share",
}
# OutlierQuality: the metric's name, and the column the compare view shows for each set of rows
OUTLIER_QUALITY = {"accuracy": "model accuracy", "mae": "model MAE"}
QUALITY_ROWS = {"outliers": "outlier rows (IsolationForest)", "inliers": "other rows"}
NOT_RANKED = "not ranked (fewer rows than fairness.min_rows: reported only)"
_ABSENT = {
    "equalized_odds_difference": "absent (no labels that day, or fewer than two ranked groups)",
    "demographic_parity_ratio": "absent (fewer than two ranked groups)",
    "estimated_quality_gap": "absent (no estimated quality that day, or fewer than two ranked groups)",
    "selection_rate": "absent (the group has no rows that day)",
    **dict.fromkeys(OUTLIER_QUALITY, "absent (no labels that day, or no labelled row among these rows)"),
}
_UNDEFINED = {
    "demographic_parity_ratio": "undefined (no ranked group predicted positive)",
    "equalized_odds_difference": "undefined (no ranked group has both outcomes)",
}


@dataclass(frozen=True)
class BiasValue:
    """One fairness or outlier figure of one day."""

    section: Section
    column: str  # the sensitive column, the watched column, or MULTIVARIATE
    measure: str  # FairnessValue's measure, or the outlier metric's type
    group: str | None  # a group of the sensitive column (selection rate), else None
    value: float | None  # None: undefined (NaN in the snapshot)
    ranked: bool = True  # False: a group below fairness.min_rows

    @property
    def key(self) -> BiasKey:
        return (self.section, self.column, self.measure, self.group or "")

    @property
    def name(self) -> str:
        return {**FAIRNESS_MEASURES, **OUTLIER_MEASURES, **OUTLIER_QUALITY}[self.measure]


def bias_values(rows: Iterable[MetricRow]) -> dict[BiasKey, BiasValue]:
    """A snapshot's fairness and outlier figures by key (empty when it has neither)."""
    found: list[BiasValue] = []
    unranked: set[tuple[str, str]] = set()
    for row in rows:
        value = None if row.value is None or math.isnan(row.value) else row.value
        if row.metric_type == "FairnessValue" and row.column is not None:
            if row.value_kind == "ranked" and row.label is not None and value == 0:
                unranked.add((row.column, row.label))
            if row.value_kind in FAIRNESS_MEASURES and (row.value_kind == "selection_rate") == (row.label is not None):
                found.append(BiasValue("fairness", row.column, row.value_kind, row.label, value))
        elif row.metric_type in OUTLIER_MEASURES and row.value_kind == "share":
            column = row.column if row.metric_type != "MultivariateOutlierCount" else MULTIVARIATE
            if column is not None:
                found.append(BiasValue("outliers", column, row.metric_type, None, value))
        elif row.metric_type == "OutlierQuality" and row.label in QUALITY_ROWS and row.value_kind in OUTLIER_QUALITY:
            found.append(BiasValue("outliers", QUALITY_ROWS[row.label], row.value_kind, None, value))
    return {
        v.key: BiasValue(v.section, v.column, v.measure, v.group, v.value, (v.column, v.group or "") not in unranked)
        for v in found
    }


@dataclass(frozen=True)
class BiasDelta:
    """One figure, day A against day B; `undefined_a`/`undefined_b` say why a side has no value."""

    section: Section
    column: str
    name: str
    group: str | None
    a: float | None
    b: float | None
    delta: float | None  # B - A, None where a side is undefined
    undefined_a: str | None = None
    undefined_b: str | None = None
    measure: str = ""

    @property
    def note(self) -> str | None:
        """'A absent (...); B not ranked (...)': where a value is not a plain number."""
        said = [f"{which} {why}" for which, why in (("A", self.undefined_a), ("B", self.undefined_b)) if why]
        return "; ".join(said) or None


def _why(value: BiasValue | None, measure: str) -> str | None:
    if value is None:
        return _ABSENT.get(measure, "absent (no values of the column that day)")
    if value.value is None:
        return _UNDEFINED.get(measure, "undefined")
    if not value.ranked:
        return NOT_RANKED
    return None


def compare_bias(a: Mapping[BiasKey, BiasValue], b: Mapping[BiasKey, BiasValue], section: Section) -> list[BiasDelta]:
    """A section's figures of A and B: by largest |B - A|, undefined ones last (in their key order)."""
    out = []
    for key in sorted({k for k in (*a, *b) if k[0] == section}):
        va, vb = a.get(key), b.get(key)
        ref = vb if vb is not None else va
        assert ref is not None
        x = va.value if va is not None else None
        y = vb.value if vb is not None else None
        out.append(
            BiasDelta(
                section=section,
                column=ref.column,
                name=ref.name,
                group=ref.group,
                a=x,
                b=y,
                delta=None if x is None or y is None else y - x,
                undefined_a=_why(va, ref.measure),
                undefined_b=_why(vb, ref.measure),
                measure=ref.measure,
            )
        )
    out.sort(key=lambda d: -abs(d.delta) if d.delta is not None else math.inf)
    return out


def bias_rows(deltas: Iterable[BiasDelta]) -> list[dict[str, str | float | None]]:
    """The compare view's table of one section: column, figure, group (fairness), A, B, Δ, note."""
    rows: list[dict[str, str | float | None]] = []
    for d in deltas:
        row: dict[str, str | float | None] = {"column": d.column, "figure": d.name}
        if d.section == "fairness":
            row["group"] = d.group or "between groups"
        rows.append({**row, "A": d.a, "B": d.b, "Δ": d.delta, "note": d.note})
    return rows


def headline_figures(deltas: Iterable[BiasDelta]) -> list[BiasDelta]:
    """The figures the view shows as metrics: each sensitive column's disparate impact, the multivariate share."""
    wanted = ("demographic_parity_ratio", "MultivariateOutlierCount")
    return sorted((d for d in deltas if d.measure in wanted), key=lambda d: d.column)


def headline_label(d: BiasDelta) -> str:
    """A headline figure's label: 'Disparate impact by channel (B)', 'Multivariate outlier share (B)'."""
    if d.measure == "demographic_parity_ratio":
        return f"Disparate impact by {d.column} (B)"
    return "Multivariate outlier share (B)"


def value_text(value: float | None, why: str | None) -> str:
    """'0.8123'; 'undefined' for a NaN figure; 'n/a' for one the day does not have."""
    if value is not None:
        return f"{value:.4f}"
    return "undefined" if why is not None and why.startswith("undefined") else "n/a"


def bias_table(deltas: Iterable[BiasDelta]) -> list[dict[str, str]]:
    """bias_rows as the view shows them: numbers as text, the delta with its one sign, empty where undefined."""
    listed = list(deltas)
    out = []
    for d, row in zip(listed, bias_rows(listed), strict=True):
        out.append(
            {
                **{k: str(v) for k, v in row.items() if k not in ("A", "B", "Δ", "note")},
                "A": value_text(d.a, d.undefined_a),
                "B": value_text(d.b, d.undefined_b),
                "Δ (B - A)": "" if d.delta is None else f"{d.delta:+.4f}",
                "note": d.note or "",
            }
        )
    return out
