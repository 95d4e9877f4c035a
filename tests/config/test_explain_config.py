"""The `model` section of a project in projects.yaml: its defaults and its exact error messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evmon.config.loader import load_config
from evmon.errors import ConfigError
from tests.conftest import write_config

COLUMNS = ["ExternalRiskEstimate", "region"]


def credit_with(tmp_path: Path, demo_dir: Path, model: Any) -> Path:
    return write_config(tmp_path / "projects.yaml", demo_dir, credit_scorecard={"model": model})


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def test_defaults(tmp_path: Path, demo_dir: Path) -> None:
    model = load_config(credit_with(tmp_path, demo_dir, {"path": "m.skops", "columns": COLUMNS})).projects[0].model
    assert model is not None
    assert model.model_dump() == {
        "path": "m.skops",
        "format": "auto",
        "columns": COLUMNS,
        "trusted": [],
        "explainer": "auto",
        "sample_rows": 1000,
        "seed": 0,
        "background_rows": 100,
        "max_seconds": 60.0,
        "top_k": None,
        "thresholds": {"ndcg_min": 0.9},
    }
    assert model.resolved_format() == "skops"
    assert model.model_copy(update={"path": "m.pkl"}).resolved_format() == "joblib"


def test_a_project_without_model_keeps_its_config_hash(tmp_path: Path, demo_dir: Path) -> None:
    plain = load_config(credit_with(tmp_path, demo_dir, None)).projects[0]
    on = load_config(write_config(tmp_path / "b.yaml", demo_dir, credit_scorecard={})).projects[0]
    assert "model" not in plain.model_dump(exclude_defaults=True)
    assert plain.model is None and on.model is not None and plain.config_hash() != on.config_hash()


@pytest.mark.parametrize(
    ("model", "problem"),
    [
        (
            {"path": "m.skops", "columns": ["ExternalRiskEstimat"]},
            "projects[0].model.columns[0]: not a declared column (got 'ExternalRiskEstimat'); "
            "did you mean 'ExternalRiskEstimate'?",
        ),
        (
            {"path": "m.skops", "columns": ["region", "region"]},
            "projects[0].model.columns[1]: listed twice (got 'region')",
        ),
        (
            {"path": "m.pkl", "columns": COLUMNS, "format": "joblib", "trusted": ["x.Y"]},
            "projects[0].model.trusted: is for skops files; format is 'joblib'",
        ),
        (
            {"path": "m.skops", "columns": COLUMNS, "thresholds": {"ndcg_min": 1.5}},
            "projects[0].model.thresholds.ndcg_min: Input should be less than or equal to 1 (got 1.5)",
        ),
    ],
)
def test_exact_messages(tmp_path: Path, demo_dir: Path, model: dict[str, Any], problem: str) -> None:
    path = credit_with(tmp_path, demo_dir, model)
    assert problems_of(path) == [f"{path}: {problem}"]
