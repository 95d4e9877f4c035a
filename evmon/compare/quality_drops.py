"""Which model columns' attributions moved most on the days the realized quality fell (issue 26), for the app.

The bridge's views evmon.attribution_by_quality, evmon.attribution_on_quality_drops and
evmon.attribution_quality_drop_summary (bridge/schema_explain.py) compute the same from the bridged rows; this
computes it from the snapshot files. A labelled day is a daily snapshot holding the model-wide headline quality
(RocAuc for a classifier, R2Score for a regressor; not NaN) and the model's attributions (FeatureAttribution).
Quality fell on it when that value is below QUALITY_MIN, the threshold of Grafana's rule evmon-model-quality
("Model quality below 0.6"). A day without the value (its labels had not arrived, or the metric was undefined)
is not a labelled day: it counts neither as a fall nor as a day without one.

Each labelled day ranks its columns by |share_change| (the day's share of the total mean |SHAP| less the
reference's), largest first, ties by name, a column without a change last. The summary, per column with a fall
day: the mean |share_change| over the fall days and over the other labelled days, their difference, the mean
signed change over the fall days, ranked by the first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from evmon.snapshot.catalog import Catalog, SnapshotEntry
from evmon.snapshot.flatten import MetricRow

QUALITY_MIN = 0.6  # Grafana's rule evmon-model-quality: the realized headline metric below it
HEADLINE = {"RocAuc": "ROC AUC", "R2Score": "R²"}  # the rule's metric types and the names it gives them
DEFAULT_SEGMENT = "default"


@dataclass(frozen=True)
class ColumnMove:
    """One model column on one labelled day: its rank by |share_change| and its attribution."""

    rank: int
    column: str
    share: float | None
    reference_share: float | None
    share_change: float | None
    mean_abs_shap: float | None


@dataclass(frozen=True)
class LabelledDay:
    """A labelled day with attributions: its realized headline quality and its columns, ranked."""

    day: date
    quality_metric: str  # ROC AUC or R²
    quality: float
    columns: tuple[ColumnMove, ...]

    @property
    def fell(self) -> bool:
        return self.quality < QUALITY_MIN


@dataclass(frozen=True)
class ColumnSummary:
    """One column over a project's labelled days: how far its share moved on the fall days and on the others."""

    rank: int
    column: str
    drop_days: int
    other_days: int
    mean_abs_change_on_drops: float | None
    mean_change_on_drops: float | None
    mean_abs_change_other_days: float | None

    @property
    def excess_on_drops(self) -> float | None:
        """How much more it moved on the fall days than on the other labelled days (None without both)."""
        if self.mean_abs_change_on_drops is None or self.mean_abs_change_other_days is None:
            return None
        return self.mean_abs_change_on_drops - self.mean_abs_change_other_days


@dataclass(frozen=True)
class QualityDrops:
    """A project's labelled days split by whether quality fell, and the columns that moved most on the falls."""

    drops: tuple[LabelledDay, ...]  # oldest first
    other_days: int  # labelled days whose quality did not fall
    summary: tuple[ColumnSummary, ...]  # by rank


def _value(row: MetricRow) -> float | None:
    return None if row.value is None or math.isnan(row.value) else row.value


def _change_order(move: tuple[str, float | None]) -> tuple[bool, float, str]:
    column, change = move
    return (change is None, -abs(change) if change is not None else 0.0, column)


def labelled_day(day: date, rows: Iterable[MetricRow]) -> LabelledDay | None:
    """A daily snapshot's quality and ranked attributions (its flattened rows), or None when it is not a labelled
    day with attributions."""
    quality: tuple[str, float] | None = None
    found: dict[str, dict[tuple[str, str], float | None]] = {}
    for row in rows:
        if row.metric_type in HEADLINE and row.segment == DEFAULT_SEGMENT and (value := _value(row)) is not None:
            quality = (HEADLINE[row.metric_type], value)
        elif row.metric_type == "FeatureAttribution" and row.column is not None:
            found.setdefault(row.column, {})[(str(row.label), row.value_kind)] = _value(row)
    if quality is None or not found:
        return None
    ordered = sorted(((c, v.get(("day", "share_change"))) for c, v in found.items()), key=_change_order)
    columns = tuple(
        ColumnMove(
            rank,
            column,
            found[column].get(("day", "share")),
            found[column].get(("reference", "share")),
            change,
            found[column].get(("day", "mean_abs")),
        )
        for rank, (column, change) in enumerate(ordered, 1)
    )
    return LabelledDay(day, quality[0], quality[1], columns)


def _mean(values: Iterable[float | None]) -> float | None:
    seen = [v for v in values if v is not None]
    return sum(seen) / len(seen) if seen else None


def quality_drops(days: Iterable[LabelledDay]) -> QualityDrops:
    """The labelled days split by whether quality fell, and per column with a fall day its moves (as the bridge's
    evmon.attribution_quality_drop_summary)."""
    ordered = sorted(days, key=lambda d: d.day)
    drops = tuple(d for d in ordered if d.fell)
    others = tuple(d for d in ordered if not d.fell)
    on_drops: dict[str, list[float | None]] = {}
    on_others: dict[str, list[float | None]] = {}
    for days_of, into in ((drops, on_drops), (others, on_others)):
        for day in days_of:
            for move in day.columns:
                into.setdefault(move.column, []).append(move.share_change)
    rows = [
        (
            column,
            len(changes),
            len(on_others.get(column, [])),
            _mean(None if c is None else abs(c) for c in changes),
            _mean(changes),
            _mean(None if c is None else abs(c) for c in on_others.get(column, [])),
        )
        for column, changes in on_drops.items()
    ]
    rows.sort(key=lambda r: (r[3] is None, -(r[3] or 0.0), r[0]))
    summary = tuple(ColumnSummary(rank, *row) for rank, row in enumerate(rows, 1))
    return QualityDrops(drops, len(others), summary)


def might_be_labelled(entry: SnapshotEntry) -> bool:
    """Whether a daily snapshot may hold its day's quality (from its header: not computed without labels)."""
    return entry.meta.labels is not False


def project_quality_drops(
    snapshots: Catalog, read: Callable[[date, SnapshotEntry], LabelledDay | None]
) -> QualityDrops:
    """A project's quality drops over its daily snapshots; `read` gives one day's labelled_day (of its snapshot's
    flattened rows); only snapshots whose header does not say they were computed without labels are read."""
    read_days = (read(day, entry) for day, entry in snapshots.daily.items() if might_be_labelled(entry))
    return quality_drops(day for day in read_days if day is not None)


def drop_days_table(drops: QualityDrops, top: int = 5) -> list[dict[str, str]]:
    """Each fall day (newest first) with its `top` columns by |share_change|."""
    return [
        {
            "day": day.day.isoformat(),
            "quality": f"{day.quality_metric} {day.quality:.3f}",
            "rank": str(move.rank),
            "column": move.column,
            "Δ share vs reference": _points(move.share_change),
            "share": _pct(move.share),
            "reference share": _pct(move.reference_share),
            "mean |SHAP|": "n/a" if move.mean_abs_shap is None else f"{move.mean_abs_shap:.4g}",
        }
        for day in reversed(drops.drops)
        for move in day.columns[:top]
    ]


def summary_table(drops: QualityDrops, top: int = 10) -> list[dict[str, str]]:
    """The columns that moved most on the fall days, against the other labelled days."""
    return [
        {
            "rank": str(c.rank),
            "column": c.column,
            "mean |Δ share| on falls": _points(c.mean_abs_change_on_drops, sign=False),
            "mean Δ share on falls": _points(c.mean_change_on_drops),
            "mean |Δ share| other days": _points(c.mean_abs_change_other_days, sign=False),
            "excess on falls": _points(c.excess_on_drops),
            "fall days": str(c.drop_days),
            "other labelled days": str(c.other_days),
        }
        for c in drops.summary[:top]
    ]


def _points(value: float | None, sign: bool = True) -> str:
    if value is None:
        return "n/a"
    return f"{value * 100:+.1f} pts" if sign else f"{value * 100:.1f} pts"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"
