"""The empirical band (evmon.estimation.conformal) covers the realized value at its nominal level, out of sample.

Issue 29: NannyML's band (+- 3 sampling errors) covers the noise of a day's rows, not the estimator's own
error, and held the realized ROC AUC on half the days of a real data set. The empirical band learns its
width from the calibration set's cross-fitted days and, as labels arrive, from the project's last 30
labelled days. Checked on the demo's credit model (the runner's code: the track record read from the
source) and on a data set generated here, independently of the demo, with covariate shift: at a nominal
95%, the band must hold the realized value on >= 85% of out-of-sample days (measured: >= 90%).
"""

from __future__ import annotations

import math
import statistics
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from evmon.config.loader import load_config
from evmon.config.model import Project
from evmon.days import day_range, day_window_utc
from evmon.estimation import conformal
from evmon.estimation import daily as estimated
from evmon.estimation.base import Estimate
from evmon.estimation.cbpe import ClassificationEstimator
from evmon.estimation.dle import RegressionEstimator
from evmon.sources import read as sources
from tests.conftest import DEMO_END

FLOOR = 0.85  # the test fails below this share of days; the goal is 0.90 at a nominal 0.95


def test_the_conformal_quantile_is_the_rank_split_conformal_prescribes() -> None:
    scores = [float(i) for i in range(1, 20)]  # 19 scores: ceil(20 * 0.95) = 19th smallest
    assert conformal.quantile(scores, 0.95) == 19.0
    assert math.isnan(conformal.quantile(scores[:18], 0.95))  # 18: no finite 95% quantile
    assert conformal.quantile([*scores, math.nan], 0.95) == 19.0  # NaN scores do not count
    # the track record replaces the calibration's scores once it has MIN_UNITS days
    assert conformal.multiplier([100.0] * 50, [1.0] * 20, 0.95) == 1.0
    assert conformal.multiplier([100.0] * 50, [1.0] * 19, 0.95) == 100.0


def test_on_the_demo_the_empirical_band_holds_the_realized_value(demo_dir: Path, demo_episodes: Any) -> None:
    """Every day after the calibration window, estimated as the runner estimates it: with the day's track record."""
    config = load_config(demo_dir / "projects.yaml")
    credit: Project = config.project("credit_scorecard")
    reference = sources.read_reference(config, credit)
    estimator = estimated.fit(credit, estimated.calibration_data(config, credit, reference))
    assert estimator.level == 0.95 and len(estimator.band_scores["roc_auc"]) >= 100
    calibration = credit.presets.estimation.calibration  # type: ignore[union-attr]
    inside: dict[str, list[float]] = {}
    widths: dict[str, list[float]] = {}
    for day in day_range(calibration.end + timedelta(days=1), DEMO_END):
        if day in demo_episodes.concept_drift:  # no estimate from the inputs can see it: only the gap does
            continue
        rows = sources.read_window(config, credit, *day_window_utc(day, credit.timezone))
        record = estimated.day_record(config, credit, estimator, [day - timedelta(days=k) for k in range(1, 31)])
        result = estimated.estimate_day(credit, estimator, rows, labelled=True, record=record)
        for metric in estimated.METRICS["CBPE"]:
            for band, kind in (("empirical", "inside_empirical"), ("nannyml", "inside_band")):
                inside.setdefault(f"{metric} {band}", []).append(result.value(metric, kind))  # type: ignore[arg-type]
            low, high = result.value(metric, "empirical_lower"), result.value(metric, "empirical_upper")
            widths.setdefault(metric, []).append(high - low)  # type: ignore[operator]
    # measured (41 days: clean, feature shift and after the concept drift): ROC AUC 40/41 inside the empirical
    # band, median width 0.086 (NannyML's 0.094); every metric >= 90%
    assert len(inside["roc_auc empirical"]) == 41
    for metric in estimated.METRICS["CBPE"]:
        share = statistics.mean(inside[f"{metric} empirical"])
        assert share >= FLOOR, (metric, share)
        assert all(w > 0 for w in widths[metric])


def _classifier_days(rng: np.random.Generator, days: int, rows: int, shift_from: int | None) -> pd.DataFrame:
    """A loan model: default probability from two features; from `shift_from` on, the applicants change
    (income lower and spread wider: covariate shift, the relation to the label unchanged)."""
    frames = []
    for day in range(days):
        shifted = shift_from is not None and day >= shift_from
        n = int(rng.integers(rows // 2, rows * 3 // 2))
        income = rng.normal(-0.7 if shifted else 0.0, 1.4 if shifted else 1.0, n)
        age = rng.uniform(18, 70, n)
        logit = -0.8 - 1.1 * income - 0.02 * (age - 40)
        label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
        score = 1 / (1 + np.exp(-1.6 * logit))  # over-confident: CBPE calibrates it
        frames.append(pd.DataFrame({"day": day, "income": income, "age": age, "label": label, "score": score}))
    return pd.concat(frames, ignore_index=True)


def _regressor_days(rng: np.random.Generator, days: int, rows: int, shift_from: int | None) -> pd.DataFrame:
    """A delivery-time model whose error grows with distance and at night; shifted days are longer trips."""
    frames = []
    for day in range(days):
        shifted = shift_from is not None and day >= shift_from
        n = int(rng.integers(rows // 2, rows * 3 // 2))
        distance = rng.gamma(4.0 if shifted else 2.0, 2.0, n)
        night = rng.choice(["yes", "no"], n, p=[0.4, 0.6] if shifted else [0.2, 0.8])
        truth = 5 + 3 * distance + rng.normal(0, 1 + 0.3 * distance + np.where(night == "yes", 2.0, 0.0))
        prediction = 5 + 3 * distance
        frames.append(pd.DataFrame({"day": day, "distance": distance, "night": night, "y": truth, "p": prediction}))
    return pd.concat(frames, ignore_index=True)


def _coverage(estimates: list[dict[str, Estimate]], realized: list[dict[str, float]], metric: str) -> float:
    return statistics.mean(e[metric].inside_empirical(r[metric]) for e, r in zip(estimates, realized, strict=True))


def _sequential(days: pd.DataFrame, estimate: Any, realize: Any, sampling_error: Any) -> tuple[list, list]:
    """Each day estimated with the scores of the (up to) 30 days before it as its track record (labels lag 0)."""
    estimates, realized = [], []
    record: dict[str, list[float]] = {}
    for _, rows in days.groupby("day", sort=True):
        result, truth = estimate(rows, record), realize(rows)
        estimates.append(result)
        realized.append(truth)
        for metric, e in result.items():
            record.setdefault(metric, []).append(
                conformal.score(e.value, sampling_error(metric, len(rows)), truth[metric])
            )
    return estimates, realized


@pytest.mark.parametrize("seed", [7, 8])
def test_under_covariate_shift_the_empirical_band_holds_the_realized_value(seed: int) -> None:
    """A second data set, generated here: 20 calibration days, then 60 days, the last 40 shifted."""
    rng = np.random.default_rng(seed)
    calibration, days = _classifier_days(rng, 20, 500, None), _classifier_days(rng, 60, 800, 20)
    cbpe = ClassificationEstimator.fit(calibration["label"], calibration["score"], days=calibration["day"])
    estimates, realized = _sequential(
        days,
        lambda rows, record: cbpe.estimate(rows["score"], record),
        lambda rows: cbpe.realized(rows["label"], rows["score"]),
        cbpe.sampling_error,
    )
    for metric in ("roc_auc", "accuracy", "f1"):
        assert _coverage(estimates, realized, metric) >= FLOOR, metric

    calibration, days = _regressor_days(rng, 20, 500, None), _regressor_days(rng, 60, 800, 20)
    dle = RegressionEstimator.fit(
        calibration,
        calibration["y"],
        calibration["p"],
        numerical=["distance"],
        categorical=["night"],
        days=calibration["day"],
    )
    estimates, realized = _sequential(
        days,
        lambda rows, record: dle.estimate(rows, rows["p"], record),
        lambda rows: dle.realized(rows["y"], rows["p"]),
        dle.sampling_error,
    )
    for metric in ("mae", "rmse"):
        assert _coverage(estimates, realized, metric) >= FLOOR, metric


def test_a_calibration_set_without_days_is_cut_into_resampled_chunks() -> None:
    rng = np.random.default_rng(3)
    calibration = _classifier_days(rng, 1, 4000, None)
    cbpe = ClassificationEstimator.fit(calibration["label"], calibration["score"])
    # FOLDS folds x CHUNKS_PER_FOLD chunks, each scored (ROC AUC is defined on every chunk)
    assert len(cbpe.band_scores["roc_auc"]) == conformal.FOLDS * conformal.CHUNKS_PER_FOLD
    estimate = cbpe.estimate(calibration["score"].iloc[:800])["roc_auc"]
    assert estimate.empirical_lower < estimate.value < estimate.empirical_upper
    assert estimate.multiplier == pytest.approx(conformal.quantile(cbpe.band_scores["roc_auc"], 0.95))
    without = ClassificationEstimator.fit(calibration["label"], calibration["score"], empirical=False)
    assert math.isnan(without.estimate(calibration["score"].iloc[:800])["roc_auc"].empirical_lower)


def test_the_band_level_is_a_setting(demo_dir: Path, tmp_path: Path) -> None:
    text = (demo_dir / "projects.yaml").read_text()
    assert "calibration: {start: 2026-02-01, end: 2026-02-14}" in text
    (tmp_path / "projects.yaml").write_text(
        text.replace(
            "calibration: {start: 2026-02-01, end: 2026-02-14}",
            "calibration: {start: 2026-02-01, end: 2026-02-14}\n        band_level: 0.8",
        ).replace("demo_data", str(demo_dir / "demo_data"))
    )
    config = load_config(tmp_path / "projects.yaml")
    credit = config.project("credit_scorecard")
    estimator = estimated.fit(credit, estimated.calibration_data(config, credit, pd.DataFrame()))
    assert estimator.level == 0.8
    narrow, wide = estimator.multiplier("roc_auc"), conformal.quantile(estimator.band_scores["roc_auc"], 0.95)
    assert narrow < wide
