"""projects.yaml's fairness section: its defaults, and the exact messages of its mistakes."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from evmon.cli import cli
from evmon.config.loader import load_config
from evmon.errors import ConfigError
from tests.conftest import REPO, write_config

CREDIT: dict[str, Any] = yaml.safe_load((REPO / "projects.yaml").read_text())["projects"][0]


def credit_with(tmp_path: Path, demo_dir: Path, fairness: Any, **overrides: Any) -> Path:
    return write_config(tmp_path / "projects.yaml", demo_dir, credit_scorecard={"fairness": fairness, **overrides})


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def test_the_defaults(tmp_path: Path, demo_dir: Path) -> None:
    project = load_config(credit_with(tmp_path, demo_dir, {"sensitive": ["region"]})).projects[0]
    assert project.fairness is not None
    assert project.fairness.model_dump() == {
        "sensitive": ["region"],
        "reference_group": {},
        "quality_metric": None,
        "min_rows": 30,
        "favourable": "positive",
        "thresholds": {"disparate_impact_min": 0.8, "equalized_odds_max": 0.1},
    }


def test_a_project_without_fairness_keeps_its_config_hash(tmp_path: Path, demo_dir: Path) -> None:
    """Snapshots record their project's hash: adding the section to the model must not change it."""
    without = {"fairness": None, "outliers": None}  # the demo's credit project has both
    project = load_config(write_config(tmp_path / "projects.yaml", demo_dir, credit_scorecard=without)).projects[0]
    dumped = project.model_dump(mode="json", exclude={"owner", "tags", "online"})  # never hashed
    assert dumped.pop("fairness") is None and dumped.pop("outliers") is None
    del dumped["presets"]["data_drift"]["max_categories"]  # left out at its default too
    assert project.config_hash() == hashlib.sha256(json.dumps(dumped, sort_keys=True).encode()).hexdigest()[:12]
    on = load_config(credit_with(tmp_path, demo_dir, {"sensitive": ["region"]}, outliers=None)).projects[0]
    assert on.config_hash() != project.config_hash()
    explicit = credit_with(tmp_path, demo_dir, {"sensitive": ["region"], "favourable": "positive"}, outliers=None)
    assert load_config(explicit).projects[0].config_hash() == on.config_hash()  # added later: its default not hashed


def test_the_mistakes_and_their_messages(tmp_path: Path, demo_dir: Path) -> None:
    cases = [
        (
            {"sensitive": ["regoin"]},
            "fairness.sensitive[0]: a sensitive column must be one of columns.categorical "
            "(got 'regoin'); did you mean 'region'?",
        ),
        (
            {"sensitive": ["ExternalRiskEstimate"]},
            "fairness.sensitive[0]: a sensitive column must be one of columns.categorical (got 'ExternalRiskEstimate')",
        ),
        (
            {"sensitive": ["region", "region"]},
            "fairness.sensitive[1]: listed twice; expected each sensitive column once (got 'region')",
        ),
        ({"sensitive": []}, "fairness.sensitive: List should have at least 1 item after validation, not 0"),
        (
            {"sensitive": ["region"], "reference_group": {"regio": "north"}},
            "fairness.reference_group.regio: not one of fairness.sensitive (got 'regio'); did you mean 'region'?",
        ),
        (
            {"sensitive": ["region"], "quality_metric": "mae"},
            "fairness.quality_metric: not a metric of a classifier; "
            "expected one of accuracy, precision, recall, f1, roc_auc (got 'mae')",
        ),
        (
            {"sensitive": ["region"], "min_rows": 0},
            "fairness.min_rows: Input should be greater than or equal to 1 (got 0)",
        ),
        (
            {"sensitive": ["region"], "thresholds": {"disparate_impact_min": 1.5}},
            "fairness.thresholds.disparate_impact_min: Input should be less than or equal to 1 (got 1.5)",
        ),
        (
            {"sensitive": ["region"], "min_row": 3},
            "fairness.min_row: unknown key 'min_row'; did you mean 'min_rows'? "
            "expected one of: sensitive, reference_group, quality_metric, min_rows, favourable, thresholds",
        ),
        (
            {"sensitive": ["region"], "favourable": "approved"},
            "fairness.favourable: Input should be 'positive' or 'negative' (got 'approved')",
        ),
    ]
    for fairness, expected in cases:
        path = credit_with(tmp_path, demo_dir, fairness)
        assert problems_of(path) == [f"{path}: projects[0].{expected}"], fairness


def test_roc_auc_needs_scores(tmp_path: Path, demo_dir: Path) -> None:
    columns = copy.deepcopy(CREDIT["columns"])
    columns["prediction"]["kind"] = "label"
    presets = {k: v for k, v in CREDIT["presets"].items() if k not in ("estimation", "classification")}
    presets["classification"] = True
    path = credit_with(
        tmp_path, demo_dir, {"sensitive": ["region"], "quality_metric": "roc_auc"}, columns=columns, presets=presets
    )
    message = (
        f"{path}: projects[0].fairness.quality_metric: roc_auc needs probability scores; "
        "columns.prediction.kind is 'label' (got 'roc_auc')"
    )
    assert problems_of(path) == [message]
    result = CliRunner().invoke(cli, ["validate", "-c", str(path)])
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"Error: {message}\n")


def test_fairness_needs_a_prediction(tmp_path: Path, demo_dir: Path) -> None:
    columns = {k: v for k, v in CREDIT["columns"].items() if k not in ("prediction", "target")}
    path = credit_with(
        tmp_path, demo_dir, {"sensitive": ["region"]}, columns=columns, presets={"data_drift": True}, segments=[]
    )
    assert problems_of(path) == [
        f"{path}: projects[0].fairness: needs columns.prediction (the decisions whose rates are compared)"
    ]
