"""A snapshot's explanations in the app: each model column's attribution beside the reference's, day A against B.

From evmon.snapshot.flatten's rows of a daily snapshot: evmon's FeatureAttribution (column = the model's
column, label = the sample, day or reference; value_kind = mean_abs, share or share_change) and
AttributionNdcg (label = the explainer). Empty for a project without `model:` or a day whose model could not
be explained (its log says why).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from evmon.snapshot.flatten import MetricRow


@dataclass(frozen=True)
class ColumnExplained:
    column: str
    mean_abs: float | None  # the day's mean |SHAP|
    share: float | None
    reference_mean_abs: float | None
    reference_share: float | None


@dataclass(frozen=True)
class Explained:
    """A day's explanations: its nDCG against the reference's ranking, and its columns, largest share first."""

    ndcg: float | None
    explainer: str | None
    columns: tuple[ColumnExplained, ...]


def explained_of(rows: Iterable[MetricRow]) -> Explained | None:
    """The snapshot's explanations, or None when it has none."""
    ndcg: float | None = None
    explainer: str | None = None
    found: dict[str, dict[tuple[str, str], float | None]] = {}
    seen = False
    for row in rows:
        value = None if row.value is None or math.isnan(row.value) else row.value
        if row.metric_type == "AttributionNdcg":
            ndcg, explainer, seen = value, row.label, True
        elif row.metric_type == "FeatureAttribution" and row.column is not None:
            found.setdefault(row.column, {})[(str(row.label), row.value_kind)] = value
    if not seen and not found:
        return None
    columns = [
        ColumnExplained(
            column,
            v.get(("day", "mean_abs")),
            v.get(("day", "share")),
            v.get(("reference", "mean_abs")),
            v.get(("reference", "share")),
        )
        for column, v in found.items()
    ]
    columns.sort(key=lambda c: (-(c.share if c.share is not None else -1.0), c.column))
    return Explained(ndcg, explainer, tuple(columns))


def day_table(day: Explained, top: int = 10) -> list[dict[str, str]]:
    """The day's top columns: share and mean |SHAP| of the day's sample beside the reference's."""
    return [
        {
            "column": c.column,
            "share": _pct(c.share),
            "reference share": _pct(c.reference_share),
            "mean |SHAP|": _num(c.mean_abs),
            "reference mean |SHAP|": _num(c.reference_mean_abs),
        }
        for c in day.columns[:top]
    ]


def compare_table(a: Explained | None, b: Explained | None) -> list[dict[str, str]]:
    """Both days' shares side by side with the reference's, by largest change of share from A to B."""
    empty = Explained(None, None, ())
    a, b = a or empty, b or empty
    by_a, by_b = {c.column: c for c in a.columns}, {c.column: c for c in b.columns}
    rows = []
    for column in sorted({*by_a, *by_b}):
        ca, cb = by_a.get(column), by_b.get(column)
        sa, sb = (ca.share if ca else None), (cb.share if cb else None)
        either = cb if cb is not None else ca
        ref = either.reference_share if either is not None else None
        delta = None if sa is None or sb is None else sb - sa
        rows.append((delta, column, sa, sb, ref))
    rows.sort(key=lambda r: (-abs(r[0]) if r[0] is not None else math.inf, r[1]))
    return [
        {
            "column": column,
            "share A": _pct(sa),
            "share B": _pct(sb),
            "Δ share (B - A)": "" if delta is None else f"{delta * 100:+.1f} pts",
            "reference share": _pct(ref),
        }
        for delta, column, sa, sb, ref in rows
    ]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"
