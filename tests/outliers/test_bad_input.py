"""Data the outlier metrics cannot count as usual: a line in the day's log each, the day and its other figures kept."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evmon.config.model import EvmonConfig
from evmon.run.day import run_day
from evmon.snapshot.flatten import flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from tests.outliers.synthetic import FIRST_DAY, frame, write_project
from tests.outliers.test_oracle import figures


def run(config: EvmonConfig, caplog: pytest.LogCaptureFixture) -> tuple[dict, list[str]]:  # type: ignore[type-arg]
    """The day run (labels in): its stored outlier figures, and the day's log lines about outliers."""
    workspace = FilesWorkspace(config.resolve(config.workspace))
    with caplog.at_level(logging.WARNING, logger="evmon.run.day"):
        result = run_day(config, config.projects[0], FIRST_DAY, workspace=workspace, today=FIRST_DAY + timedelta(1))
    assert result.outcome == "ok", result.line()
    snapshot = workspace.read_snapshot(project_id("synth"), daily_snapshot_id("synth", FIRST_DAY))
    lines = [r.getMessage() for r in caplog.records if r.name == "evmon.run.day" and "outlier" in r.getMessage()]
    return figures(flatten(snapshot)), lines


def frames(seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    return frame(rng, 2_000), frame(rng, 800, FIRST_DAY)


def test_a_column_without_values_today(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    reference, day = frames()
    day["income"] = np.nan
    stored, lines = run(write_project(tmp_path, reference, {FIRST_DAY: day}), caplog)
    assert lines == [
        "synth 2026-05-01: outliers: outliers of 'income' not counted: no value today (800 rows, all missing)",
        # the forest fills it with the reference's median: no row stands out today
        "synth 2026-05-01: outliers: accuracy on the outliers not computed: no labelled row today is among them",
    ]
    assert ("OutRangeValueCount", "income", "share") not in stored
    assert ("OutRangeValueCount", "balance", "share") in stored
    assert stored[("MultivariateOutlierCount", "all", "share")] == 0
    assert ("OutlierQuality", "inliers", "accuracy") in stored


def test_a_column_without_values_in_the_reference(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    reference, day = frames()
    reference["balance"] = np.nan
    stored, lines = run(write_project(tmp_path, reference, {FIRST_DAY: day}), caplog)
    assert lines == [
        "synth 2026-05-01: outliers: outliers of 'balance' not counted: no value in the reference (all missing)",
        "synth 2026-05-01: outliers: multivariate outliers without 'balance': no value in the reference (all missing)",
    ]
    assert ("OutRangeValueCount", "balance", "share") not in stored
    assert ("OutRangeValueCount", "income", "share") in stored
    assert ("MultivariateOutlierCount", "all", "share") in stored


def test_a_reference_without_variance(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    reference, day = frames()
    reference["age"] = 40.0
    day.loc[:99, "age"] = 40.0
    stored, lines = run(write_project(tmp_path, reference, {FIRST_DAY: day}), caplog)
    assert lines == [
        "synth 2026-05-01: outliers: 'age' has one value in the reference (40): "
        "any other value counts as outside its range"
    ]
    outside = int((day["age"] != 40.0).sum())
    assert stored[("OutRangeValueCount", "age", "count")] == outside
    assert stored[("OutRangeValueCount", "age", "share")] == outside / 800
    assert ("MultivariateOutlierCount", "all", "share") in stored


def test_a_category_with_missing_values(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    reference, day = frames()
    day.loc[:199, "channel"] = None
    day.loc[200:209, "channel"] = "partner"
    day["tier"] = day["tier"].astype(float)
    day.loc[:49, "tier"] = np.nan  # integer codes read as floats: still the reference's categories
    stored, lines = run(write_project(tmp_path, reference, {FIRST_DAY: day}), caplog)
    assert lines == [
        "synth 2026-05-01: outliers: 200 missing values of 'channel' today, none in the reference: "
        "not counted as new categories",
        "synth 2026-05-01: outliers: 50 missing values of 'tier' today, none in the reference: "
        "not counted as new categories",
    ]
    assert stored[("OutListValueCount", "channel", "count")] == 10
    assert stored[("OutListValueCount", "channel", "share")] == 10 / 600  # of the values present
    assert stored[("OutListValueCount", "tier", "count")] == 0
    assert ("MultivariateOutlierCount", "all", "share") in stored


def test_categories_that_cannot_be_listed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    reference, day = frames()
    reference["tier"] = reference["tier"] / 2  # 0.5, 1.0, 1.5: not text, not whole numbers
    stored, lines = run(write_project(tmp_path, reference, {FIRST_DAY: day}), caplog)
    assert lines == [
        "synth 2026-05-01: outliers: new categories of 'tier' not counted: values of type float64 "
        "(expected text or whole numbers)"
    ]
    assert ("OutListValueCount", "tier", "share") not in stored
    assert ("OutListValueCount", "channel", "share") in stored
