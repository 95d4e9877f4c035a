"""A reference reused across days (as the runner does): analysed once, per segment value too, same values."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from evidently import Dataset

from evmon.config.loader import load_config
from evmon.evidently.report import snapshot_bytes
from evmon.snapshot.flatten import MetricRow, flatten
from evmon.sources import read as sources
from tests.evidently.day_snapshot import day_snapshot

DAY = date(2026, 3, 11)
REFERENCE_INDEX = 10**9  # the reference's rows are told apart from the day's by their index


def _reference(demo_dir: Path, unlabelled: int) -> pd.DataFrame:
    """The credit project's reference, its index moved out of the days' way, `unlabelled` rows without a label."""
    config = load_config(demo_dir / "projects.yaml")
    reference = sources.read_reference(config, config.project("credit_scorecard"))
    reference = reference.set_axis(range(REFERENCE_INDEX, REFERENCE_INDEX + len(reference)))
    if unlabelled:
        reference = reference.astype({"defaulted": "float64"})
        reference.iloc[:unlabelled, reference.columns.get_loc("defaulted")] = math.nan
    return reference


@pytest.mark.parametrize("unlabelled", [0, 25], ids=["every reference row labelled", "some not"])
def test_the_second_day_makes_no_dataset_of_the_reference(
    demo_dir: Path, monkeypatch: pytest.MonkeyPatch, unlabelled: int
) -> None:
    """Not the whole reference, its labelled rows, nor any segment value's rows of it (credit: by region)."""
    config = load_config(demo_dir / "projects.yaml")
    project = config.project("credit_scorecard")
    assert project.segments == ["region"]
    reference = _reference(demo_dir, unlabelled)
    day_snapshot(config, project, reference, DAY - timedelta(days=1), reuse_reference=True)
    made: list[pd.DataFrame] = []
    from_pandas = Dataset.from_pandas

    def recorded(data: pd.DataFrame, *args: Any, **kwargs: Any) -> Dataset:
        made.append(data)
        return from_pandas(data, *args, **kwargs)

    monkeypatch.setattr(Dataset, "from_pandas", staticmethod(recorded))
    day_snapshot(config, project, reference, DAY, reuse_reference=True)
    of_reference = [len(frame) for frame in made if len(frame) and frame.index.min() >= REFERENCE_INDEX]
    assert len(made) >= 6  # the data part, the quality part, four regions: the day's rows
    assert of_reference == []


def test_a_reused_reference_gives_each_segment_the_same_values(demo_dir: Path) -> None:
    config = load_config(demo_dir / "projects.yaml")
    project = config.project("credit_scorecard")
    reference = _reference(demo_dir, 0)
    day_snapshot(config, project, reference, DAY - timedelta(days=1), reuse_reference=True)  # kept here
    reused = day_snapshot(config, project, reference, DAY, reuse_reference=True)
    fresh = day_snapshot(config, project, reference, DAY, reuse_reference=False)
    reused_rows = flatten(json.loads(snapshot_bytes(reused)))
    fresh_rows = flatten(json.loads(snapshot_bytes(fresh)))
    segments = {r.segment for r in reused_rows if r.segment and r.segment != "default"}

    def values(rows: list[MetricRow]) -> list[tuple[str, str, str | None, str | None, float | None]]:
        return [
            (r.metric_id, r.value_kind, r.label, r.segment, None if r.value is None or math.isnan(r.value) else r.value)
            for r in rows
        ]

    assert values(reused_rows) == values(fresh_rows)
    assert segments == {"region=east", "region=north", "region=south", "region=west"}
