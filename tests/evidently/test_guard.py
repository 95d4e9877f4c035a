"""Bad data that must not blind the monitor: a day whose feed broke still gets its snapshot.

Real days (evmon.run.day.run_day, the real Evidently Report) of the tiny wind project, with drift,
summary and regression quality on: a column without any value, infinite values, a categorical
column with more distinct values than presets.data_drift.max_categories. Each keeps the rest of
the day, marks what it left out in the snapshot and says so in the day's log.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from evidently._pydantic_compat import parse_obj_as
from evidently.core.serialization import SnapshotModel

from evmon.evidently.report import snapshot_bytes
from evmon.run.day import DayResult, run_day
from evmon.snapshot.flatten import flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from tests.wind import day_rows, wind_config

DAY = date(2026, 1, 5)
TODAY = date(2026, 2, 1)  # the day's labels have arrived
PRESETS = {"data_drift": True, "data_summary": True, "regression": True}


def run(
    tmp_path: Path, frame: pd.DataFrame, caplog: pytest.LogCaptureFixture, **project: Any
) -> tuple[DayResult, bytes, list[str]]:
    """`frame` as the day's only file, run: the result, the snapshot file's bytes, the day's log lines."""
    (tmp_path / "data").mkdir(exist_ok=True)
    frame.to_parquet(tmp_path / "data" / f"{DAY}.parquet", index=False)
    config = wind_config(
        tmp_path, {"path": "data/*.parquet", "timestamp_column": "ts"}, **{"presets": PRESETS, **project}
    )
    workspace = FilesWorkspace(tmp_path / "ws")
    with caplog.at_level(logging.WARNING, logger="evmon.run.day"):
        result = run_day(config, config.projects[0], DAY, workspace=workspace, today=TODAY)
    path = workspace.snapshot_path(project_id("wind"), daily_snapshot_id("wind", DAY))
    payload = path.read_bytes() if path.exists() else b""
    return result, payload, [r.getMessage() for r in caplog.records if r.name == "evmon.run.day"]


def strict(payload: bytes) -> dict[str, Any]:
    """The snapshot as a strict JSON reader reads it (NaN and Infinity are not JSON)."""

    def refuse(token: str) -> None:
        raise ValueError(f"not strict JSON: {token}")

    doc: dict[str, Any] = json.loads(payload, parse_constant=refuse)
    return doc


def values(doc: dict[str, Any], metric_type: str, column: str | None = None) -> dict[str, float | None]:
    """value_kind -> value of the rows of one metric type (and column) of the flattened snapshot."""
    return {
        r.value_kind if r.label is None else f"{r.label}:{r.value_kind}": r.value
        for r in flatten(doc)
        if r.metric_type == metric_type and (column is None or r.column == column)
    }


def drifted_columns(doc: dict[str, Any]) -> set[str]:
    return {r.column for r in flatten(doc) if r.metric_type == "ValueDrift" and r.column is not None}


def test_a_column_without_any_value_keeps_the_day_marked_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # before: "failed: wind: Evidently could not compute the report: ValueError: An empty column
    # 'wind_speed' was provided for drift calculation in the current dataset."
    frame = day_rows(DAY).assign(wind_speed=np.nan)

    result, payload, log = run(tmp_path, frame, caplog)

    assert result.outcome == "ok", result.line()
    assert log == ["wind 2026-01-05: drift of 'wind_speed' not computed: no value today (6 rows, all missing)"]
    doc = json.loads(payload)
    parse_obj_as(SnapshotModel, doc)  # what the Evidently UI does with the file
    assert values(doc, "MissingValueCount", "wind_speed") == {"count": 6.0, "share": 1.0}
    assert values(doc, "DriftNotComputed", "wind_speed") == {"value": 1.0}
    (marked,) = [r for r in flatten(doc) if r.metric_type == "DriftNotComputed"]
    assert marked.params["reason"] == "no_current_values"
    assert marked.display_name == "Drift of 'wind_speed' not computed (no_current_values)"
    assert drifted_columns(doc) == {"temperature", "site", "power_pred"}  # the rest computed
    assert values(doc, "DriftedColumnsCount")["count"] is not None
    assert {r.metric_type for r in flatten(doc)} >= {"MAE", "RMSE"}  # and the day's quality


def test_a_day_whose_prediction_has_no_value_keeps_its_data_part(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frame = day_rows(DAY).assign(power_pred=np.nan)

    result, payload, log = run(tmp_path, frame, caplog)

    assert (result.outcome, result.labels_included) == ("ok", False), result.line()
    assert log == [
        "wind 2026-01-05: drift of 'power_pred' not computed: no value today (6 rows, all missing)",
        "wind 2026-01-05: no quality metrics: no value today in 'power_pred'",
    ]
    doc = json.loads(payload)
    assert values(doc, "MissingValueCount", "power_pred") == {"count": 6.0, "share": 1.0}
    assert not {r.metric_type for r in flatten(doc)} & {"MAE", "RMSE", "R2Score"}
    assert doc["metadata"]["labels"] == "no" and doc["tags"] == ["daily"]


def test_infinite_values_are_counted_left_out_and_the_file_is_strict_json(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # before: "Maximum value of 'wind_speed'": Infinity in the file, a mean of Infinity, a std of NaN
    frame = day_rows(DAY)
    frame.loc[[1, 4], "wind_speed"] = np.inf
    frame.loc[2, "temperature"] = -np.inf

    result, payload, log = run(tmp_path, frame, caplog)

    assert result.outcome == "ok", result.line()
    doc = strict(payload)
    assert values(doc, "InfiniteValueCount", "wind_speed") == {"value": 2.0}
    assert [r.value for r in flatten(doc) if r.metric_type == "InfiniteValueCount"] == [2.0, 1.0]
    finite = frame["wind_speed"][np.isfinite(frame["wind_speed"])]
    assert values(doc, "MaxValue", "wind_speed") == {"value": finite.max()}
    assert values(doc, "MissingValueCount", "wind_speed") == {"count": 2.0, "share": 2 / 6}
    assert "wind_speed" in drifted_columns(doc)
    assert log == [
        "wind 2026-01-05: column 'wind_speed': 2 infinite values today, left out of drift and statistics "
        "(counted as missing there, and by InfiniteValueCount)",
        "wind 2026-01-05: column 'temperature': 1 infinite values today, left out of drift and statistics "
        "(counted as missing there, and by InfiniteValueCount)",
    ]
    parse_obj_as(SnapshotModel, doc)


def test_a_column_of_infinite_values_only_is_a_column_without_values(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    result, payload, log = run(tmp_path, day_rows(DAY).assign(temperature=np.inf), caplog)

    assert result.outcome == "ok", result.line()
    doc = json.loads(payload)
    assert values(doc, "InfiniteValueCount", "temperature") == {"value": 6.0}
    assert values(doc, "DriftNotComputed", "temperature") == {"value": 1.0}
    assert len(log) == 2


def test_a_categorical_column_above_max_categories_is_left_out_of_drift(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    start = datetime(DAY.year, DAY.month, DAY.day)
    frame = pd.DataFrame(
        {
            "ts": [start + timedelta(minutes=i) for i in range(60)],
            "wind_speed": [4.0 + i % 7 for i in range(60)],
            "temperature": [10.0 + i % 3 for i in range(60)],
            "site": [f"turbine-{i}" for i in range(60)],  # 60 today, 2 in the reference: 62 distinct
            "power": [6.0 + i % 7 for i in range(60)],
            "power_pred": [5.5 + i % 7 for i in range(60)],
        }
    )
    presets = {**PRESETS, "data_drift": {"max_categories": 61}}

    result, payload, log = run(tmp_path, frame, caplog, presets=presets)

    assert result.outcome == "ok", result.line()
    assert log == [
        "wind 2026-01-05: drift of 'site' not computed: 62 distinct values today and in the reference, "
        "above presets.data_drift.max_categories (61)"
    ]
    doc = strict(payload)
    assert drifted_columns(doc) == {"wind_speed", "temperature", "power_pred"}
    (marked,) = [r for r in flatten(doc) if r.metric_type == "DriftNotComputed"]
    assert (marked.column, marked.params["reason"], marked.value) == ("site", "too_many_categories", 1.0)
    assert values(doc, "MissingValueCount", "site") == {"count": 0.0, "share": 0.0}  # still counted,
    assert values(doc, "UniqueValueCount", "site") == {}  # not each of its 62 values

    caplog.clear()
    result, payload, log = run(tmp_path, frame, caplog, presets={**PRESETS, "data_drift": {"max_categories": 62}})
    assert (result.outcome, log) == ("ok", [])
    assert "site" in drifted_columns(json.loads(payload))
    assert len(values(json.loads(payload), "UniqueValueCount", "site")) == 2 * 62  # a count and a share each


def test_the_default_cap_leaves_an_identifier_like_column_out_of_drift(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # a categorical column of 10,500 distinct values: above the default cap (10,000)
    start = datetime(DAY.year, DAY.month, DAY.day)
    n = 10500
    frame = pd.DataFrame(
        {
            "ts": [start + timedelta(seconds=8 * i) for i in range(n)],
            "wind_speed": np.linspace(3.0, 12.0, n),
            "temperature": np.linspace(5.0, 15.0, n),
            "site": [f"s{i}" for i in range(n)],
            "power": np.linspace(5.0, 18.0, n),
            "power_pred": np.linspace(5.0, 17.0, n),
        }
    )

    result, payload, log = run(tmp_path, frame, caplog)

    assert result.outcome == "ok", result.line()
    assert log == [
        "wind 2026-01-05: drift of 'site' not computed: 10502 distinct values today and in the reference, "
        "above presets.data_drift.max_categories (10000)"
    ]
    assert drifted_columns(json.loads(payload)) == {"wind_speed", "temperature", "power_pred"}


def test_infinite_values_in_the_reference_are_noted_every_day(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    reference = pd.concat([day_rows(date(2025, 12, 1)), day_rows(date(2025, 12, 2))], ignore_index=True)
    reference.loc[[0, 7, 9], "wind_speed"] = np.inf
    reference.drop(columns=["ts"]).to_parquet(tmp_path / "ref_inf.parquet", index=False)

    result, payload, log = run(tmp_path, day_rows(DAY), caplog, reference={"path": "ref_inf.parquet"})

    assert result.outcome == "ok", result.line()
    assert log == [
        "wind 2026-01-05: column 'wind_speed': 3 infinite values in the reference, left out of drift and "
        "statistics (counted as missing there, and by InfiniteValueCount)"
    ]
    doc = strict(payload)
    assert values(doc, "InfiniteValueCount", "wind_speed") == {"value": 0.0}  # the day's own
    assert "wind_speed" in drifted_columns(doc)


def test_a_segment_whose_labels_have_no_value_is_skipped_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frame = day_rows(DAY)
    frame.loc[frame["site"] == "north", "power"] = np.nan  # north's labels did not come

    result, payload, log = run(tmp_path, frame, caplog, segments=["site"])

    assert (result.outcome, result.labels_included) == ("ok", True), result.line()
    assert log == [
        "wind 2026-01-05: quality metrics on 3 of 6 rows: the others have no value in 'power', 'power_pred'",
        "wind 2026-01-05: no quality metrics for segment site=north: no row with a value in 'power', 'power_pred'",
    ]
    segments = {r.segment for r in flatten(json.loads(payload)) if r.metric_type == "MAE"}
    assert segments == {"default", "site=south"}


def test_a_classifier_day_with_some_labels_missing_is_scored_on_the_labelled_rows(
    demo_config_path: Path,
) -> None:
    # before: "Evidently could not compute the report: ValueError: Top K / Threshold parameter can be
    # used only with binary classification with probas" (a binary target with NaN is not binary)
    from evmon.config.loader import load_config
    from evmon.days import day_window_utc, snapshot_timestamp
    from evmon.evidently.report import compute_snapshot
    from evmon.sources import read as sources

    config = load_config(demo_config_path)
    project = config.project("credit_scorecard")
    day = date(2026, 3, 11)
    current = sources.read_window(config, project, *day_window_utc(day, project.timezone))
    reference = sources.read_reference(config, project)
    north = current["region"] == sorted(current["region"].unique())[0]
    late = current.assign(defaulted=current["defaulted"].mask(north))  # one region's labels are late

    def quality(frame: pd.DataFrame) -> dict[str | None, float | None]:
        model = compute_snapshot(
            project, frame, reference, timestamp=snapshot_timestamp(day), with_quality=True, metadata={}, tags=[],
            name="x",
        )  # fmt: skip
        doc = json.loads(snapshot_bytes(model))
        return {r.segment: r.value for r in flatten(doc) if r.metric_type == "RocAuc"}

    got = quality(late)
    labelled = quality(current[~north].reset_index(drop=True))  # what the labelled rows alone give
    assert got == labelled and len(got) == len(labelled) >= 2
