"""Attribution drift: a day's ranking of its columns against the reference's, and each column's share.

nDCG as SageMaker Clarify's model monitor computes it: the day's columns ranked by their mean
|SHAP| (highest first), each credited with the reference's mean |SHAP| of that column, discounted by
log2(rank + 1); divided by the same sum in the reference's own order (the best the day could do).
1 is the reference's ranking (ties aside); the reference's important columns falling down the
day's ranking bring it down. `top_k` ranks only the day's first k columns (and the reference's).

A column's share: its mean |SHAP| over the sum of them (the day's, the reference's); its change:
the day's share less the reference's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ColumnAttribution:
    column: str
    mean_abs: float  # the day's mean |SHAP|
    reference_mean_abs: float
    share: float  # of the day's total
    reference_share: float

    @property
    def share_change(self) -> float:
        return self.share - self.reference_share


def ndcg(day: Mapping[str, float], reference: Mapping[str, float], top_k: int | None = None) -> float:
    """The day's ranking's nDCG against the reference's (NaN when the reference attributes nothing)."""
    k = len(reference) if top_k is None else min(top_k, len(reference))
    ranked = sorted(day, key=lambda c: (-day[c], c))[:k]
    ideal = sorted(reference.values(), reverse=True)[:k]
    best = sum(value / math.log2(i + 2) for i, value in enumerate(ideal))
    if best <= 0:
        return math.nan
    return sum(reference.get(c, 0.0) / math.log2(i + 2) for i, c in enumerate(ranked)) / best


def shares(day: Mapping[str, float], reference: Mapping[str, float]) -> list[ColumnAttribution]:
    """Each column's attribution, the day's and the reference's, with their shares; largest today first."""
    day_total, ref_total = sum(day.values()), sum(reference.values())
    rows = [
        ColumnAttribution(
            column,
            day[column],
            reference.get(column, 0.0),
            day[column] / day_total if day_total > 0 else math.nan,
            reference.get(column, 0.0) / ref_total if ref_total > 0 else math.nan,
        )
        for column in day
    ]
    return sorted(rows, key=lambda r: (-r.mean_abs, r.column))
