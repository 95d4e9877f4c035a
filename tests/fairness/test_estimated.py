"""Each group's estimated quality before the labels: estimated_<metric> per group, estimated_quality_gap between.

The oracle: the project's estimator (CBPE, DLE) fitted once and run directly on each group's rows.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import pandas as pd
import pytest

from evmon.config.model import Project
from evmon.estimation import daily as estimated
from evmon.estimation.cbpe import ClassificationEstimator
from evmon.fairness.daily import EstimatedGroups, FairnessDay, day_fairness
from tests.fairness.data import GROUPS, SMALL_GROUP, project, with_gap, without_gap

LABELLED = {"tpr", "fpr", "precision", "accuracy", "roc_auc", "f1", "mae", "rmse"}
LABELLED_BETWEEN = {"equalized_odds_difference", "quality_gap"}


def fairness_of(project: Project, estimator: estimated.Estimator, frame: pd.DataFrame, labelled: bool) -> FairnessDay:
    """The day as the runner computes it: the estimates, then the fairness values with the groups' estimates."""
    day = estimated.estimate_day(project, estimator, frame, labelled)
    assert day.group_metric is not None
    groups = EstimatedGroups(day.group_metric, {(g.column, g.group): g.value for g in day.groups})
    return day_fairness(project, frame, frame, labelled, groups)


def direct(estimator: estimated.Estimator, rows: pd.DataFrame, prediction: str, metric: str) -> float:
    """The estimator run on these rows alone."""
    if isinstance(estimator, ClassificationEstimator):
        return estimator.estimate(rows[prediction])[metric].value
    return estimator.estimate(rows, rows[prediction])[metric].value


def check_groups(day: FairnessDay, frame: pd.DataFrame, estimator: Any, prediction: str, metric: str) -> None:
    """Per group the estimator's own value; between the ranked groups (not the small one) best minus worst."""
    measure = f"estimated_{metric}"
    for column in ("region", "channel"):
        groups = sorted(frame[column].unique())
        found = {g: day.value(column, measure, g) for g in groups}
        assert found == {g: direct(estimator, frame[frame[column] == g], prediction, metric) for g in groups}
        ranked = [found[g] for g in groups if day.value(column, "ranked", g) == 1.0]
        assert len(ranked) == len(groups) - (column == "region")  # the small group is reported, not ranked
        gap = day.value(column, "estimated_quality_gap")
        assert gap is not None and gap == max(ranked) - min(ranked) > 0  # type: ignore[type-var]


@pytest.mark.parametrize("metric", ["accuracy", "roc_auc", "f1"])
def test_a_classifiers_groups_get_cbpes_estimate_before_the_labels(metric: str) -> None:
    fair = project(fairness={"quality_metric": metric}, estimation={})
    estimator = estimated.fit(fair, without_gap(rows=1500))
    frame = with_gap(rows=1500)
    day = fairness_of(fair, estimator, frame, labelled=False)
    check_groups(day, frame, estimator, "score", metric)
    assert day.value("region", f"estimated_{metric}", SMALL_GROUP) is not None  # reported with its estimate
    assert day.value("region", "ranked", SMALL_GROUP) == 0.0
    assert not {v.measure for v in day.values} & (LABELLED | LABELLED_BETWEEN)  # no labels: none of those


@pytest.mark.parametrize("metric", ["mae", "rmse"])
def test_a_regressors_groups_get_dles_estimate(metric: str) -> None:
    fair = project("regression", fairness={"quality_metric": metric}, estimation={})
    estimator = estimated.fit(fair, without_gap(rows=1500))
    frame = with_gap(rows=1500)
    day = fairness_of(fair, estimator, frame, labelled=True)
    check_groups(day, frame, estimator, "predicted_amount", metric)
    assert day.value("region", "quality_gap") is not None  # a labelled day has both gaps


def test_a_sensitive_column_that_is_a_segment_is_estimated_once() -> None:
    """region is a segment too: its groups' estimates are the segment's, computed once per value."""

    class Counting(ClassificationEstimator):
        rows: ClassVar[list[int]] = []

        def estimate(self, y_score: Any, record: Any = None) -> Any:
            Counting.rows.append(len(y_score))
            return super().estimate(y_score, record)

    calibration, frame = without_gap(rows=1500), with_gap(rows=1500)
    labels = (calibration["defaulted"] == 1).astype(int)
    segmented = project(estimation={}).model_copy(update={"segments": ["region"]})
    plain = project(estimation={}).model_copy(update={"segments": ["region"], "fairness": None})
    estimator = Counting.fit(labels, calibration["score"])
    counts, days = {}, {}
    for name, which in (("fairness", segmented), ("no fairness", plain)):
        Counting.rows.clear()
        days[name] = estimated.estimate_day(which, estimator, frame, labelled=False)
        counts[name] = list(Counting.rows)
    assert counts["fairness"] == counts["no fairness"] + [(frame["channel"] == g).sum() for g in ("branch", "web")]
    assert len(counts["no fairness"]) == 1 + len(GROUPS) + 1  # model-wide, then each region once
    assert days["fairness"].values == days["no fairness"].values  # the segments' own values are unchanged
    fairness = fairness_of(segmented, estimator, frame, labelled=False)
    for group in [*GROUPS, SMALL_GROUP]:
        segment = days["fairness"].value("accuracy", "estimate", f"region={group}")
        assert fairness.value("region", "estimated_accuracy", group) == segment


def test_without_estimation_no_estimated_measure() -> None:
    frame = with_gap(rows=600)
    day = day_fairness(project(), frame, frame, labelled=False)
    assert not [v for v in day.values if v.measure.startswith("estimated_")]
    assert estimated.group_metric(project()) is None


def test_one_ranked_group_has_its_estimate_and_no_gap() -> None:
    fair = project(estimation={})
    estimator = estimated.fit(fair, without_gap(rows=1500))
    frame = with_gap(rows=1500)
    north = frame[frame["region"].isin(["north", SMALL_GROUP])]
    day = fairness_of(fair, estimator, north, labelled=False)
    only_north = north[north["region"] == "north"]
    assert day.value("region", "estimated_accuracy", "north") == direct(estimator, only_north, "score", "accuracy")
    assert day.value("region", "estimated_quality_gap") is None
    small = day.value("region", "estimated_accuracy", SMALL_GROUP)
    assert small is not None and not math.isnan(small)
    assert "fairness of region: 1 group(s) with at least 30 rows (north); no gap between groups" in day.notes


def test_a_sensitive_column_that_cannot_be_grouped_is_a_note_and_the_days_estimates_stay() -> None:
    fair = project(estimation={})
    estimator = estimated.fit(fair, without_gap(rows=1500))
    frame = with_gap(rows=600)
    good = estimated.estimate_day(fair, estimator, frame, labelled=False)
    unhashable = frame.assign(channel=[[c] for c in frame["channel"]])  # a list a row: no groups to form
    day = estimated.estimate_day(fair, estimator, unhashable, labelled=False)
    assert day.values == good.values  # the model-wide estimates are all there
    assert {g.column for g in day.groups} == {"region"} and day.groups == good.groups[: len(day.groups)]
    (note,) = day.notes
    assert note.startswith("groups of channel (fairness): unexpected TypeError: ")
