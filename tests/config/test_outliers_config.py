"""The `outliers` section of a project in projects.yaml: its defaults and its exact error messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from evmon.cli import cli
from evmon.config.loader import load_config
from evmon.errors import ConfigError
from tests.conftest import write_config


def credit_with(tmp_path: Path, demo_dir: Path, outliers: Any) -> Path:
    return write_config(tmp_path / "projects.yaml", demo_dir, credit_scorecard={"outliers": outliers, "fairness": None})


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def test_switched_on_with_true_and_its_defaults(tmp_path: Path, demo_dir: Path) -> None:
    project = load_config(credit_with(tmp_path, demo_dir, True)).projects[0]
    assert project.outliers is not None
    assert project.outliers.model_dump() == {
        "range": "quantiles",
        "quantiles": (0.005, 0.995),
        "columns": None,
        "isolation_forest": {"enabled": True, "seed": 0, "contamination": 0.01, "n_estimators": 100},
        "thresholds": {"column_share_max": 0.05, "multivariate_share_max": 0.05},
    }
    assert project.outliers.columns_of(project.columns.features()) == project.columns.features()
    assert load_config(credit_with(tmp_path, demo_dir, False)).projects[0].outliers is None


def test_a_project_without_outliers_keeps_its_config_hash(tmp_path: Path, demo_dir: Path) -> None:
    # the hash every snapshot records: adding the section to evmon must not change it for projects without it
    without = {"outliers": None, "fairness": None}  # the demo credit project has both
    plain = load_config(write_config(tmp_path / "a.yaml", demo_dir, credit_scorecard=without)).projects[0]
    off = load_config(credit_with(tmp_path, demo_dir, False)).projects[0]
    on = load_config(credit_with(tmp_path, demo_dir, True)).projects[0]
    assert "outliers" not in plain.model_dump(exclude_defaults=True)
    assert plain.config_hash() == off.config_hash() != on.config_hash()


def test_unknown_columns_are_named_with_a_did_you_mean(tmp_path: Path, demo_dir: Path) -> None:
    path = credit_with(tmp_path, demo_dir, {"columns": ["region", "ExternalRiskEstimat"]})
    assert problems_of(path) == [
        f"{path}: projects[0].outliers.columns[1]: not a declared numerical or categorical column "
        "(got 'ExternalRiskEstimat'); did you mean 'ExternalRiskEstimate'?"
    ]
    twice = credit_with(tmp_path, demo_dir, {"columns": ["region", "region"]})
    assert problems_of(twice) == [f"{twice}: projects[0].outliers.columns[1]: listed twice (got 'region')"]
    target = credit_with(tmp_path, demo_dir, {"columns": ["defaulted"]})
    assert problems_of(target) == [
        f"{target}: projects[0].outliers.columns[0]: not a declared numerical or categorical column (got 'defaulted')"
    ]
    empty = credit_with(tmp_path, demo_dir, {"columns": []})
    assert problems_of(empty) == [
        f"{empty}: projects[0].outliers.columns: is empty; list features, or leave it out for every feature"
    ]


def test_the_keys_and_values_are_checked_like_the_rest(tmp_path: Path, demo_dir: Path) -> None:
    path = credit_with(
        tmp_path,
        demo_dir,
        {
            "range": "minmx",
            "quantiles": [0.995, 0.005],
            "isolation_forest": {"contamination": 0.7, "sed": 1},
            "thresholds": {"column_share_max": 1.5},
        },
    )
    assert problems_of(path) == [
        f"{path}: projects[0].outliers.range: Input should be 'quantiles' or 'minmax' (got 'minmx')",
        f"{path}: projects[0].outliers.isolation_forest.sed: unknown key 'sed'; did you mean 'seed'? "
        "expected one of: enabled, seed, contamination, n_estimators",
        f"{path}: projects[0].outliers.thresholds.column_share_max: Input should be less than or equal to 1 (got 1.5)",
    ]
    forest = credit_with(tmp_path, demo_dir, {"isolation_forest": {"contamination": 0.7}})
    assert problems_of(forest) == [
        f"{forest}: projects[0].outliers.isolation_forest.contamination: expected 'auto' or a share in (0, 0.5] "
        "(got 0.7)"
    ]
    order = credit_with(tmp_path, demo_dir, {"quantiles": [0.995, 0.005]})
    assert problems_of(order) == [
        f"{order}: projects[0].outliers.quantiles: expected two quantiles with 0 <= low < high <= 1 "
        "(got [0.995, 0.005])"
    ]
    both = credit_with(tmp_path, demo_dir, {"range": "minmax", "quantiles": [0.01, 0.99]})
    assert problems_of(both) == [
        f"{both}: projects[0].outliers.quantiles: set with range 'minmax', which uses the reference's min and max; "
        "drop one"
    ]


def test_validate_prints_the_error_and_exits_2(tmp_path: Path, demo_dir: Path) -> None:
    path = credit_with(tmp_path, demo_dir, {"columns": ["regon"]})
    result = CliRunner().invoke(cli, ["validate", "-c", str(path)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"Error: {path}: projects[0].outliers.columns[0]: not a declared numerical or categorical column "
        "(got 'regon'); did you mean 'region'?\n"
    )
