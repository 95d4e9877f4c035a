"""A real project-day with `fairness`: its FairnessValue results in the stored snapshot equal Fairlearn's."""

from __future__ import annotations

import logging
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, precision_score

from evmon.config.loader import load_config
from evmon.config.model import EvmonConfig
from evmon.run.day import run_day
from evmon.snapshot.flatten import flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from tests.conftest import DEMO_END, DEMO_TODAY, write_config

LABELLED_DAY = date(2026, 3, 11)
FAIRNESS = {"sensitive": ["region"], "reference_group": {"region": "north"}}
Values = dict[tuple[str, str, str | None], float]


def config_with_fairness(tmp_path: Path, demo_dir: Path, data_dir: Path | None = None) -> EvmonConfig:
    path = write_config(tmp_path / "projects.yaml", demo_dir, credit_scorecard={"fairness": FAIRNESS})
    if data_dir is not None:
        path.write_text(path.read_text().replace(str(demo_dir / "demo_data"), str(data_dir)))
    return load_config(path)


def stored_fairness(ws: FilesWorkspace, day: date) -> tuple[Values, set[str]]:
    """The day's FairnessValue rows as the bridge flattens them, and every metric type of the snapshot."""
    snapshot = ws.read_snapshot(project_id("credit_scorecard"), daily_snapshot_id("credit_scorecard", day))
    rows = flatten(snapshot)
    values = {(r.column, r.value_kind, r.label): r.value for r in rows if r.metric_type == "FairnessValue"}
    assert all(v is not None for v in values.values())
    return {k: float(v) for k, v in values.items() if v is not None}, {r.metric_type for r in rows}


def day_rows(demo_dir: Path, day: date) -> pd.DataFrame:
    return pd.read_parquet(demo_dir / "demo_data" / "credit_scorecard" / "daily" / f"{day}.parquet")


def assert_close(ours: float, theirs: Any) -> None:
    assert ours == pytest.approx(float(theirs), rel=1e-12, abs=1e-12)


def test_a_labelled_day_stores_fairlearns_values(tmp_path: Path, demo_dir: Path) -> None:
    config = config_with_fairness(tmp_path, demo_dir)
    ws = FilesWorkspace(tmp_path / "ws")
    result = run_day(config, config.projects[0], LABELLED_DAY, workspace=ws, today=DEMO_TODAY)
    assert result.outcome == "ok", result.line()
    values, types = stored_fairness(ws, LABELLED_DAY)
    assert {"ValueDrift", "RocAuc", "EstimatedQuality"} <= types  # the day's other metrics are there

    rows = day_rows(demo_dir, LABELLED_DAY)
    truth, decisions, region = rows["defaulted"], (rows["default_probability"] >= 0.5).astype(int), rows["region"]
    metrics = {
        "selection_rate": selection_rate,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "precision": precision_score,
        "accuracy": accuracy_score,
    }
    by_group = MetricFrame(metrics=metrics, y_true=truth, y_pred=decisions, sensitive_features=region).by_group
    for group, measured in by_group.iterrows():
        for measure, value in measured.items():
            assert_close(values["region", str(measure), str(group)], value)
        assert values["region", "rows", str(group)] == (region == group).sum()
        assert_close(
            values["region", "disparate_impact", str(group)],
            measured["selection_rate"] / by_group.loc["north", "selection_rate"],
        )
    same_rows = {"y_true": truth, "y_pred": decisions, "sensitive_features": region}
    assert_close(values["region", "demographic_parity_difference", None], demographic_parity_difference(**same_rows))
    assert_close(values["region", "demographic_parity_ratio", None], demographic_parity_ratio(**same_rows))
    assert_close(values["region", "equalized_odds_difference", None], equalized_odds_difference(**same_rows))
    assert_close(values["region", "quality_gap", None], by_group["accuracy"].max() - by_group["accuracy"].min())


def test_a_day_before_its_labels_stores_the_label_free_values(tmp_path: Path, demo_dir: Path) -> None:
    config = config_with_fairness(tmp_path, demo_dir)
    ws = FilesWorkspace(tmp_path / "ws")
    assert run_day(config, config.projects[0], DEMO_END, workspace=ws, today=DEMO_TODAY).outcome == "ok"
    values, _ = stored_fairness(ws, DEMO_END)
    assert {measure for _, measure, group in values if group is not None} == {
        "rows",
        "ranked",
        "selection_rate",
        "disparate_impact",
    }
    assert {measure for _, measure, group in values if group is None} == {
        "demographic_parity_difference",
        "demographic_parity_ratio",
    }
    rows = day_rows(demo_dir, DEMO_END)
    decisions = (rows["default_probability"] >= 0.5).astype(int)
    expected = demographic_parity_ratio(rows["defaulted"], decisions, sensitive_features=rows["region"])
    assert_close(values["region", "demographic_parity_ratio", None], expected)


def test_bad_days_are_notes_in_the_log_and_the_days_are_stored(
    tmp_path: Path, demo_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A sensitive column without values one day, one group only the next: each day stored, one line each."""
    data_dir = tmp_path / "data"
    shutil.copytree(demo_dir / "demo_data", data_dir)
    daily = data_dir / "credit_scorecard" / "daily"
    empty_day, one_group_day = LABELLED_DAY, date(2026, 3, 12)
    frame = pd.read_parquet(daily / f"{empty_day}.parquet")
    frame.assign(region=pd.Series([None] * len(frame), dtype=object)).to_parquet(daily / f"{empty_day}.parquet")
    frame = pd.read_parquet(daily / f"{one_group_day}.parquet")
    frame[frame["region"] == "north"].to_parquet(daily / f"{one_group_day}.parquet")
    config = config_with_fairness(tmp_path, demo_dir, data_dir)
    ws = FilesWorkspace(tmp_path / "ws")
    with caplog.at_level(logging.WARNING, logger="evmon.run.day"):
        for day in (empty_day, one_group_day):
            result = run_day(config, config.projects[0], day, workspace=ws, today=DEMO_TODAY)
            assert result.outcome == "ok", result.line()
    lines = [r.getMessage() for r in caplog.records if "fairness" in r.getMessage()]
    assert lines == [
        f"credit_scorecard {empty_day}: fairness of region: no value today (every row's region is missing); "
        "nothing computed",
        f"credit_scorecard {one_group_day}: fairness of region: group(s) of the reference absent today: east, "
        "south, west",
        f"credit_scorecard {one_group_day}: fairness of region: 1 group(s) with at least 30 rows (north); "
        "no gap between groups",
    ]
    empty_values, empty_types = stored_fairness(ws, empty_day)
    assert empty_values == {} and {"ValueDrift", "RocAuc"} <= empty_types
    one_group, types = stored_fairness(ws, one_group_day)
    assert {group for _, _, group in one_group} == {"north"} and "RocAuc" in types
    assert one_group["region", "disparate_impact", "north"] == 1.0
    assert np.isfinite(one_group["region", "tpr", "north"])
