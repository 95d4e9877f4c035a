"""evmon.compare.values against Evidently itself: drift verdicts, counts, deltas, catalog from headers."""

from __future__ import annotations

import importlib
import math
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evmon.compare.values import compare, snapshot_values, week_before
from evmon.config.model import DRIFT_METHODS
from evmon.drift import DRIFT_RULES, drift_rule, drift_verdict
from evmon.snapshot.catalog import catalog, entry_from_header
from evmon.snapshot.flatten import flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from tests.app.conftest import CREDIT, TAXI

TEXT_TESTS = {"perc_text_content_drift", "abs_text_content_drift"}  # no text columns in evmon


def _registry() -> dict[str, dict[object, object]]:
    import evmon  # noqa: F401  (DO_NOT_TRACK before Evidently)

    stattests = importlib.import_module("evidently.legacy.calculations.stattests.registry")
    _registered_stat_tests = stattests._registered_stat_tests

    return dict(_registered_stat_tests)


def test_every_evidently_stat_test_has_a_rule() -> None:
    registry = _registry()
    assert {r.method for r in DRIFT_RULES} == set(registry) - TEXT_TESTS
    for rule in DRIFT_RULES:
        tests = {t.display_name for t in registry[rule.method].values()}  # type: ignore[attr-defined]
        assert tests == {rule.display_name}, rule
        assert drift_rule(rule.display_name) is rule
    assert set(DRIFT_METHODS) <= {r.method for r in DRIFT_RULES}


@pytest.mark.parametrize("rule", DRIFT_RULES, ids=lambda r: r.method)
def test_rule_gives_evidentlys_own_verdict(rule) -> None:  # type: ignore[no-untyped-def]
    """Run the real stat test with thresholds at, just above and just below its score."""
    from evidently.legacy.core import ColumnType

    test_by_type = _registry()[rule.method]
    kind = ColumnType.Numerical if ColumnType.Numerical in test_by_type else ColumnType.Categorical
    stat_test = test_by_type[kind]
    rng = np.random.default_rng(7)
    n = 300 if rule.method != "TVD" else 60  # TVD runs a 1000-permutation test per call
    if kind == ColumnType.Numerical:
        ref, cur = pd.Series(rng.normal(0, 1, n)), pd.Series(rng.normal(0.15, 1, n))
    else:
        ref, cur = pd.Series(rng.choice(["a", "b"], n)), pd.Series(rng.choice(["a", "b"], n, p=[0.4, 0.6]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = stat_test(ref, cur, kind, None).drift_score  # type: ignore[operator]
        for threshold in (score, np.nextafter(score, math.inf), np.nextafter(score, -math.inf)):
            result = stat_test(ref, cur, kind, threshold)  # type: ignore[operator]
            assert bool(result.drifted) == rule.drifted(result.drift_score, threshold), (threshold, result)
            assert drift_verdict(rule.method, result.drift_score, threshold) == bool(result.drifted)


def test_unknown_method_or_missing_value_has_no_verdict() -> None:
    assert drift_verdict("no_such_test", 0.5, 0.1) is None
    assert drift_verdict("psi", None, 0.1) is None
    assert drift_verdict("psi", 0.5, None) is None


def _values(root: Path, project: str, day: date):  # type: ignore[no-untyped-def]
    snapshot = FilesWorkspace(root).read_snapshot(project_id(project), daily_snapshot_id(project, day))
    return snapshot, snapshot_values(snapshot)


def test_verdict_count_equals_evidentlys_drifted_columns_count(shift_workspace: Path) -> None:
    """On every real snapshot, recomputed verdicts count what Evidently's DriftedColumnsCount counted."""
    workspace = FilesWorkspace(shift_workspace)
    checked = 0
    for entry in workspace.list_projects():
        for file in workspace.list_snapshots(entry.id):
            values = snapshot_values(workspace.read_snapshot(entry.id, file.snapshot_id))
            assert values.columns
            assert all(c.drifted is not None for c in values.columns.values())
            assert len(values.drifted_columns) == values.evidently_drifted_count
            checked += 1
    assert checked >= 12


def test_values_are_flattens_values(shift_workspace: Path, shift_days: tuple[date, date]) -> None:
    snapshot, values = _values(shift_workspace, CREDIT, shift_days[1])
    rows = flatten(snapshot)
    drift = {r.column: r for r in rows if r.metric_type == "ValueDrift"}
    assert set(values.columns) == set(drift)
    for name, column in values.columns.items():
        assert column.drift_score == drift[name].value
        assert column.method == drift[name].params["method"]
        assert column.threshold == drift[name].params["threshold"]
    assert values.columns["ExternalRiskEstimate"].method == "psi"
    assert values.columns["ExternalRiskEstimate"].threshold == 0.2  # the per-column override
    rows_value = next(r.value for r in rows if r.metric_type == "RowCount")
    assert values.value("data.rows") == rows_value == float(snapshot["metadata"]["rows"])
    auc = next(r for r in rows if r.metric_type == "RocAuc" and r.params.get("classification_name") == "region=east")
    assert values.value("quality.RocAuc.value.region=east") == auc.value
    assert values.segments[0] == "default"
    assert {"region=east", "region=north", "region=south", "region=west"} <= set(values.segments)


def test_taxi_auto_methods_and_regression_quality(shift_workspace: Path) -> None:
    from tests.conftest import DEMO_END

    _, values = _values(shift_workspace, TAXI, DEMO_END)
    methods = {c.method for c in values.columns.values()}
    assert methods <= {"Wasserstein distance (normed)", "Jensen-Shannon distance"}  # chosen by Evidently
    assert {c.method_name for c in values.columns.values()} <= {"wasserstein", "jensenshannon"}
    assert values.value("quality.RMSE.value.default") is not None
    assert values.value("quality.MAE.mean.default") is not None


def test_compare_shifted_day_with_its_week_before(shift_workspace: Path, shift_days: tuple[date, date]) -> None:
    clean, shifted = shift_days
    assert week_before(shifted) == clean
    _, a = _values(shift_workspace, CREDIT, clean)
    _, b = _values(shift_workspace, CREDIT, shifted)
    result = compare(a, b)
    flipped = {c.column: (c.drifted_a, c.drifted_b) for c in result.flipped_columns}
    assert flipped["ExternalRiskEstimate"] == (False, True)  # the injected shift
    for column in result.columns:
        assert column.delta == b.columns[column.column].drift_score - a.columns[column.column].drift_score  # type: ignore[operator]
    deltas = [abs(c.delta) for c in result.columns if c.delta is not None]
    assert deltas == sorted(deltas, reverse=True)
    assert result.columns[0].column == "ExternalRiskEstimate"
    by_key = {v.key: v for v in result.values}
    assert by_key["drift.count"].delta == b.value("drift.count") - a.value("drift.count")  # type: ignore[operator]
    assert [GROUP for GROUP in dict.fromkeys(v.group for v in result.values)] == ["drift", "data", "quality"]


def test_compare_against_itself_has_no_change(shift_workspace: Path, shift_days: tuple[date, date]) -> None:
    _, b = _values(shift_workspace, CREDIT, shift_days[1])
    result = compare(b, b)
    assert not result.flipped_columns and not result.dataset_drift_flipped
    assert all(c.delta == 0 for c in result.columns)


def test_header_is_the_files_start_and_catalog_sorts_kinds(shift_workspace: Path) -> None:
    workspace = FilesWorkspace(shift_workspace)
    pid = project_id(CREDIT)
    entries = []
    for file in workspace.list_snapshots(pid):
        header = workspace.read_snapshot_header(pid, file.snapshot_id)
        full = workspace.read_snapshot(pid, file.snapshot_id)
        assert header == {k: full[k] for k in ("name", "timestamp", "metadata", "tags")}
        entries.append(entry_from_header(str(file.snapshot_id), header, file.size, file.mtime_ns))
    entries.append(entry_from_header("x", {"metadata": {"evmon_kind": "whatif"}, "tags": ["whatif"]}, 1, 1))
    entries.append(entry_from_header("y", {"metadata": {}}, 1, 1))
    result = catalog(entries, canonical=lambda d: str(daily_snapshot_id(CREDIT, d)))
    assert len(result.daily) == len(entries) - 2
    assert all(e.snapshot_id == str(daily_snapshot_id(CREDIT, d)) for d, e in result.daily.items())
    assert [e.snapshot_id for e in result.whatifs] == ["x"]
    assert [e.snapshot_id for e in result.other] == ["y"]


def test_header_of_a_compactly_written_snapshot(
    shift_workspace: Path, shift_days: tuple[date, date], tmp_path: Path
) -> None:
    import json
    import uuid

    snapshot = FilesWorkspace(shift_workspace).read_snapshot(
        project_id(CREDIT), daily_snapshot_id(CREDIT, shift_days[0])
    )
    workspace = FilesWorkspace(tmp_path / "workspace")
    workspace.prepare()
    sid = uuid.uuid4()
    workspace.write_snapshot(project_id(CREDIT), sid, json.dumps(snapshot, separators=(",", ":")).encode())
    header = workspace.read_snapshot_header(project_id(CREDIT), sid)
    assert header == {k: snapshot[k] for k in ("name", "timestamp", "metadata", "tags")}
