"""A real project-day with `fairness`: its FairnessValue results in the stored snapshot equal Fairlearn's."""

from __future__ import annotations

import logging
import shutil
from datetime import date, timedelta
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

from evmon.compare.bias import bias_table, compare_bias
from evmon.compare.values import snapshot_values
from evmon.config.loader import load_config
from evmon.config.model import EvmonConfig
from evmon.estimation import daily as estimated
from evmon.estimation.cbpe import ClassificationEstimator
from evmon.run.day import run_day
from evmon.snapshot.flatten import flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.sources import read as sources
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
    # estimation on: the estimated quality is there on a labelled day too, beside the realized one
    assert {("region", "estimated_accuracy", str(g)) for g in by_group.index} <= values.keys()
    assert ("region", "estimated_quality_gap", None) in values


def test_a_day_before_its_labels_stores_the_label_free_values_and_the_estimated_quality(
    tmp_path: Path, demo_dir: Path
) -> None:
    config = config_with_fairness(tmp_path, demo_dir)
    credit = config.projects[0]
    ws = FilesWorkspace(tmp_path / "ws")
    assert run_day(config, credit, DEMO_END, workspace=ws, today=DEMO_TODAY).outcome == "ok"
    values, _ = stored_fairness(ws, DEMO_END)
    assert {measure for _, measure, group in values if group is not None} == {
        "rows",
        "ranked",
        "selection_rate",
        "disparate_impact",
        "estimated_accuracy",  # fairness' quality metric (accuracy), estimated by the project's CBPE
    }
    assert {measure for _, measure, group in values if group is None} == {
        "demographic_parity_difference",
        "demographic_parity_ratio",
        "estimated_quality_gap",
    }
    rows = day_rows(demo_dir, DEMO_END)
    decisions = (rows["default_probability"] >= 0.5).astype(int)
    expected = demographic_parity_ratio(rows["defaulted"], decisions, sensitive_features=rows["region"])
    assert_close(values["region", "demographic_parity_ratio", None], expected)

    # the oracle: the project's CBPE, fitted on its calibration window, run on each region's rows alone
    reference = sources.read_reference(config, credit)
    estimator = estimated.fit(credit, estimated.calibration_data(config, credit, reference))
    assert isinstance(estimator, ClassificationEstimator)
    by_group = {
        str(group): estimator.estimate(part["default_probability"])["accuracy"].value
        for group, part in rows.groupby("region")
    }
    assert {g: values["region", "estimated_accuracy", g] for g in by_group} == pytest.approx(by_group, rel=1e-12)
    assert all(values["region", "ranked", g] == 1.0 for g in by_group)
    gap = max(by_group.values()) - min(by_group.values())
    assert_close(values["region", "estimated_quality_gap", None], gap)

    # the compare view, the day before (no labels either) against this one: the gap with its delta
    day_a = DEMO_END - timedelta(days=1)
    assert run_day(config, credit, day_a, workspace=ws, today=DEMO_TODAY).outcome == "ok"
    before = stored_fairness(ws, day_a)[0]["region", "estimated_quality_gap", None]
    pid = project_id("credit_scorecard")
    a, b = (snapshot_values(ws.read_snapshot(pid, daily_snapshot_id(credit.name, d))).bias for d in (day_a, DEMO_END))
    (compared,) = [d for d in compare_bias(a, b, "fairness") if d.measure == "estimated_quality_gap"]
    assert (compared.column, compared.group, compared.a, compared.b) == ("region", None, before, pytest.approx(gap))
    assert compared.delta == pytest.approx(gap - before) and compared.note is None
    (shown,) = bias_table([compared])
    assert (shown["figure"], shown["group"]) == ("estimated quality gap (best minus worst group)", "between groups")


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
