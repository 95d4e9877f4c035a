"""A what-if computes the fairness and outlier sections a daily snapshot has, through the same functions.

The demo's outlier day (labelled by DEMO_TODAY): its daily snapshot, run by the runner, and a what-if of that
one day under the same config carry the same FairnessValue and outlier values; a what-if that leaves the
sensitive column out of drift still carries them (what fairness watches is not a drift override). What-ifs
estimate no quality, so the daily snapshot's estimated measures (estimated_<metric> per group, the
estimated quality gap) are the one difference. A what-if explains its window with the project's model as the
daily run explains the day: the same attributions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evmon.config.loader import load_config
from evmon.config.model import EvmonConfig
from evmon.run.day import run_day
from evmon.run.whatif import Overrides, WhatIfSpec, run_whatif
from evmon.snapshot.flatten import MetricRow, flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from tests.conftest import DEMO_TODAY

CREDIT = "credit_scorecard"
SECTIONS = ("FairnessValue", "OutRangeValueCount", "OutListValueCount", "MultivariateOutlierCount", "OutlierQuality")
EXPLAINED = ("FeatureAttribution", "AttributionNdcg")


def sections(rows: list[MetricRow], types: tuple[str, ...] = SECTIONS) -> dict[tuple[Any, ...], float | None]:
    """The fairness and outlier values (or other `types`), keyed by what they are (not by metric id)."""
    out = {}
    for r in rows:
        if r.metric_type in types:
            key = (r.metric_type, r.column, r.label, r.value_kind)
            assert key not in out, key
            out[key] = None if r.value is None or r.value != r.value else r.value
    return out


@pytest.fixture(scope="module")
def config(demo_dir: Path) -> EvmonConfig:
    return load_config(demo_dir / "projects.yaml")


@pytest.fixture(scope="module")
def daily_rows(config: EvmonConfig, demo_episodes: Any, tmp_path_factory: pytest.TempPathFactory) -> list[MetricRow]:
    """The outlier day's daily snapshot, run by the runner, flattened."""
    day = demo_episodes.outlier_spike
    workspace = FilesWorkspace(tmp_path_factory.mktemp("ws"))
    result = run_day(config, config.project(CREDIT), day, workspace=workspace, today=DEMO_TODAY)
    assert result.outcome == "ok" and result.labels_included, result.line()
    return list(flatten(workspace.read_snapshot(project_id(CREDIT), daily_snapshot_id(CREDIT, day))))


@pytest.fixture(scope="module")
def daily(daily_rows: list[MetricRow]) -> dict[Any, Any]:
    """The outlier day's fairness and outlier values but the estimated ones."""
    values = sections(daily_rows)
    estimated = {k for k in values if k[0] == "FairnessValue" and k[3].startswith("estimated_")}
    assert estimated, "the demo's credit project estimates its quality: each region's estimate and the gap"
    return {k: v for k, v in values.items() if k not in estimated}


def test_a_whatif_of_a_day_carries_the_days_fairness_and_outlier_values(
    config: EvmonConfig, demo_episodes: Any, daily: dict[Any, Any]
) -> None:
    day = demo_episodes.outlier_spike
    result = run_whatif(config, WhatIfSpec(CREDIT, day, day), today=DEMO_TODAY)
    got = sections(flatten(json.loads(result.payload)))
    kinds = {k[0] for k in daily}
    assert kinds == set(SECTIONS)  # the day has them all: fairness with labels, outliers, the quality on them
    assert {
        ("FairnessValue", "region", None, "equalized_odds_difference"),
        ("OutlierQuality", None, "outliers", "accuracy"),
    } <= daily.keys()
    assert got == pytest.approx(daily, abs=0, nan_ok=True)
    assert result.labels_included


def test_a_whatif_without_the_sensitive_column_still_watches_it(
    config: EvmonConfig, demo_episodes: Any, daily: dict[Any, Any]
) -> None:
    day = demo_episodes.outlier_spike
    project = config.project(CREDIT)
    columns = tuple(c for c in project.drift_columns() if c != "region")
    result = run_whatif(config, WhatIfSpec(CREDIT, day, day, overrides=Overrides(columns=columns)), today=DEMO_TODAY)
    got = sections(flatten(json.loads(result.payload)))
    assert got == pytest.approx(daily, abs=0, nan_ok=True)
    drifted = {r.column for r in flatten(json.loads(result.payload)) if r.metric_type == "ValueDrift"}
    assert "region" not in drifted and drifted  # the override itself holds


def test_a_whatif_explains_its_window_as_the_daily_run_does(
    config: EvmonConfig, demo_episodes: Any, daily_rows: list[MetricRow]
) -> None:
    """The project's own model on the same seeded sample against the same reference: the day's attributions and
    nDCG, value for value, also when the what-if drifts fewer columns than the model takes."""
    day = demo_episodes.outlier_spike
    want = sections(daily_rows, EXPLAINED)
    assert {k[0] for k in want} == set(EXPLAINED) and len(want) > 8
    project = config.project(CREDIT)
    fewer = Overrides(columns=tuple(c for c in project.drift_columns() if c != "ExternalRiskEstimate"))
    for overrides in (Overrides(), fewer):
        result = run_whatif(config, WhatIfSpec(CREDIT, day, day, overrides=overrides), today=DEMO_TODAY)
        assert sections(flatten(json.loads(result.payload)), EXPLAINED) == pytest.approx(want, abs=0, nan_ok=True)
        assert result.values.explained is not None and result.values.explained.explainer == "linear"
