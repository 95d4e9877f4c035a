"""evmon.compare: a precision with no positive prediction is undefined, not a drop to 0; one sign per change."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from evmon.compare.rows import delta_text, quality_rows
from evmon.compare.values import NO_POSITIVE_PREDICTIONS, compare, quality_key, snapshot_values
from evmon.config.loader import load_config
from evmon.days import day_window_utc, snapshot_timestamp
from evmon.evidently.report import compute_snapshot, snapshot_bytes
from evmon.sources import read as sources

CREDIT = "credit_scorecard"
DAY = date(2026, 3, 11)


def _values(demo_dir: Path, approve_east: bool) -> object:
    """The real Report on a demo day of the credit model; without approve_east, no row of region east is
    predicted positive (every score under the threshold), as happens to a small segment on a quiet day."""
    config = load_config(demo_dir / "projects.yaml")
    project = config.project(CREDIT)
    current = sources.read_window(config, project, *day_window_utc(DAY, project.timezone))
    if not approve_east:
        current.loc[current["region"] == "east", "default_probability"] = 0.01
    model = compute_snapshot(
        project,
        current,
        sources.read_reference(config, project),
        timestamp=snapshot_timestamp(DAY),
        with_quality=True,
        metadata={},
        tags=[],
        name="x",
    )
    return snapshot_values(json.loads(snapshot_bytes(model)))


def test_a_precision_without_positive_predictions_is_undefined_and_not_ranked(demo_dir: Path) -> None:
    a, b = _values(demo_dir, approve_east=True), _values(demo_dir, approve_east=False)
    key = quality_key("Precision", "value", "region=east")
    assert a.dataset[key].value is not None and a.dataset[key].undefined is None  # type: ignore[attr-defined]
    assert b.dataset[key].value is None and b.dataset[key].undefined == NO_POSITIVE_PREDICTIONS  # type: ignore[attr-defined]
    recall = b.dataset[quality_key("Recall", "value", "region=east")]  # type: ignore[attr-defined]
    assert recall.value == 0.0 and recall.undefined is None  # 0 of the defaults found: defined, and a real drop

    result = compare(a, b)  # type: ignore[arg-type]
    quality = [v for v in result.values if v.group == "quality"]
    precision = next(v for v in quality if v.key == key)
    assert (precision.b, precision.delta, precision.undefined_b) == (None, None, NO_POSITIVE_PREDICTIONS)
    ranked = [v.key for v in quality if v.delta is not None]
    assert key not in ranked and quality.index(precision) > max(
        quality.index(v) for v in quality if v.delta is not None
    )
    row = next(r for r in quality_rows(quality, {}) if r["metric"] == precision.name and r["segment"] == "region=east")
    assert row["B"] is None and row["note"] == "B undefined (no positive predictions)"


def test_a_change_has_one_sign_the_arrow() -> None:
    assert delta_text(-56.0, "{:.0f}") == ("56", "down")
    assert delta_text(0.0125, "{:.4f}") == ("0.0125", "up")
    assert delta_text(0.0, "{:.0f}") == ("0", "off")
    assert delta_text(None, "{:.0f}") == (None, "off")
