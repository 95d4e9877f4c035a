"""The demo's injected episodes are detected by the real reports (and clean days stay clean)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from evmon.config.loader import load_config
from evmon.demo.data import Episodes
from evmon.run.batch import DayTask
from evmon.run.many import run_many
from evmon.snapshot.flatten import MetricRow, flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from tests.conftest import DEMO_TODAY

pytestmark = pytest.mark.xdist_group("episodes")  # one worker computes the module's snapshots once


@pytest.fixture(scope="module")
def episode_rows(
    demo_dir: Path, demo_episodes: Episodes, tmp_path_factory: pytest.TempPathFactory
) -> dict[date, list[MetricRow]]:
    """Flattened credit snapshots of two clean days and one day of each episode."""
    config = load_config(demo_dir / "projects.yaml")
    ws = FilesWorkspace(tmp_path_factory.mktemp("episodes") / "ws")
    project = config.project("credit_scorecard")
    days = [
        *demo_episodes.clean[:2],
        demo_episodes.feature_shift[1],
        demo_episodes.missing_spike,
        demo_episodes.concept_drift[1],
    ]
    results = run_many(config, [DayTask(project, d) for d in days], workspace=ws, workers=2, today=DEMO_TODAY)
    assert [r.outcome for r in results] == ["ok"] * len(days)
    pid = project_id(project.name)
    # the full values: days older than retention.full_days were compacted after the run, their originals archived
    return {d: flatten(ws.read_full_snapshot(pid, daily_snapshot_id(project.name, d))) for d in days}


def one(rows: list[MetricRow], metric_type: str, **match: object) -> float:
    found = [
        r.value
        for r in rows
        if r.metric_type == metric_type
        and all(getattr(r, k, None) == v or r.params.get(k) == v for k, v in match.items())
    ]
    assert len(found) == 1, (metric_type, match, found)
    assert found[0] is not None
    return found[0]


def drifted(rows: list[MetricRow], column: str) -> bool:
    [row] = [r for r in rows if r.metric_type == "ValueDrift" and r.column == column]
    assert row.value is not None
    return row.value >= float(row.params["threshold"])  # psi/wasserstein: a distance, drift above threshold


def test_feature_shift_is_detected_on_its_day_only(
    episode_rows: dict[date, list[MetricRow]], demo_episodes: Episodes
) -> None:
    shifted = episode_rows[demo_episodes.feature_shift[1]]
    assert drifted(shifted, "ExternalRiskEstimate")
    for day in demo_episodes.clean[:2]:
        assert not drifted(episode_rows[day], "ExternalRiskEstimate")
        assert one(episode_rows[day], "DriftedColumnsCount", value_kind="share") == 0.0
    assert one(shifted, "DriftedColumnsCount", value_kind="share") > 0.0


def test_missing_values_spike(episode_rows: dict[date, list[MetricRow]], demo_episodes: Episodes) -> None:
    spike = one(
        episode_rows[demo_episodes.missing_spike],
        "MissingValueCount",
        column="NetFractionRevolvingBurden",
        value_kind="share",
    )
    assert 0.3 < spike < 0.5  # 40% injected
    for day in demo_episodes.clean[:2]:
        assert (
            one(episode_rows[day], "MissingValueCount", column="NetFractionRevolvingBurden", value_kind="share") == 0.0
        )
        assert one(episode_rows[day], "DatasetMissingValueCount", value_kind="share") == 0.0
    assert one(episode_rows[demo_episodes.missing_spike], "DatasetMissingValueCount", value_kind="share") > 0.0


def test_concept_drift_lowers_quality_while_inputs_look_stable(
    episode_rows: dict[date, list[MetricRow]], demo_episodes: Episodes
) -> None:
    concept = episode_rows[demo_episodes.concept_drift[1]]
    clean_auc = [one(episode_rows[d], "RocAuc", classification_name="default") for d in demo_episodes.clean[:2]]
    assert min(clean_auc) > 0.75
    assert one(concept, "RocAuc", classification_name="default") < min(clean_auc) - 0.15
    assert not drifted(concept, "ExternalRiskEstimate")
    assert one(concept, "DriftedColumnsCount", value_kind="count") <= 1  # at most the prediction wobbles
