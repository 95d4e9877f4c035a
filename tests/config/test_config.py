"""projects.yaml: loading, validation, exact messages and exit codes of `evmon validate`."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from evmon.cli import cli
from evmon.config.loader import load_config
from evmon.config.model import DEFAULT_MAX_CATEGORIES, DRIFT_METHODS
from evmon.errors import ConfigError

BASE = {
    "projects": [
        {
            "name": "churn",
            "source": {"path": "data/*.csv", "timestamp_column": "ts"},
            "reference": {"path": "data/ref.csv"},
            "columns": {
                "numerical": ["age", "tenure"],
                "categorical": ["plan"],
                "target": "churned",
                "prediction": {"column": "score", "kind": "probability"},
            },
            "presets": {"data_drift": True, "classification": True},
        }
    ]
}


def write(tmp_path: Path, data: object, name: str = "projects.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def validate(path: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["validate", "-c", str(path)])
    return result.exit_code, result.stdout, result.stderr


def test_the_repository_projects_yaml_loads() -> None:
    config = load_config(Path(__file__).parents[2] / "projects.yaml")
    assert [p.name for p in config.projects] == ["credit_scorecard", "taxi_duration", "credit_scorecard_live"]
    credit = config.project("credit_scorecard")
    assert credit.label_lag_days == 3
    assert credit.segments == ["region"]
    assert credit.presets.data_drift is not None
    assert credit.presets.data_drift.columns["ExternalRiskEstimate"].threshold == 0.2
    # the credit model's live service: the same model, columns (no labels reach it), drift, outliers and owner;
    # the service's evmon.online section, its row log where the live project's source reads
    live = config.project("credit_scorecard_live")
    assert live.model == credit.model and live.outliers == credit.outliers and live.owner == credit.owner
    assert live.columns.model_dump(exclude={"target", "positive_label"}) == credit.columns.model_dump(
        exclude={"target", "positive_label"}
    )
    assert live.columns.target is None and not live.has_quality
    assert live.presets.data_drift == credit.presets.data_drift and live.tags == credit.tags
    assert credit.online is None and live.online is not None and live.online.row_log is not None
    assert live.source.path == f"{live.online.row_log.path}/*/*/*.parquet"  # type: ignore[union-attr]


def test_defaults_and_boolean_preset_switches(tmp_path: Path) -> None:
    project = load_config(write(tmp_path, BASE)).projects[0]
    assert project.schedule == "0 2 * * *"
    assert project.timezone == "UTC"
    assert project.enabled is True
    assert project.presets.data_summary is None
    assert project.presets.classification is not None
    assert project.drift_columns() == ["age", "tenure", "plan", "score"]


def test_a_typo_in_a_key_is_one_error_naming_it(tmp_path: Path) -> None:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data["projects"][0]["colums"] = data["projects"][0].pop("columns")
    path = write(tmp_path, data)
    code, out, err = validate(path)
    assert (code, out) == (2, "")
    assert err == (
        f"Error: {path}: projects[0].colums: unknown key 'colums'; did you mean 'columns'? expected one of: "
        "name, description, enabled, timezone, source, reference, columns, presets, segments, schedule, "
        "label_lag_days, max_catchup_days, retention, fairness, outliers, model, owner, tags, online\n"
    )


def test_a_typo_deep_inside_names_the_full_key_path(tmp_path: Path) -> None:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data["projects"][0]["source"]["timestamp_col"] = "ts"
    assert problems_of(write(tmp_path, data)) == [
        f"{tmp_path / 'projects.yaml'}: projects[0].source.timestamp_col: unknown key 'timestamp_col'; "
        "did you mean 'timestamp_column'? expected one of: type, path, format, timestamp_column, timestamp_timezone"
    ]


def test_a_bad_cron(tmp_path: Path) -> None:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data["projects"][0]["schedule"] = "0 25 * * *"
    path = write(tmp_path, data)
    code, _, err = validate(path)
    assert code == 2
    assert err == (
        f"Error: {path}: projects[0].schedule: not a valid cron expression (Error validating expression '25': "
        "the last value (25) is higher than the maximum value (23)); expected 5 fields such as '0 2 * * *' "
        "(minute hour day-of-month month day-of-week) (got '0 25 * * *')\n"
    )


def test_a_missing_config_file(tmp_path: Path) -> None:
    code, out, err = validate(tmp_path / "nope.yaml")
    assert (code, out) == (2, "")
    assert (
        err == f"Error: {tmp_path / 'nope.yaml'}: file not found; expected a projects.yaml (point -c/--config at it)\n"
    )


def test_a_column_listed_twice(tmp_path: Path) -> None:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data["projects"][0]["columns"]["categorical"] = ["plan", "age"]
    path = write(tmp_path, data)
    code, _, err = validate(path)
    assert code == 2
    assert err == (
        f"Error: {path}: projects[0].columns.categorical[1]: column 'age' is listed twice (already as numerical[0]); "
        "expected one role per column (got 'age')\n"
    )


def test_a_duplicate_project_name(tmp_path: Path) -> None:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data["projects"].append(data["projects"][0])
    path = write(tmp_path, data)
    code, _, err = validate(path)
    assert code == 2
    assert err == (
        f"Error: {path}: projects[1].name: already the name of projects[0]; expected unique project names "
        "(got 'churn')\n"
    )


def test_several_problems_are_all_listed(tmp_path: Path) -> None:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    project = data["projects"][0]
    project["name"] = "Bad Name"
    project["timezone"] = "Mars/Olympus"
    project["label_lag_days"] = -1
    problems = problems_of(write(tmp_path, data))
    file = tmp_path / "projects.yaml"
    assert problems == [
        f"{file}: projects[0].name: String should match pattern '^[a-z0-9][a-z0-9_-]{{0,62}}$' (got 'Bad Name')",
        f"{file}: projects[0].timezone: expected an IANA timezone such as 'UTC' or 'Europe/Berlin' "
        "(got 'Mars/Olympus')",
        f"{file}: projects[0].label_lag_days: Input should be greater than or equal to 0 (got -1)",
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"presets": {"data_drift": {"columns": {"tenure": {"method": "chisquare"}}}}},
            "projects[0].presets.data_drift.columns.tenure.method: does not apply to numerical column 'tenure' "
            "(got 'chisquare')",
        ),
        (
            {"presets": {"data_drift": {"method": "ks"}}},
            "projects[0].presets.data_drift.method: does not apply to cat columns; set num_method and cat_method "
            "instead (got 'ks')",
        ),
        (
            {"presets": {"data_drift": {"num_method": "kolmogorov"}}},
            "projects[0].presets.data_drift.num_method: unknown drift method; expected one of "
            + ", ".join(DRIFT_METHODS)
            + " (got 'kolmogorov')",
        ),
        (
            {"presets": {"regression": True}},
            "projects[0].presets.regression: needs columns.target and columns.prediction with kind 'regression'",
        ),
        (
            {"segments": ["age"]},
            "projects[0].segments[0]: a segment column must be one of columns.categorical (got 'age')",
        ),
        (
            {"segments": ["plna"]},
            "projects[0].segments[0]: a segment column must be one of columns.categorical (got 'plna'); "
            "did you mean 'plan'?",
        ),
        (
            {"presets": {"data_drift": {"columns": {"tenur": {"threshold": 0.2}}}}},
            "projects[0].presets.data_drift.columns.tenur: not a declared numerical, categorical or "
            "prediction column; did you mean 'tenure'?",
        ),
        (
            {"reference": {"start": "2026-02-01", "end": "2026-01-01"}},
            "projects[0].reference.end: the window ends before it starts (start 2026-02-01); expected end >= start "
            "(got '2026-01-01')",
        ),
        (
            {"source": {"type": "kafka", "topic": "x", "timestamp_column": "ts"}},
            "projects[0].source: expected type 'files' or 'sql'",
        ),
        (
            {"source": {"type": "sql", "dsn_env": "DB", "query": "select * from t", "timestamp_column": "ts"}},
            "projects[0].source.query: the query must filter on the window parameters :start and :end "
            "(missing :start, :end) (got 'select * from t')",
        ),
    ],
)
def test_cross_field_rules(tmp_path: Path, change: dict[str, object], expected: str) -> None:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    project = data["projects"][0]
    for key, value in change.items():
        if key == "presets" and isinstance(value, dict):
            project["presets"] = {**project["presets"], **value}
            if "regression" in value:
                project["presets"].pop("classification")
        else:
            project[key] = value
    file = tmp_path / "projects.yaml"
    assert problems_of(write(tmp_path, data)) == [f"{file}: {expected}"]


def test_env_interpolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data["workspace"] = "${EVMON_TEST_WS:-fallback}"
    data["projects"][0]["description"] = "owner ${EVMON_TEST_OWNER}, literal $${NOT_A_VAR}"
    path = write(tmp_path, data)
    monkeypatch.delenv("EVMON_TEST_WS", raising=False)
    monkeypatch.delenv("EVMON_TEST_OWNER", raising=False)
    assert problems_of(path) == [
        f"{path}: projects[0].description: environment variable EVMON_TEST_OWNER is not set "
        "(referenced as ${EVMON_TEST_OWNER}); expected it in the environment, or write ${EVMON_TEST_OWNER:-default}"
    ]
    monkeypatch.setenv("EVMON_TEST_OWNER", "risk-team")
    config = load_config(path)
    assert str(config.workspace) == "fallback"
    assert config.projects[0].description == "owner risk-team, literal ${NOT_A_VAR}"


def test_invalid_yaml_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "projects.yaml"
    path.write_text("projects:\n  - name: a\n    source: [unclosed\n")
    problems = problems_of(path)
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:4:1: invalid YAML: ")


def test_drift_method_table_matches_evidentlys_registry() -> None:
    import evidently.presets  # noqa: F401  (registers the stat tests)
    from evidently.legacy.calculations.stattests.registry import _registered_stat_tests

    registry = {
        name: frozenset(str(t.value) for t in tests)
        for name, tests in _registered_stat_tests.items()
        if not name.endswith("text_content_drift")
    }
    assert registry == DRIFT_METHODS


def test_config_hash_changes_with_settings(tmp_path: Path) -> None:
    first = load_config(write(tmp_path, BASE)).projects[0].config_hash()
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data["projects"][0]["presets"]["data_drift"] = {"threshold": 0.2}
    second = load_config(write(tmp_path, data, "other.yaml")).projects[0].config_hash()
    assert first != second
    assert first == load_config(write(tmp_path, BASE, "again.yaml")).projects[0].config_hash()


def test_a_setting_added_later_keeps_the_hash_of_a_project_that_leaves_it_at_its_default(tmp_path: Path) -> None:
    # presets.data_drift.max_categories came after snapshots recorded their config hash: a project that
    # does not set it (or sets its default) keeps its hash, so its days are not seen as changed
    first = load_config(write(tmp_path, BASE)).projects[0].config_hash()
    assert first == "d08a698f3480"  # its hash before the setting existed (de59e37)
    for cap, same in ((DEFAULT_MAX_CATEGORIES, True), (500, False), (None, False)):
        data = yaml.safe_load(yaml.safe_dump(BASE))
        data["projects"][0]["presets"]["data_drift"] = {"max_categories": cap}
        assert (load_config(write(tmp_path, data, "cap.yaml")).projects[0].config_hash() == first) is same, cap


def test_relative_paths_start_at_the_config_folder(tmp_path: Path) -> None:
    sub = tmp_path / "conf"
    sub.mkdir()
    config = load_config(write(sub, BASE))
    assert config.resolve("data/ref.csv") == sub / "data" / "ref.csv"
    assert config.resolve("/abs/x.csv") == Path("/abs/x.csv")
    assert os.fspath(config.source_file) == os.fspath(sub / "projects.yaml")


def test_an_anchored_config_reads_the_same_files_from_another_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a Dask worker is sent: loaded as `-c projects.yaml` in its folder, read in another folder."""
    sub = tmp_path / "conf"
    sub.mkdir()
    write(sub, BASE)
    monkeypatch.chdir(sub)
    config = load_config("projects.yaml")
    shipped = pickle.dumps(config.anchored())
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    there = pickle.loads(shipped)
    assert there.resolve("data/ref.csv") == sub / "data" / "ref.csv"
    assert config.resolve("data/ref.csv") == Path("data/ref.csv")  # the loaded config itself is unchanged
    assert there.projects[0].config_hash() == config.projects[0].config_hash() == "d08a698f3480"
