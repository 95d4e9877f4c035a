"""Data that leaves a fairness measure undefined: a note naming the column and why, the other values kept."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evmon.fairness.daily import day_fairness
from tests.fairness.data import project, with_gap

MEASURES_WITHOUT_LABELS = {"rows", "ranked", "selection_rate"}


def test_a_day_without_labels_has_only_the_label_free_measures() -> None:
    frame = with_gap()
    day = day_fairness(project(), frame.drop(columns="defaulted"), frame, labelled=True)
    assert not day.labelled
    assert {v.measure for v in day.values if v.group is not None} == MEASURES_WITHOUT_LABELS
    assert {v.measure for v in day.values if v.group is None} == {
        "demographic_parity_difference",
        "demographic_parity_ratio",
    }
    before_the_labels = day_fairness(project(), frame, frame, labelled=False)
    assert before_the_labels.values == day.values


def test_one_group_only_gives_its_values_and_no_gap() -> None:
    frame = with_gap()
    north = frame[frame["region"] == "north"]
    day = day_fairness(project(), north, frame, labelled=True)
    assert day.value("region", "rows", "north") == len(north)
    assert day.value("region", "demographic_parity_ratio") is None
    assert day.value("channel", "demographic_parity_ratio") is not None  # the other column kept
    assert day.notes == (
        "fairness of region: group(s) of the reference absent today: east, island, south, west",
        "fairness of region: 1 group(s) with at least 30 rows (north); no gap between groups",
    )


def test_a_group_missing_today_and_the_reference_group_missing() -> None:
    frame = with_gap()
    today = frame[frame["region"] != "north"]
    day = day_fairness(project(fairness={"reference_group": {"region": "north"}}), today, frame, labelled=True)
    assert day.notes == (
        "fairness of region: group(s) of the reference absent today: north",
        "fairness of region: group(s) below min_rows (30) reported, not ranked: island (12 rows)",
        "fairness of region: the reference group north is absent today; no disparate impact against it",
    )
    assert day.value("region", "demographic_parity_ratio") is not None
    assert day.value("region", "disparate_impact", "south") is None


def test_an_all_missing_sensitive_column_is_a_note_and_the_other_column_kept() -> None:
    frame = with_gap()
    today = frame.assign(region=np.nan)
    day = day_fairness(project(), today, frame, labelled=True)
    assert day.notes == ("fairness of region: no value today (every row's region is missing); nothing computed",)
    assert {v.column for v in day.values} == {"channel"}
    assert day.value("channel", "equalized_odds_difference") is not None


def test_rows_without_a_value_or_a_prediction_are_left_out_and_counted() -> None:
    frame = with_gap()
    today = frame.copy()
    today.loc[:9, "region"] = None
    today.loc[10:14, "score"] = np.nan
    day = day_fairness(project(), today, frame, labelled=True)
    assert day.notes[:2] == (
        "fairness: 5 rows without a prediction (score) left out",
        "fairness of region: 10 rows without a value left out",
    )
    kept = today.iloc[15:]
    assert day.value("region", "rows", "north") == (kept["region"] == "north").sum()


def test_a_label_prediction_gives_every_rate_from_the_labels() -> None:
    """A label prediction (no scores): rates from the labels; no note, nothing is missing but roc_auc's scores,
    which the config refuses (tests/config)."""
    frame = with_gap()
    day = day_fairness(project("label"), frame, frame, labelled=True)
    assert day.value("region", "selection_rate", "south") == (frame.loc[frame.region == "south", "approved"]).mean()
    assert day.value("region", "equalized_odds_difference") is not None
    assert day.notes == ("fairness of region: group(s) below min_rows (30) reported, not ranked: island (12 rows)",)


def test_scores_that_are_not_numbers_are_a_note() -> None:
    frame = with_gap()
    today = frame.assign(score=pd.Series(np.where(frame["score"] >= 0.5, "yes", "no"), dtype=object))
    day = day_fairness(project(), today, frame, labelled=True)
    assert day.values == ()
    assert day.notes == ("fairness: the prediction column 'score' holds no numbers today; nothing computed",)


def test_a_day_without_the_prediction_column_is_a_note() -> None:
    frame = with_gap()
    day = day_fairness(project(), frame.drop(columns="score"), frame, labelled=True)
    assert (day.values, day.notes) == ((), ("fairness: no prediction column 'score' today; nothing computed",))
