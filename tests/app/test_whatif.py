"""evmon.run.whatif with real reports: overrides re-validated, nothing saved unless asked, clear errors."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest

from evmon.config.loader import load_config
from evmon.config.model import EvmonConfig
from evmon.days import snapshot_timestamp
from evmon.evidently.loader import report_html
from evmon.run.whatif import (
    Overrides,
    WhatIfError,
    WhatIfResult,
    WhatIfSpec,
    apply_overrides,
    run_whatif,
    save_whatif,
)
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from tests.app.conftest import CREDIT, TAXI
from tests.conftest import DEMO_END, DEMO_TODAY

pytestmark = pytest.mark.xdist_group("whatif")  # its module fixtures are built once, on one worker


@pytest.fixture(scope="module")
def config(demo_dir: Path) -> EvmonConfig:
    return load_config(demo_dir / "projects.yaml")


@pytest.fixture(scope="module")
def low_threshold(config: EvmonConfig, shift_days: tuple[date, date]) -> WhatIfResult:
    """The shifted day again, with one low threshold for every column (one real report run)."""
    day = shift_days[1]
    return run_whatif(config, WhatIfSpec(CREDIT, day, day, overrides=Overrides(threshold=0.03)), today=DEMO_TODAY)


def test_method_override_applies_to_every_column_and_resets_thresholds(config: EvmonConfig) -> None:
    project = apply_overrides(config.project(CREDIT), Overrides(method="psi"))
    drift = project.presets.data_drift
    assert drift is not None
    assert (drift.method, drift.num_method, drift.cat_method, drift.columns) == ("psi", None, None, {})
    assert (drift.threshold, drift.num_threshold, drift.cat_threshold) == (None, None, None)
    assert config.project(CREDIT).presets.data_drift.num_method == "wasserstein"  # type: ignore[union-attr]


def test_threshold_override_replaces_every_threshold(config: EvmonConfig) -> None:
    drift = apply_overrides(config.project(CREDIT), Overrides(threshold=0.05)).presets.data_drift
    assert drift is not None
    assert (drift.threshold, drift.num_threshold, drift.cat_threshold) == (0.05, None, None)
    assert drift.columns["ExternalRiskEstimate"].method == "psi"  # the method override stays
    assert drift.columns["ExternalRiskEstimate"].threshold is None


def test_columns_override_keeps_config_rules(config: EvmonConfig) -> None:
    project = apply_overrides(config.project(CREDIT), Overrides(columns=("ExternalRiskEstimate", "AverageMInFile")))
    assert project.drift_columns() == ["ExternalRiskEstimate", "AverageMInFile"]
    assert project.segments == []  # region is not monitored any more: no segment on it
    with_region = apply_overrides(config.project(CREDIT), Overrides(columns=("region", "default_probability")))
    assert with_region.drift_columns() == ["region", "default_probability"]
    assert with_region.segments == ["region"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (Overrides(method="ks"), "does not apply to cat"),  # region is categorical
        (Overrides(method="nope"), "unknown drift method 'nope'"),
        (Overrides(threshold=0.0), "greater than 0"),
        (Overrides(columns=("default_probability",)), "not only the prediction"),
        (Overrides(columns=("no_such_column",)), "not among the drift columns"),
        (Overrides(columns=()), "at least one column"),
    ],
)
def test_invalid_overrides_are_clear_errors(config: EvmonConfig, overrides: Overrides, message: str) -> None:
    with pytest.raises(WhatIfError, match=message):
        apply_overrides(config.project(CREDIT), overrides)


def test_lower_threshold_flags_more_columns(
    low_threshold: WhatIfResult, shift_workspace: Path, shift_days: tuple[date, date]
) -> None:
    from evmon.compare.values import snapshot_values

    day = shift_days[1]
    stored = FilesWorkspace(shift_workspace).read_snapshot(project_id(CREDIT), daily_snapshot_id(CREDIT, day))
    daily = snapshot_values(stored)
    values = low_threshold.values
    assert all(c.threshold == 0.03 for c in values.columns.values())
    assert len(values.drifted_columns) == values.evidently_drifted_count  # Evidently agrees with the verdicts
    assert values.evidently_drifted_count > daily.evidently_drifted_count  # type: ignore[operator]
    for name, column in values.columns.items():  # same data, same reference: same scores
        assert column.drift_score == pytest.approx(daily.columns[name].drift_score)


def test_whatif_snapshot_is_tagged_and_timestamped(low_threshold: WhatIfResult, shift_days: tuple[date, date]) -> None:
    model = low_threshold.model
    assert model.tags == ["whatif"]
    assert model.timestamp == snapshot_timestamp(shift_days[1])
    assert model.timestamp.tzinfo is None
    meta = model.metadata
    assert meta["evmon_kind"] == "whatif"
    assert meta["window"] == f"{shift_days[1]}..{shift_days[1]}"
    assert meta["reference"] == "project reference"
    assert json.loads(str(meta["overrides"])) == {"threshold": 0.03}
    assert meta["rows"] == str(low_threshold.rows)
    assert meta["labels"] == "yes" and low_threshold.labels_included
    assert json.loads(low_threshold.payload)["metadata"] == meta


def test_save_writes_a_separate_whatif_file(low_threshold: WhatIfResult, app_workspace: Path) -> None:
    workspace = FilesWorkspace(app_workspace)
    pid = project_id(CREDIT)
    before = {f.snapshot_id: f.mtime_ns for f in workspace.list_snapshots(pid)}
    file = save_whatif(workspace, low_threshold)
    after = {f.snapshot_id: f.mtime_ns for f in workspace.list_snapshots(pid)}
    assert set(after) == {*before, file.snapshot_id}
    assert all(after[sid] == mtime for sid, mtime in before.items())  # no daily snapshot touched
    assert file.snapshot_id.version == 4 and all(uuid.UUID(str(s)).version == 5 for s in before)
    header = workspace.read_snapshot_header(pid, file.snapshot_id)
    assert header["tags"] == ["whatif"] and header["metadata"]["evmon_kind"] == "whatif"
    second = save_whatif(workspace, low_threshold)
    assert second.snapshot_id != file.snapshot_id


def test_report_html_is_offline(low_threshold: WhatIfResult) -> None:
    html = report_html(low_threshold.model)
    assert "drawDashboard" in html and "ExternalRiskEstimate" in html and "DATA DRIFT" in html
    assert not re.findall(r"<(?:script|link|img|iframe)[^>]+(?:src|href)=[\"']?(?:https?:)?//", html)
    assert not re.findall(r"url\(\s*['\"]?https?:", html)  # no remote font or stylesheet


def test_reference_window_of_the_source(config: EvmonConfig) -> None:
    day = DEMO_END
    reference = (day - timedelta(days=10), day - timedelta(days=8))
    spec = WhatIfSpec(TAXI, day, day, reference=reference)
    result = run_whatif(config, spec, today=DEMO_TODAY)
    assert result.model.metadata["reference"] == f"{reference[0]}..{reference[1]}"
    assert 1000 < result.reference_rows < 2000  # three days of about 500 rows
    assert len(result.values.drifted_columns) == result.values.evidently_drifted_count


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (WhatIfSpec(TAXI, date(2025, 6, 1), date(2025, 6, 2)), r"window 2025-06-01..2025-06-02 has no rows"),
        (
            WhatIfSpec(TAXI, DEMO_END, DEMO_END, reference=(date(2025, 6, 1), date(2025, 6, 1))),
            r"reference window 2025-06-01..2025-06-01 has no rows",
        ),
        (WhatIfSpec(TAXI, DEMO_END, DEMO_END - timedelta(days=1)), r"ends \(.*\) before it starts"),
        (WhatIfSpec(TAXI, date(2024, 1, 1), DEMO_END), r"at most 366"),
    ],
)
def test_window_errors(config: EvmonConfig, spec: WhatIfSpec, message: str) -> None:
    with pytest.raises(WhatIfError, match=message):
        run_whatif(config, spec)


def test_failing_source_is_a_clear_error(broken_config: Path) -> None:
    from evmon.errors import SourceError

    config = load_config(broken_config)
    with pytest.raises(SourceError, match="cannot read"):
        run_whatif(config, WhatIfSpec("broken", DEMO_END, DEMO_END))
