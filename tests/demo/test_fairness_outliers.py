"""The demo's fairness and outlier episodes, seen by the real daily runs (and clean days stay clean).

Fairness gap (Episodes.fairness_gap): the south region gets the riskier applicants, its approvals
drop, the demographic parity ratio (disparate impact) falls below the project's
disparate_impact_min while no column drifts. Outliers (Episodes.outlier_spike): a quarter of
MSinceMostRecentInqexcl7days far above the reference's range, the column's out-of-range share and
the IsolationForest's share above their thresholds that day only.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from evmon.config.loader import load_config
from evmon.config.model import Project
from evmon.demo.data import FAIRNESS_GAP_REGION, OUTLIER_COLUMN, Episodes
from evmon.run.batch import DayTask
from evmon.run.many import run_many
from evmon.snapshot.flatten import MetricRow, flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from tests.conftest import DEMO_TODAY
from tests.demo.test_episodes import one

pytestmark = pytest.mark.xdist_group("fairness_outliers")  # one worker computes the module's snapshots once


@pytest.fixture(scope="module")
def credit(demo_dir: Path) -> Project:
    return load_config(demo_dir / "projects.yaml").project("credit_scorecard")


@pytest.fixture(scope="module")
def rows(
    demo_dir: Path, demo_episodes: Episodes, tmp_path_factory: pytest.TempPathFactory
) -> dict[date, list[MetricRow]]:
    """Flattened credit snapshots of two clean days, the fairness-gap days and the outlier day."""
    config = load_config(demo_dir / "projects.yaml")
    ws = FilesWorkspace(tmp_path_factory.mktemp("fairness_outliers") / "ws")
    project = config.project("credit_scorecard")
    days = [*demo_episodes.clean[:2], *demo_episodes.fairness_gap, demo_episodes.outlier_spike]
    results = run_many(config, [DayTask(project, d) for d in days], workspace=ws, workers=2, today=DEMO_TODAY)
    assert [r.outcome for r in results] == ["ok"] * len(days), [r.line() for r in results]
    pid = project_id(project.name)
    return {d: flatten(ws.read_snapshot(pid, daily_snapshot_id(project.name, d))) for d in days}


def disparate_impact(day_rows: list[MetricRow]) -> float:
    return one(day_rows, "FairnessValue", column="region", value_kind="demographic_parity_ratio")


def column_share(day_rows: list[MetricRow], column: str) -> float:
    found = [
        r.value
        for r in day_rows
        if r.metric_type in ("OutRangeValueCount", "OutListValueCount")
        and r.params.get("column") == column
        and r.value_kind == "share"
    ]
    assert len(found) == 1 and found[0] is not None, (column, found)
    return found[0]


def test_the_episode_days(demo_episodes: Episodes) -> None:
    """Where the alerts' tests look (tests/conftest.py's DEMO_END is the anchor): E-11..E-10 and E-8."""
    assert demo_episodes.fairness_gap == [date(2026, 3, 20), date(2026, 3, 21)]
    assert demo_episodes.outlier_spike == date(2026, 3, 23)


def test_disparate_impact_falls_below_the_threshold_on_the_fairness_days_only(
    rows: dict[date, list[MetricRow]], demo_episodes: Episodes, credit: Project
) -> None:
    assert credit.fairness is not None and credit.fairness.favourable == "negative"  # approvals are compared
    threshold = credit.fairness.thresholds.disparate_impact_min
    assert threshold == 0.8
    for day in demo_episodes.fairness_gap:
        assert disparate_impact(rows[day]) < threshold - 0.15  # measured: 0.561 and 0.516
        south = one(rows[day], "FairnessValue", column="region", label=FAIRNESS_GAP_REGION, value_kind="selection_rate")
        others = [
            one(rows[day], "FairnessValue", column="region", label=group, value_kind="selection_rate")
            for group in ("north", "east", "west")
        ]
        assert south < min(others) - 0.3  # the south's approvals dropped, the others' did not
    for day in [*demo_episodes.clean[:2], demo_episodes.outlier_spike]:
        assert disparate_impact(rows[day]) >= threshold


def test_no_drift_on_the_fairness_days(rows: dict[date, list[MetricRow]], demo_episodes: Episodes) -> None:
    """The inputs and the predictions look as usual: only who is in which region changed."""
    for day in demo_episodes.fairness_gap:
        assert one(rows[day], "DriftedColumnsCount", value_kind="count") == 0.0
        assert column_share(rows[day], "region") == 0.0  # no new category either


def test_the_outlier_column_and_the_forest_exceed_their_thresholds_on_the_outlier_day_only(
    rows: dict[date, list[MetricRow]], demo_episodes: Episodes, credit: Project
) -> None:
    assert credit.outliers is not None
    column_max = credit.outliers.thresholds.column_share_max
    multivariate_max = credit.outliers.thresholds.multivariate_share_max
    watched = [*credit.columns.numerical, *credit.columns.categorical]
    spike = rows[demo_episodes.outlier_spike]
    assert column_share(spike, OUTLIER_COLUMN) > 4 * column_max  # 25% injected
    assert [c for c in watched if column_share(spike, c) > column_max] == [OUTLIER_COLUMN]
    assert one(spike, "MultivariateOutlierCount", value_kind="share") > multivariate_max
    for day in [*demo_episodes.clean[:2], *demo_episodes.fairness_gap]:
        assert all(column_share(rows[day], c) <= column_max for c in watched), day
        assert one(rows[day], "MultivariateOutlierCount", value_kind="share") <= multivariate_max, day
