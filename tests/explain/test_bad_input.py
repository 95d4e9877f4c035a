"""A model evmon cannot explain with: one line in the day's log each, the day and its other metrics kept."""

from __future__ import annotations

import logging
import pickle
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.linear_model import LinearRegression

from evmon.config.model import EvmonConfig
from evmon.run.day import run_day
from evmon.snapshot.flatten import flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from tests.explain.synthetic import FIRST_DAY, frames, project_with_model, saved, tree_model

TREE_COLUMNS = ["income", "age", "balance", "tier"]


def run(config: EvmonConfig, caplog: pytest.LogCaptureFixture) -> tuple[set[str], list[str]]:
    """The day run: the metric types its snapshot holds, and the day's log lines about explanations."""
    workspace = FilesWorkspace(config.resolve(config.workspace))
    with caplog.at_level(logging.WARNING, logger="evmon.run.day"):
        result = run_day(config, config.projects[0], FIRST_DAY, workspace=workspace, today=FIRST_DAY + timedelta(1))
    assert result.outcome == "ok", result.line()
    snapshot = workspace.read_snapshot(project_id("synth"), daily_snapshot_id("synth", FIRST_DAY))
    lines = [r.getMessage() for r in caplog.records if r.name == "evmon.run.day" and "explanations" in r.getMessage()]
    return {row.metric_type for row in flatten(snapshot)}, lines


def model(path: str = "model.joblib", **extra: Any) -> dict[str, Any]:
    return {"path": path, "columns": TREE_COLUMNS, "sample_rows": 200, **extra}


def test_a_good_model_stores_its_attributions_and_logs_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reference, day = frames()
    saved(tmp_path, tree_model(reference))
    types, lines = run(project_with_model(tmp_path, reference, {FIRST_DAY: day}, model()), caplog)
    assert lines == []
    assert {"AttributionNdcg", "FeatureAttribution", "ValueDrift", "RocAuc"} <= types


def test_without_model_nothing_changes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    reference, day = frames()
    from tests.outliers.synthetic import write_project

    types, lines = run(write_project(tmp_path, reference, {FIRST_DAY: day}, outliers=False), caplog)
    assert lines == [] and not {"AttributionNdcg", "FeatureAttribution"} & types


def bad_day(tmp_path: Path, caplog: pytest.LogCaptureFixture, settings: dict[str, Any]) -> list[str]:
    reference, day = frames()
    types, lines = run(project_with_model(tmp_path, reference, {FIRST_DAY: day}, settings), caplog)
    assert {"ValueDrift", "RocAuc"} <= types  # the day's other metrics are kept
    assert not {"AttributionNdcg", "FeatureAttribution"} & types
    return lines


def test_a_missing_model_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert bad_day(tmp_path, caplog, model("models/gone.joblib")) == [
        f"synth 2026-05-01: no explanations: model file {tmp_path}/models/gone.joblib does not exist "
        "(model.path 'models/gone.joblib')"
    ]


def test_a_corrupt_model_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "model.joblib").write_bytes(b"not a pickle at all")
    [line] = bad_day(tmp_path, caplog, model())
    assert line.startswith(
        f"synth 2026-05-01: no explanations: cannot load the model file {tmp_path}/model.joblib as joblib: "
    )


def test_a_skops_file_with_an_untrusted_type(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import skops.io as sio

    reference, _ = frames()
    fitted = tree_model(reference)
    fitted.custom = pd.Timedelta(1)  # a type skops does not trust by default
    sio.dump(fitted, tmp_path / "model.skops")
    # the trees' type is listed as trusted: only the type nobody listed is refused
    [line] = bad_day(tmp_path, caplog, model("model.skops", trusted=["sklearn.tree._tree.Tree"]))
    assert line == (
        f"synth 2026-05-01: no explanations: the skops file {tmp_path}/model.skops holds types skops does not trust: "
        "pandas.Timedelta (list them under model.trusted if you trust this file)"
    )


def test_a_model_expecting_other_columns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    reference, _ = frames()
    saved(tmp_path, tree_model(reference))
    assert bad_day(tmp_path, caplog, model(columns=["income", "balance", "age", "tier"])) == [
        f"synth 2026-05-01: no explanations: the model in {tmp_path}/model.joblib was fitted on the columns "
        "['income', 'age', 'balance', 'tier'], model.columns lists ['income', 'balance', 'age', 'tier']"
    ]


def test_a_model_predicting_nan(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    reference, _ = frames()
    nan_model = LinearRegression().fit(reference[TREE_COLUMNS], reference["y"])
    nan_model.intercept_ = np.nan
    saved(tmp_path, nan_model)
    assert bad_day(tmp_path, caplog, model()) == [
        f"synth 2026-05-01: no explanations: on the reference: the model in {tmp_path}/model.joblib "
        "predicts NaN or infinity for 200 of 200 sampled rows"
    ]


def test_a_model_of_another_scikit_learn_version_is_explained_and_the_warning_quoted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reference, day = frames()
    data = pickle.dumps(tree_model(reference))
    version = sklearn.__version__.encode()
    other = b"0." + version[2:]  # the same length: the pickle's string header stays right
    assert data.count(version) >= 1
    (tmp_path / "model.joblib").write_bytes(data.replace(version, other))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert joblib.load(tmp_path / "model.joblib") is not None
    types, lines = run(project_with_model(tmp_path, reference, {FIRST_DAY: day}, model()), caplog)
    assert "AttributionNdcg" in types
    name = "GradientBoostingClassifier"
    assert lines == [
        f"synth 2026-05-01: explanations: the model file {tmp_path}/model.joblib is of another scikit-learn version "
        "(and 41 of its parts): "  # its 40 trees and its initial estimator
        f"'Trying to unpickle estimator {name} from version {other.decode()} when using version "
        f"{sklearn.__version__}. This might lead to breaking code or invalid results. Use at your own risk. "
        "For more info please refer to:'"
    ]


def test_a_trusted_skops_file_is_explained(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import skops.io as sio

    reference, day = frames()
    sio.dump(tree_model(reference), tmp_path / "model.skops")
    settings = model("model.skops", trusted=["sklearn.tree._tree.Tree"])
    types, lines = run(project_with_model(tmp_path, reference, {FIRST_DAY: day}, settings), caplog)
    assert lines == [] and "AttributionNdcg" in types
