"""presets.estimation in projects.yaml: the config errors, and what `evmon validate` warns of (exact lines)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from evmon.cli import cli
from evmon.config.loader import load_config
from evmon.errors import ConfigError
from tests.conftest import REPO, write_config

CREDIT_PRESETS: dict[str, Any] = yaml.safe_load((REPO / "projects.yaml").read_text())["projects"][0]["presets"]
OVERESTIMATES = (
    "a model's own training data overestimates its quality "
    "(on 334 days of real data: median ROC AUC 0.82 estimated, 0.63 realized)"
)


def validate(path: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["validate", "-c", str(path)])
    return result.exit_code, result.stdout, result.stderr


def credit_with(tmp_path: Path, demo_dir: Path, estimation: Any, **overrides: Any) -> Path:
    """The demo's credit project alone, its presets.estimation replaced (None: removed)."""
    presets = copy.deepcopy(CREDIT_PRESETS)
    presets.pop("estimation")
    if estimation is not None:
        presets["estimation"] = estimation
    return write_config(tmp_path / "projects.yaml", demo_dir, credit_scorecard={"presets": presets, **overrides})


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def test_switched_on_with_true_and_its_defaults(tmp_path: Path, demo_dir: Path) -> None:
    project = load_config(credit_with(tmp_path, demo_dir, True)).projects[0]
    assert project.presets.estimation is not None
    assert project.presets.estimation.model_dump() == {
        "calibration": None,
        "training": None,
        "threshold": None,
        "band_level": 0.95,
    }
    off = load_config(credit_with(tmp_path, demo_dir, False)).projects[0]
    assert off.presets.estimation is None


def test_estimation_needs_scores_or_a_regression_prediction(tmp_path: Path, demo_dir: Path) -> None:
    labels = {"column": "default_probability", "kind": "label"}
    columns = {**yaml.safe_load((REPO / "projects.yaml").read_text())["projects"][0]["columns"], "prediction": labels}
    path = credit_with(tmp_path, demo_dir, True, columns=columns)
    assert problems_of(path) == [
        f"{path}: projects[0].presets.estimation: estimation needs probability scores or a regression prediction; "
        "columns.prediction.kind is 'label'"
    ]
    code, out, err = validate(path)
    assert (code, out) == (2, "")
    assert err == (
        f"Error: {path}: projects[0].presets.estimation: estimation needs probability scores or a regression "
        "prediction; columns.prediction.kind is 'label'\n"
    )


def test_estimation_needs_the_target_and_a_threshold_only_for_scores(tmp_path: Path, demo_dir: Path) -> None:
    columns = yaml.safe_load((REPO / "projects.yaml").read_text())["projects"][0]["columns"]
    no_target = {k: v for k, v in columns.items() if k != "target"}
    presets = {"data_drift": True, "estimation": True}
    path = write_config(
        tmp_path / "a.yaml", demo_dir, credit_scorecard={"presets": presets, "columns": no_target, "segments": []}
    )
    assert problems_of(path) == [
        f"{path}: projects[0].presets.estimation: needs columns.target and columns.prediction with kind "
        "'probability' (CBPE) or 'regression' (DLE)"
    ]
    taxi = write_config(
        tmp_path / "b.yaml",
        demo_dir,
        taxi_duration={"presets": {"regression": True, "estimation": {"threshold": 0.3}}},
    )
    assert problems_of(taxi) == [
        f"{taxi}: projects[0].presets.estimation.threshold: a threshold is for probability scores (CBPE); "
        "columns.prediction.kind is 'regression' (got 0.3)"
    ]


def test_the_estimation_keys_are_checked_like_the_rest(tmp_path: Path, demo_dir: Path) -> None:
    path = credit_with(
        tmp_path,
        demo_dir,
        {
            "calibraton": {"start": "2026-02-01", "end": "2026-02-14"},
            "training": {"start": "2026-01-31", "end": "2026-01-01"},
        },
    )
    assert problems_of(path) == [
        f"{path}: projects[0].presets.estimation.training.end: the window ends before it starts (start 2026-01-31); "
        "expected end >= start (got '2026-01-01')",
        f"{path}: projects[0].presets.estimation.calibraton: unknown key 'calibraton'; did you mean 'calibration'? "
        "expected one of: calibration, training, threshold, band_level",
    ]
    half = credit_with(tmp_path, demo_dir, {"calibration": {"start": "2026-02-01"}, "threshold": 1.5})
    assert problems_of(half) == [
        f"{half}: projects[0].presets.estimation.calibration: a calibration window needs both start and end",
        f"{half}: projects[0].presets.estimation.threshold: Input should be less than 1 (got 1.5)",
    ]


def test_validate_warns_of_an_estimator_fitted_on_the_reference(tmp_path: Path, demo_dir: Path) -> None:
    path = credit_with(tmp_path, demo_dir, True)
    code, out, err = validate(path)
    assert (code, out) == (0, f"{path}: OK, 1 projects (credit_scorecard)\n")
    assert err.splitlines() == [
        f"Warning: {path}: projects[0].presets.estimation: no calibration, so the estimator is fitted on the "
        f"reference; {OVERESTIMATES}; set calibration to labelled data the model was not trained on"
    ]


def test_validate_warns_of_a_calibration_window_inside_the_training_window(tmp_path: Path, demo_dir: Path) -> None:
    estimation = {
        "calibration": {"start": "2026-01-25", "end": "2026-02-07"},
        "training": {"start": "2026-01-01", "end": "2026-01-31"},
    }
    path = credit_with(tmp_path, demo_dir, estimation)
    code, out, err = validate(path)
    assert (code, out) == (0, f"{path}: OK, 1 projects (credit_scorecard)\n")
    assert err.splitlines() == [
        f"Warning: {path}: projects[0].presets.estimation.calibration: the window 2026-01-25..2026-02-07 overlaps "
        "the model's training window 2026-01-01..2026-01-31 (presets.estimation.training); "
        f"{OVERESTIMATES}; calibrate on labelled days the model was not trained on"
    ]
    after = credit_with(tmp_path, demo_dir, {**estimation, "calibration": {"start": "2026-02-01", "end": "2026-02-14"}})
    assert validate(after) == (0, f"{after}: OK, 1 projects (credit_scorecard)\n", "")


def test_validate_checks_the_calibration_data_like_the_reference(tmp_path: Path, demo_dir: Path) -> None:
    outside = credit_with(tmp_path, demo_dir, {"calibration": {"start": "2025-02-01", "end": "2025-02-14"}})
    code, out, err = validate(outside)
    data = demo_dir / "demo_data" / "credit_scorecard" / "daily" / "*.parquet"
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"Error: {outside}: projects[0].presets.estimation.calibration: the window 2025-02-01..2025-02-14 holds no "
        f"rows: the files matching {data} hold timestamps from 2026-01-01 00:21:18+00:00 to "
        "2026-03-31 23:55:24+00:00; expected a window inside them"
    ]
    missing = tmp_path / "calibration.parquet"
    no_file = credit_with(tmp_path, demo_dir, {"calibration": {"path": str(missing)}})
    code, out, err = validate(no_file)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"Error: {no_file}: projects[0].presets.estimation.calibration.path: {str(missing)!r} is not a file "
        f"(looked for {missing}); expected the calibration data as Parquet or CSV"
    ]
