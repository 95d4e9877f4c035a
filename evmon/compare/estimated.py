"""Estimated model quality in the compare view: a snapshot's estimates, what a day shows, the estimate's record.

In a daily snapshot of a project with `presets.estimation`, evmon.estimation.daily wrote one EstimatedQuality
result per value: for each segment ("default": model-wide, or "<column>=<value>") and estimated metric
(roc_auc, accuracy, precision, recall, f1 by CBPE; mae, rmse by DLE) the estimate, NannyML's band (lower,
upper) and the empirical band (empirical_lower, empirical_upper, of nominal coverage `level`:
evmon.estimation.conformal), and once the day's labels had arrived the realized value, the gap (estimate -
realized), inside_band and inside_empirical (1 or 0). evmon.snapshot.flatten gives each as a MetricRow:
label the metric, value_kind the kind.

A day shows each quality value realized where it has one, else the estimate, flagged "estimated" with
its band (the empirical one; NannyML's where a snapshot has no other); the estimate stays beside a
realized value. A NaN (an undefined metric: the ROC AUC of a one-class segment) is None here, as it is
NULL in the bridge's views. The estimate's record per segment and metric is the bridge's
evmon.estimation_record computed from the snapshot files: the daily snapshots with a gap, the median
|gap|, each band's share of them holding the realized value and median width, and whether the empirical
band is trusted (its share over the last RECENT_DAYS labelled days at least its level).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from evmon.estimation.base import METRIC_NAMES
from evmon.snapshot.catalog import Catalog, SnapshotEntry
from evmon.snapshot.flatten import MetricRow, flatten

Key = tuple[str, str]  # (segment, estimated metric)
Basis = Literal["realized", "estimated"]
ESTIMATED_TYPE = "EstimatedQuality"
DEFAULT_SEGMENT = "default"
# the Evidently quality value each estimated metric estimates: (metric type, value kind)
ESTIMATES_OF: dict[str, tuple[str, str]] = {
    "roc_auc": ("RocAuc", "value"),
    "accuracy": ("Accuracy", "value"),
    "precision": ("Precision", "value"),
    "recall": ("Recall", "value"),
    "f1": ("F1Score", "value"),
    "mae": ("MAE", "mean"),
    "rmse": ("RMSE", "value"),
}
HEADLINE_METRICS = ("roc_auc", "mae")  # the one the view's headline shows (CBPE, DLE)
_NUMBERS = ("estimate", "lower", "upper", "realized", "gap", "empirical_lower", "empirical_upper", "level")
_FLAGS = ("inside_band", "inside_empirical")
RECENT_DAYS = 30  # as the bridge's evmon.estimation_record: the days the band's trust is judged on


def quality_key(metric_type: str, value_kind: str, segment: str) -> str:
    """The key of a quality value in evmon.compare.values's SnapshotValues: 'quality.RocAuc.value.region=east'."""
    return f"quality.{metric_type}.{value_kind}.{segment}"


def quality_name(metric_type: str, value_kind: str) -> str:
    """The name the compare view gives a quality value: 'RocAuc', 'MAE (mean)'."""
    return metric_type if value_kind == "value" else f"{metric_type} ({value_kind})"


def _number(value: float) -> str:
    return f"{value:.3f}"


@dataclass(frozen=True)
class Estimated:
    """One estimated metric of one segment on one day: the estimate, its band, and once labelled the realized value."""

    segment: str
    metric: str  # roc_auc, accuracy, precision, recall, f1 (CBPE); mae, rmse (DLE)
    method: str | None = None  # CBPE or DLE
    estimate: float | None = None
    lower: float | None = None
    upper: float | None = None
    realized: float | None = None
    gap: float | None = None  # estimate - realized
    inside_band: bool | None = None  # inside NannyML's band
    empirical_lower: float | None = None
    empirical_upper: float | None = None
    level: float | None = None  # the empirical band's nominal coverage
    inside_empirical: bool | None = None
    labelled: bool = False  # the day's labels had arrived: a realized value was computed (None if undefined)

    @property
    def estimates(self) -> tuple[str, str]:
        """The Evidently quality value this estimates: (metric type, value kind)."""
        return ESTIMATES_OF.get(self.metric, (self.metric, "value"))

    @property
    def key(self) -> str:
        """The key of that quality value in SnapshotValues.dataset."""
        return quality_key(*self.estimates, self.segment)

    @property
    def name(self) -> str:
        return METRIC_NAMES.get(self.metric, self.metric)

    @property
    def band(self) -> tuple[float | None, float | None]:
        """The band shown: the empirical one, else (an older snapshot, too few calibration rows) NannyML's."""
        if self.empirical_lower is not None and self.empirical_upper is not None:
            return self.empirical_lower, self.empirical_upper
        return self.lower, self.upper

    @property
    def inside(self) -> bool | None:
        """Whether the shown band held the realized value."""
        return self.inside_empirical if self.empirical_lower is not None else self.inside_band

    @property
    def band_text(self) -> str:
        """'0.794 [0.747, 0.842]': the estimate and its band (the empirical one)."""
        lower, upper = self.band
        if self.estimate is None:
            return "n/a"
        if lower is None or upper is None:
            return _number(self.estimate)
        return f"{_number(self.estimate)} [{_number(lower)}, {_number(upper)}]"

    @property
    def nannyml_text(self) -> str | None:
        """ "NannyML's band [0.747, 0.842]", or None without it."""
        if self.lower is None or self.upper is None:
            return None
        return f"NannyML's band [{_number(self.lower)}, {_number(self.upper)}]"


def snapshot_estimated(snapshot: Mapping[str, Any]) -> dict[Key, Estimated]:
    """The estimated quality of a parsed snapshot file."""
    return estimated_from_rows(flatten(snapshot))


def estimated_from_rows(rows: Iterable[MetricRow]) -> dict[Key, Estimated]:
    """A snapshot's estimated quality by (segment, metric), from its flattened rows (empty without estimates)."""
    fields: dict[Key, dict[str, Any]] = {}
    for row in rows:
        if row.metric_type != ESTIMATED_TYPE or row.label is None:
            continue
        method = row.params.get("method")
        entry = fields.setdefault(
            (row.segment or DEFAULT_SEGMENT, row.label), {"method": None if method is None else str(method)}
        )
        value = None if row.value is None or math.isnan(row.value) else row.value
        if row.value_kind in _FLAGS:
            entry[row.value_kind] = None if value is None else value == 1.0
        elif row.value_kind in _NUMBERS:
            entry[row.value_kind] = value
        if row.value_kind == "realized":
            entry["labelled"] = True
    return {key: Estimated(key[0], key[1], **values) for key, values in fields.items()}


# --- what a day shows -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """A quality value of one day as the compare view shows it: realized where the day has it, else the estimate."""

    value: float | None
    basis: Basis
    estimated: Estimated | None = None  # the day's estimate of the value, beside a realized one too

    @property
    def text(self) -> str:
        """'0.812', or an estimate with its band: '0.794 [0.747, 0.842]'."""
        if self.basis == "estimated" and self.estimated is not None:
            return self.estimated.band_text
        return "n/a" if self.value is None or math.isnan(self.value) else _number(self.value)

    @property
    def beside(self) -> str | None:
        """Beside a realized value, its estimate: 'estimated 0.794 [0.751, 0.838], outside the band' (and, with
        the empirical band, NannyML's verdict: ', inside NannyML's')."""
        est = self.estimated
        if self.basis != "realized" or est is None or est.estimate is None:
            return None
        where = {True: ", inside the band", False: ", outside the band", None: ""}[est.inside]
        if est.empirical_lower is not None and est.inside_band is not None:
            where += ", inside NannyML's" if est.inside_band else ", outside NannyML's"
        return f"estimated {est.band_text}{where}"


def shown(estimated: Estimated | None, realized: float | None = None, has_realized: bool = False) -> Shown | None:
    """What a day shows of one quality value: Evidently's realized value if it has one (`has_realized`), else
    the realized value the estimation computed with the labels, else the estimate; None if it has neither."""
    if has_realized:
        return Shown(realized, "realized", estimated)
    if estimated is None:
        return None
    if estimated.labelled:
        return Shown(estimated.realized, "realized", estimated)
    return Shown(estimated.estimate, "estimated", estimated)


def delta_basis(a: Shown | None, b: Shown | None) -> str | None:
    """What a delta B - A is between: 'realized', 'estimated', or 'mixed: A realized, B estimated'."""
    if a is None or b is None:
        return None
    if a.basis == b.basis:
        return a.basis
    return f"mixed: A {a.basis}, B {b.basis}"


# --- the estimate's record ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """How far one estimated metric of one segment was from the realized values, over a project's labelled days."""

    segment: str
    metric: str
    method: str | None
    labelled_days: int  # daily snapshots with a gap (estimate and realized value both defined)
    median_abs_gap: float | None
    inside_band_share: float | None  # of those days, the share whose realized value lay inside NannyML's band
    first_day: date | None = None
    last_day: date | None = None
    inside_empirical_share: float | None = None  # ... inside the empirical band (a day without one: outside)
    median_band_width: float | None = None  # NannyML's
    median_empirical_width: float | None = None
    level: float | None = None  # the empirical band's nominal coverage
    recent_empirical_share: float | None = None  # over the last RECENT_DAYS labelled days
    trusted: bool = False  # recent_empirical_share >= level: an alert may compare the band's lower bound

    @property
    def summary(self) -> str:
        """'median gap 0.012 over 14 labelled days, 93% inside the band (95%, median width 0.086), 90% inside
        NannyML's (width 0.094); band trusted'."""
        if not self.labelled_days or self.median_abs_gap is None or self.inside_band_share is None:
            return "no labelled day yet"
        days = "day" if self.labelled_days == 1 else "days"
        text = f"median gap {_number(self.median_abs_gap)} over {self.labelled_days} labelled {days}, "
        if self.inside_empirical_share is not None and self.median_empirical_width is not None:
            level = "" if self.level is None else f"{self.level:.0%}, "
            text += (
                f"{self.inside_empirical_share:.0%} inside the band ({level}median width "
                f"{_number(self.median_empirical_width)}), "
            )
        width = "" if self.median_band_width is None else f" (width {_number(self.median_band_width)})"
        text += f"{self.inside_band_share:.0%} inside NannyML's{width}"
        return text + ("; band trusted" if self.trusted else "; band untrusted")

    @property
    def text(self) -> str:
        return f"estimate's record: {self.summary}"


def record_of(days: Iterable[tuple[date, Mapping[Key, Estimated]]]) -> dict[Key, Record]:
    """The record per (segment, metric) over days' estimates (as evmon.estimation_record; keys without a
    labelled day too, with 0 days)."""
    gaps: dict[Key, list[tuple[date, float, Estimated]]] = {}
    methods: dict[Key, str | None] = {}
    for day, estimated in days:
        for key, est in estimated.items():
            methods[key] = est.method
            found = gaps.setdefault(key, [])
            if est.gap is not None:
                found.append((day, abs(est.gap), est))
    records = {}
    for key, found in gaps.items():
        found.sort(key=lambda item: item[0])
        seen = [day for day, _, _ in found]
        labelled = [est for _, _, est in found]
        recent = labelled[-RECENT_DAYS:]
        level = max((e.level for e in labelled if e.level is not None), default=None)
        recent_share = _share(e.inside_empirical for e in recent)
        records[key] = Record(
            segment=key[0],
            metric=key[1],
            method=methods[key],
            labelled_days=len(found),
            median_abs_gap=statistics.median(g for _, g, _ in found) if found else None,
            inside_band_share=_share(e.inside_band for e in labelled),
            first_day=min(seen, default=None),
            last_day=max(seen, default=None),
            inside_empirical_share=_share(e.inside_empirical for e in labelled),
            median_band_width=_median_width((e.lower, e.upper) for e in labelled),
            median_empirical_width=_median_width((e.empirical_lower, e.empirical_upper) for e in labelled),
            level=level,
            recent_empirical_share=recent_share,
            trusted=recent_share is not None and level is not None and recent_share >= level,
        )
    return records


def _share(flags: Iterable[bool | None]) -> float | None:
    """The share of True (None counts as not inside); None without any."""
    seen = [flag is True for flag in flags]
    return sum(seen) / len(seen) if seen else None


def _median_width(bands: Iterable[tuple[float | None, float | None]]) -> float | None:
    widths = [upper - lower for lower, upper in bands if lower is not None and upper is not None]
    return statistics.median(widths) if widths else None


def has_estimates(entry: SnapshotEntry) -> bool:
    """Whether a daily snapshot holds estimates (from its header: the runner's metadata)."""
    return entry.meta.has_estimates


def estimation_record(
    snapshots: Catalog, read: Callable[[SnapshotEntry], Mapping[Key, Estimated]]
) -> dict[Key, Record]:
    """A project's estimate's record per (segment, metric) over its daily snapshots; `read` gives one
    snapshot's estimated quality (snapshot_estimated of the file); only snapshots with estimates are read."""
    return record_of((day, read(entry)) for day, entry in snapshots.daily.items() if has_estimates(entry))
