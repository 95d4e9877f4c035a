"""Every fairness value equals Fairlearn's on the same rows, on two independently generated data sets."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, precision_score, roc_auc_score

from evmon.fairness.daily import FairnessDay, day_fairness
from tests.fairness.data import GROUPS, SMALL_GROUP, project, with_gap, without_gap

DATA_SETS = {"with_gap": with_gap, "without_gap": without_gap}
QUALITY = {"accuracy": accuracy_score, "f1": f1_score}


def close(ours: float | None, theirs: float) -> bool:
    assert ours is not None
    return math.isclose(ours, float(theirs), rel_tol=1e-12, abs_tol=1e-12)


def check_classifier(day: FairnessDay, frame: pd.DataFrame, column: str, decisions: pd.Series, metric: Any) -> None:
    """Per group (every group) and between the ranked groups (those of at least 30 rows)."""
    truth = frame["defaulted"]
    metrics = {
        "selection_rate": selection_rate,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "precision": precision_score,
        day.quality_metric: metric,
    }
    frame_all = MetricFrame(metrics=metrics, y_true=truth, y_pred=decisions, sensitive_features=frame[column])
    for group, row in frame_all.by_group.iterrows():
        for measure, value in row.items():
            assert close(day.value(column, str(measure), str(group)), value), (column, group, measure)
        assert day.value(column, "rows", str(group)) == (frame[column] == group).sum()
    ranked = frame[column].map(frame[column].value_counts()) >= 30
    rows = {"y_true": truth[ranked], "y_pred": decisions[ranked], "sensitive_features": frame[column][ranked]}
    assert close(day.value(column, "demographic_parity_difference"), demographic_parity_difference(**rows))
    assert close(day.value(column, "demographic_parity_ratio"), demographic_parity_ratio(**rows))
    assert close(day.value(column, "equalized_odds_difference"), equalized_odds_difference(**rows))
    quality = MetricFrame(metrics=metric, **rows)
    assert close(day.value(column, "quality_gap"), quality.difference(method="between_groups"))


@pytest.mark.parametrize("data", DATA_SETS)
@pytest.mark.parametrize("quality", QUALITY)
def test_a_classifier_with_scores_equals_fairlearn(data: str, quality: str) -> None:
    frame = DATA_SETS[data]()
    day = day_fairness(project(fairness={"quality_metric": quality}), frame, frame, labelled=True)
    decisions = (frame["score"] >= 0.5).astype(int)
    for column in ("region", "channel"):
        check_classifier(day, frame, column, decisions, QUALITY[quality])
    assert day.value("region", "ranked", SMALL_GROUP) == 0.0
    assert [day.value("region", "ranked", g) for g in GROUPS] == [1.0] * 4
    assert day.notes == (
        f"fairness of region: group(s) below min_rows (30) reported, not ranked: {SMALL_GROUP} (12 rows)",
    )


def test_the_two_data_sets_differ_where_they_should() -> None:
    """The gap is there in one and not in the other: the checks above compare values that matter."""
    gap = day_fairness(project(), with_gap(), with_gap(), labelled=True)
    fair = day_fairness(project(), without_gap(), without_gap(), labelled=True)
    assert gap.value("region", "demographic_parity_ratio") == pytest.approx(0.4686, abs=1e-4)  # below 0.8
    assert fair.value("region", "demographic_parity_ratio") == pytest.approx(0.9378, abs=1e-4)


@pytest.mark.parametrize("data", DATA_SETS)
def test_a_classifier_with_labels_and_a_higher_threshold_equals_fairlearn(data: str) -> None:
    frame = DATA_SETS[data]()
    labels = day_fairness(project("label"), frame, frame, labelled=True)
    check_classifier(labels, frame, "region", frame["approved"], accuracy_score)
    strict = day_fairness(project(classification={"probas_threshold": 0.7}), frame, frame, labelled=True)
    check_classifier(strict, frame, "region", (frame["score"] >= 0.7).astype(int), accuracy_score)


@pytest.mark.parametrize("data", DATA_SETS)
def test_roc_auc_per_group_equals_scikit_learn(data: str) -> None:
    frame = DATA_SETS[data]()
    day = day_fairness(project(fairness={"quality_metric": "roc_auc"}), frame, frame, labelled=True)
    by_group = MetricFrame(
        metrics=roc_auc_score, y_true=frame["defaulted"], y_pred=frame["score"], sensitive_features=frame["region"]
    ).by_group
    for group, value in by_group.items():
        assert close(day.value("region", "roc_auc", str(group)), value)


@pytest.mark.parametrize("data", DATA_SETS)
def test_a_regressor_equals_fairlearn(data: str) -> None:
    frame = DATA_SETS[data]()
    day = day_fairness(project("regression"), frame, frame, labelled=True)
    metrics = {"mae": mean_absolute_error, "mean_prediction": lambda y_true, y_pred: float(np.mean(y_pred))}
    found = MetricFrame(
        metrics=metrics, y_true=frame["amount"], y_pred=frame["predicted_amount"], sensitive_features=frame["region"]
    )
    for group, row in found.by_group.iterrows():
        for measure, value in row.items():
            assert close(day.value("region", str(measure), str(group)), value), (group, measure)
    ranked = frame["region"] != SMALL_GROUP
    between = MetricFrame(
        metrics=metrics,
        y_true=frame["amount"][ranked],
        y_pred=frame["predicted_amount"][ranked],
        sensitive_features=frame["region"][ranked],
    ).difference(method="between_groups")
    assert close(day.value("region", "quality_gap"), between["mae"])
    assert close(day.value("region", "mean_prediction_gap"), between["mean_prediction"])
    assert day.value("region", "selection_rate", "north") is None


def test_disparate_impact_against_the_reference_group() -> None:
    frame = with_gap()
    day = day_fairness(project(fairness={"reference_group": {"region": "north"}}), frame, frame, labelled=True)
    rates = MetricFrame(
        metrics=selection_rate,
        y_true=frame["defaulted"],
        y_pred=(frame["score"] >= 0.5).astype(int),
        sensitive_features=frame["region"],
    ).by_group
    for group, rate in rates.items():
        assert close(day.value("region", "disparate_impact", str(group)), rate / rates["north"])
    assert day.value("region", "disparate_impact", "north") == 1.0


@pytest.mark.parametrize("data", DATA_SETS)
def test_favourable_negative_compares_the_other_decisions_rates(data: str) -> None:
    """A credit model whose positive label is a default: the approvals' rates are compared (Fairlearn on 1 - y_pred)."""
    frame = DATA_SETS[data]()
    fairness = {"favourable": "negative", "reference_group": {"region": "north"}}
    day = day_fairness(project(fairness=fairness), frame, frame, labelled=True)
    positive = day_fairness(project(), frame, frame, labelled=True)
    approved = (frame["score"] < 0.5).astype(int)
    ranked = frame["region"] != SMALL_GROUP
    rows = {
        "y_true": frame["defaulted"][ranked],
        "y_pred": approved[ranked],
        "sensitive_features": frame["region"][ranked],
    }
    assert close(day.value("region", "demographic_parity_ratio"), demographic_parity_ratio(**rows))
    assert close(day.value("region", "demographic_parity_difference"), demographic_parity_difference(**rows))
    rates = MetricFrame(
        metrics=selection_rate, y_true=frame["defaulted"], y_pred=approved, sensitive_features=frame["region"]
    ).by_group
    for group, rate in rates.items():
        assert close(day.value("region", "selection_rate", str(group)), rate)
        assert close(day.value("region", "disparate_impact", str(group)), rate / rates["north"])
    for measure in ("tpr", "fpr", "precision", "equalized_odds_difference"):  # still of positive_label
        assert day.value("region", measure, "north" if measure != "equalized_odds_difference" else None) == (
            positive.value("region", measure, "north" if measure != "equalized_odds_difference" else None)
        )
    assert day.value("region", "demographic_parity_ratio") != positive.value("region", "demographic_parity_ratio")
