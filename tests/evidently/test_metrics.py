"""evmon's MissingCellsShare: the share the UI, Grafana and the app call "Missing values share"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from evmon.compare.values import snapshot_values
from evmon.config.loader import load_config
from evmon.evidently.report import data_part_columns
from evmon.run.day import run_day
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from tests.conftest import DEMO_TODAY

CREDIT = "credit_scorecard"


def results_of(snapshot: dict[str, Any], short: str) -> list[dict[str, Any]]:
    return [
        r
        for r in snapshot["metric_results"].values()
        if r["metric_value_location"]["metric"]["params"]["type"] == f"evidently:metric_v2:{short}"
    ]


def test_the_missing_values_spike_is_a_share_of_cells(
    demo_config_path: Path, workspace_path: Path, demo_episodes: Any
) -> None:
    config = load_config(demo_config_path)
    project = config.project(CREDIT)
    day = demo_episodes.missing_spike
    result = run_day(config, project, day, workspace=FilesWorkspace(workspace_path), today=DEMO_TODAY, trigger="test")
    assert result.outcome == "ok", result.line()
    snapshot = FilesWorkspace(workspace_path).read_snapshot(project_id(CREDIT), daily_snapshot_id(CREDIT, day))

    frame = pd.read_parquet(demo_config_path.parent / "demo_data" / CREDIT / "daily" / f"{day}.parquet")
    columns = data_part_columns(project)
    expected = frame[columns].isna().to_numpy().sum() / (len(frame) * len(columns))
    (share,) = results_of(snapshot, "MissingCellsShare")
    assert share["value"] == pytest.approx(expected, abs=1e-12)
    assert 0.06 < share["value"] < 0.12  # 40% of 2 of the 9 columns
    (per_row,) = results_of(snapshot, "DatasetMissingValueCount")
    assert per_row["share"]["value"] == pytest.approx(expected * len(columns))  # Evidently's: missing values per row

    values = snapshot_values(snapshot)  # what the app shows
    assert values.value("data.missing_share") == pytest.approx(expected, abs=1e-12)
    assert values.dataset["data.missing_share"].name == "Missing values share"
    # a snapshot written before evmon had the metric: the app computes the same share as Grafana does
    del snapshot["metric_results"][next(k for k, r in snapshot["metric_results"].items() if r is share)]
    assert snapshot_values(snapshot).value("data.missing_share") == pytest.approx(expected, abs=1e-12)
