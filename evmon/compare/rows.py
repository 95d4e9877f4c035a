"""The compare view's rows: each compared quality value with its basis, estimate, record and why a value is
undefined; a headline's change with one sign."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from evmon.compare.estimated import DEFAULT_SEGMENT, HEADLINE_METRICS, Estimated, Key, Record
from evmon.compare.values import ValueDelta


def headline(values: Sequence[ValueDelta]) -> ValueDelta | None:
    """The model-wide headline estimated value (ROC AUC for CBPE, MAE for DLE) of a comparison, if any."""
    for metric in HEADLINE_METRICS:
        for value in values:
            est = estimated_of(value)
            if est is not None and (est.segment, est.metric) == (DEFAULT_SEGMENT, metric):
                return value
    return None


def estimated_of(value: ValueDelta) -> Estimated | None:
    """The estimate behind one compared quality value (B's, else A's), None where neither day has one."""
    for side in (value.shown_b, value.shown_a):
        if side is not None and side.estimated is not None:
            return side.estimated
    return None


def record_for(value: ValueDelta, records: Mapping[Key, Record]) -> Record | None:
    """The estimate's record of one compared quality value, None where it has no estimate."""
    est = estimated_of(value)
    return None if est is None else records.get((est.segment, est.metric))


def quality_rows(values: Sequence[ValueDelta], records: Mapping[Key, Record]) -> list[dict[str, str | float | None]]:
    """The compare view's model-quality table: per value A and B with their basis and estimate, the delta
    and what it is between, and the estimate's record (segment, metric, A, B, delta alone without estimates)."""
    quality = [v for v in values if v.group == "quality"]
    notes = any(v.undefined_a or v.undefined_b for v in quality)  # a column only where a value is undefined
    if not any(estimated_of(v) is not None for v in quality):
        return [
            {"segment": v.segment, "metric": v.name, "A": v.a, "B": v.b, "Δ": v.delta, **_note(v, notes)}
            for v in quality
        ]
    rows: list[dict[str, str | float | None]] = []
    for value in quality:
        row: dict[str, str | float | None] = {"segment": value.segment, "metric": value.name}
        for which, side in (("A", value.shown_a), ("B", value.shown_b)):
            row[which] = side.value if side is not None else None
            row[f"{which} is"] = side.basis if side is not None else "n/a"
            est = side.estimated if side is not None else None
            row[f"{which} estimate [band]"] = est.band_text if est is not None else None
        record = record_for(value, records)
        row["Δ"] = value.delta
        row["Δ between"] = value.basis
        row["estimate's record"] = record.summary if record is not None else None
        rows.append({**row, **_note(value, notes)})
    return rows


def _note(value: ValueDelta, wanted: bool) -> dict[str, str | None]:
    """'A undefined (no positive predictions)', where a day's value is undefined (not 0, not a change)."""
    if not wanted:
        return {}
    said = [f"{which} undefined ({why})" for which, why in (("A", value.undefined_a), ("B", value.undefined_b)) if why]
    return {"note": "; ".join(said) or None}


def delta_text(change: float | None, fmt: str) -> tuple[str | None, str]:
    """A headline's change as st.metric shows it: its size, and the arrow that gives its sign (one sign, not two)."""
    if change is None:
        return None, "off"
    return fmt.format(abs(change)), "up" if change > 0 else "down" if change < 0 else "off"
