"""CBPE and DLE (evmon.estimation.cbpe, evmon.estimation.dle) on synthetic data whose truth is known.

The classifier's scores are the true default probabilities of a logistic model (or a sharpened,
over-confident version of them), so CBPE's premise holds until a test breaks it on purpose; the
regressor's error grows with a feature and in one category, so DLE has something to learn. Each test
checks what a user would: the estimate lands near the realized value, the band holds it, a shift of
the inputs moves both, a change of the concept moves only the realized value, bad input is named.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from evmon.errors import EstimationError, EvmonError
from evmon.estimation.cbpe import CLASSIFICATION_METRICS, ClassificationEstimator
from evmon.estimation.dle import RegressionEstimator

FEATURES = ["income", "debt_ratio", "region"]


def credit(
    rng: np.random.Generator, rows: int, *, income: tuple[float, float] = (0.0, 1.0), sharpness: float = 1.0
) -> pd.DataFrame:
    """Labels drawn from the true default probability; the score is that probability (sharpened: over-confident)."""
    frame = pd.DataFrame({"income": rng.normal(*income, rows), "debt_ratio": rng.normal(0.0, 1.0, rows)})
    logit = -1.0 - 1.4 * frame["income"] + 0.9 * frame["debt_ratio"]
    frame["y_true"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    frame["y_score"] = 1 / (1 + np.exp(-sharpness * logit))
    return frame


def prices(rng: np.random.Generator, rows: int, *, low: float = 0.0, concept: float = 0.0) -> pd.DataFrame:
    """A regressor that predicts the true mean; its error grows with income and in region 'c'."""
    income = rng.uniform(low, 10.0, rows)
    region = rng.choice(["a", "b", "c"], rows, p=[0.5, 0.3, 0.2])
    mean = 3.0 * income + np.where(region == "b", 2.0, 0.0)
    spread = 0.5 + 0.3 * income + np.where(region == "c", 1.0, 0.0)
    y_true = mean + rng.normal(0.0, spread) + concept * (income > 5.0)
    return pd.DataFrame(
        {"income": income, "debt_ratio": rng.normal(0, 1, rows), "region": region, "y_true": y_true, "y_pred": mean}
    )


@pytest.fixture(scope="module")
def cbpe() -> ClassificationEstimator:
    reference = credit(np.random.default_rng(1), 5000)
    return ClassificationEstimator.fit(reference["y_true"], reference["y_score"], threshold=0.5)


@pytest.fixture(scope="module")
def dle() -> RegressionEstimator:
    reference = prices(np.random.default_rng(2), 3000)
    return RegressionEstimator.fit(
        reference[FEATURES], reference["y_true"], reference["y_pred"], numerical=FEATURES[:2], categorical=["region"]
    )


def days(estimator: ClassificationEstimator, frames: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per (day, metric): estimate, band, realized."""
    rows = []
    for frame in frames:
        realized = estimator.realized(frame["y_true"], frame["y_score"])
        for metric, e in estimator.estimate(frame["y_score"]).items():
            inside = e.contains(realized[metric])
            rows.append(
                {
                    "metric": metric,
                    "value": e.value,
                    "se": e.sampling_error,
                    "inside": inside,
                    "realized": realized[metric],
                }
            )
    return pd.DataFrame(rows)


def test_cbpe_estimate_matches_realized_on_iid_days_and_the_band_holds_it(cbpe: ClassificationEstimator) -> None:
    rng = np.random.default_rng(10)
    table = days(cbpe, [credit(rng, 800) for _ in range(60)])
    # 99.3% of the 300 metric-days here (ROC AUC 96.7%): a band of 3 sampling errors, but the estimate has
    # its own error too, and NannyML's ROC AUC sampling error counts only the positives' share of the variance
    assert table["inside"].mean() >= 0.95
    for metric, group in table.groupby("metric"):
        miss = group["value"] - group["realized"]
        assert abs(miss.mean()) < 0.01, metric  # no bias
        # the day-to-day spread of the realized value around the estimate is what the sampling error says
        # (here 0.62 for F1, whose NannyML formula is cautious, to 1.25 for ROC AUC)
        assert 0.5 < miss.std() / group["se"].mean() < 1.5, (metric, miss.std(), group["se"].mean())


def test_realized_metrics_are_sklearns_including_tied_scores(cbpe: ClassificationEstimator) -> None:
    frame = credit(np.random.default_rng(11), 700)
    score = frame["y_score"].round(2)  # many ties
    y_pred = (score >= 0.5).astype(int)
    realized = cbpe.realized(frame["y_true"], score)
    assert realized["roc_auc"] == pytest.approx(roc_auc_score(frame["y_true"], score), abs=1e-12)
    assert realized["accuracy"] == pytest.approx(accuracy_score(frame["y_true"], y_pred), abs=1e-12)
    assert realized["precision"] == pytest.approx(precision_score(frame["y_true"], y_pred), abs=1e-12)
    assert realized["recall"] == pytest.approx(recall_score(frame["y_true"], y_pred), abs=1e-12)
    assert realized["f1"] == pytest.approx(f1_score(frame["y_true"], y_pred), abs=1e-12)
    one_class = cbpe.realized(np.zeros(10), score[:10])
    assert np.isnan(one_class["roc_auc"]) and np.isnan(one_class["recall"])


def test_cbpe_follows_covariate_shift(cbpe: ClassificationEstimator) -> None:
    """Borrowers with higher, less varied incomes: fewer defaults, harder to rank; the estimate sees it."""
    rng = np.random.default_rng(12)
    table = days(cbpe, [credit(rng, 800, income=(0.8, 0.6)) for _ in range(10)])
    means = table.groupby("metric")[["value", "realized"]].mean()
    # the shift does hurt, and the estimate sees it: ROC AUC 0.83 -> 0.79, recall 0.57 -> 0.18 here
    assert cbpe.reference["roc_auc"] - means.loc["roc_auc", "realized"] > 0.03
    assert cbpe.reference["roc_auc"] - means.loc["roc_auc", "value"] > 0.03
    assert cbpe.reference["recall"] - means.loc["recall", "value"] > 0.3
    for metric in CLASSIFICATION_METRICS:
        # precision, recall, F1 rest on the few rows now predicted positive: wider tolerance
        tolerance = 0.02 if metric in ("roc_auc", "accuracy") else 0.06
        assert means.loc[metric, "value"] == pytest.approx(means.loc[metric, "realized"], abs=tolerance), metric
    assert table["inside"].mean() >= 0.85  # 94% of the 50 metric-days here


def test_cbpe_misses_concept_drift(cbpe: ClassificationEstimator) -> None:
    """Labels flipped for low incomes: the scores no longer mean what they did; CBPE cannot know."""
    rng = np.random.default_rng(13)
    iid, drifted = credit(rng, 2000), credit(rng, 2000)
    slice_ = drifted["income"] < -0.3
    drifted.loc[slice_, "y_true"] = 1 - drifted.loc[slice_, "y_true"]
    before, after = cbpe.estimate(iid["y_score"]), cbpe.estimate(drifted["y_score"])
    realized = cbpe.realized(drifted["y_true"], drifted["y_score"])
    assert after["roc_auc"].value == pytest.approx(before["roc_auc"].value, abs=0.02)
    assert after["roc_auc"].value - realized["roc_auc"] > 0.15  # 0.83 estimated, 0.65 realized
    assert realized["roc_auc"] < after["roc_auc"].lower and realized["accuracy"] < after["accuracy"].lower


def test_overconfident_scores_are_calibrated_first() -> None:
    rng = np.random.default_rng(14)
    reference = credit(rng, 5000, sharpness=2.5)
    auto = ClassificationEstimator.fit(reference["y_true"], reference["y_score"])
    raw = ClassificationEstimator.fit(reference["y_true"], reference["y_score"], calibration="never")
    assert auto.calibrated and not raw.calibrated
    day = credit(rng, 3000, sharpness=2.5)
    realized = auto.realized(day["y_true"], day["y_score"])
    calibrated, uncalibrated = auto.estimate(day["y_score"]), raw.estimate(day["y_score"])
    for metric in ("accuracy", "roc_auc"):
        assert calibrated[metric].value == pytest.approx(realized[metric], abs=0.02), metric
        assert uncalibrated[metric].value - realized[metric] > 0.05, metric  # raw over-confidence flatters the model


def test_auto_calibration_skips_a_perfect_ranking() -> None:
    score = np.linspace(0.0, 1.0, 200)
    assert not ClassificationEstimator.fit(score >= 0.5, score).calibrated


def test_band_scales_with_one_over_sqrt_rows_and_stays_in_range(cbpe: ClassificationEstimator) -> None:
    for metric in CLASSIFICATION_METRICS:
        assert cbpe.sampling_error(metric, 400) == pytest.approx(2 * cbpe.sampling_error(metric, 1600))
    tiny = cbpe.estimate([0.01, 0.02, 0.03, 0.97, 0.99])
    assert all(0.0 <= e.lower <= e.value <= e.upper <= 1.0 for e in tiny.values())
    assert tiny["accuracy"].lower == 0.0 or tiny["accuracy"].upper == 1.0  # 5 rows: the band hits the range


def test_an_undefined_metric_is_nan_with_no_band() -> None:
    """Threshold 1: nothing is predicted positive, so precision (and its band) is undefined, not 0."""
    reference = credit(np.random.default_rng(15), 1000)
    never = ClassificationEstimator.fit(reference["y_true"], reference["y_score"], threshold=1.0)
    precision = never.estimate(reference["y_score"][:100])["precision"]
    assert np.isnan([precision.value, precision.lower, precision.upper, precision.sampling_error]).all()
    assert not precision.contains(0.5)
    assert never.estimate(reference["y_score"][:100])["recall"].value == 0.0


def test_dle_estimate_matches_realized_on_iid_days(dle: RegressionEstimator) -> None:
    rng = np.random.default_rng(20)
    inside, relative = [], []
    for _ in range(20):
        day = prices(rng, 800)
        estimates, realized = dle.estimate(day[FEATURES], day["y_pred"]), dle.realized(day["y_true"], day["y_pred"])
        for metric, e in estimates.items():
            inside.append(e.contains(realized[metric]))
            relative.append(e.value / realized[metric] - 1)
    assert np.mean(inside) >= 0.9  # 100% of the 40 metric-days here
    # the estimate inherits the calibration set's own sampling error (3,000 rows: about 3% here)
    assert abs(np.mean(relative)) < 0.05 and np.median(np.abs(relative)) < 0.06


def test_dle_follows_covariate_shift_and_misses_concept_drift(dle: RegressionEstimator) -> None:
    rng = np.random.default_rng(21)
    iid, shifted, drifted = prices(rng, 3000), prices(rng, 3000, low=6.0), prices(rng, 3000, concept=4.0)
    base = dle.estimate(iid[FEATURES], iid["y_pred"])["mae"].value
    # shift towards high incomes, where the model errs more: both the realized and the estimated MAE rise
    realized = dle.realized(shifted["y_true"], shifted["y_pred"])["mae"]
    estimated = dle.estimate(shifted[FEATURES], shifted["y_pred"])["mae"].value
    assert realized > 1.2 * dle.reference["mae"]
    assert estimated == pytest.approx(realized, rel=0.08)
    # the target moved for half the rows: the realized MAE jumps, the estimate cannot see it
    realized = dle.realized(drifted["y_true"], drifted["y_pred"])["mae"]
    estimate = dle.estimate(drifted[FEATURES], drifted["y_pred"])["mae"]
    assert estimate.value == pytest.approx(base, rel=0.05)
    assert realized > 1.3 * estimate.value and realized > estimate.upper


def test_dle_takes_unseen_categories_and_missing_features(dle: RegressionEstimator) -> None:
    day = prices(np.random.default_rng(22), 500)
    odd = day.assign(region=np.where(day["region"] == "a", "never seen", day["region"]))
    odd.loc[:50, "income"] = np.nan
    odd.loc[60:80, "region"] = None
    estimates = dle.estimate(odd[FEATURES], odd["y_pred"])
    assert all(np.isfinite(e.value) and e.value > 0 for e in estimates.values())


def test_fitted_estimators_survive_pickling(cbpe: ClassificationEstimator, dle: RegressionEstimator) -> None:
    frame = credit(np.random.default_rng(30), 300)
    assert pickle.loads(pickle.dumps(cbpe)).estimate(frame["y_score"]) == cbpe.estimate(frame["y_score"])
    day = prices(np.random.default_rng(31), 300)
    copy = pickle.loads(pickle.dumps(dle))
    assert copy.estimate(day[FEATURES], day["y_pred"]) == dle.estimate(day[FEATURES], day["y_pred"])


GOOD = credit(np.random.default_rng(40), 500)


@pytest.mark.parametrize(
    ("y_true", "y_score", "kwargs", "message"),
    [
        (GOOD["y_true"], GOOD["y_score"] * 1.2 - 0.1, {}, "y_score must be probabilities of the positive class in [0, 1]; found values from -0.09"),  # noqa: E501
        (np.zeros(500), GOOD["y_score"], {}, "the calibration set has 0 positive and 500 negative rows; CBPE needs at least 10 of each class"),  # noqa: E501
        (GOOD["y_true"][:50], GOOD["y_score"][:50], {}, "the calibration set has 50 rows; at least 100 labelled rows are needed"),  # noqa: E501
        (GOOD["y_true"] * 2, GOOD["y_score"], {}, "y_true must hold the labels 0 and 1 (1 = the positive class); found 2"),  # noqa: E501
        (GOOD["y_true"], GOOD["y_score"].where(GOOD.index != 3), {}, "y_score has 1 missing or infinite values of 500; drop those rows first"),  # noqa: E501
        (GOOD["y_true"], GOOD["y_score"][:-1], {}, "the inputs must have one row each: got y_true 500, y_score 499 rows"),  # noqa: E501
        (GOOD["y_true"], GOOD["y_score"], {"threshold": 1.5}, "threshold must be in [0, 1]; got 1.5"),
        (GOOD["y_true"], GOOD["y_score"], {"calibration": "sometimes"}, "calibration must be 'auto', 'always' or 'never'; got 'sometimes'"),  # noqa: E501
    ],
)  # fmt: skip
def test_cbpe_fit_names_bad_input(y_true: object, y_score: object, kwargs: dict, message: str) -> None:
    with pytest.raises(EstimationError) as raised:
        ClassificationEstimator.fit(y_true, y_score, **kwargs)
    assert str(raised.value).startswith(message)
    assert isinstance(raised.value, EvmonError)


def test_cbpe_estimate_names_bad_input(cbpe: ClassificationEstimator) -> None:
    with pytest.raises(EstimationError, match=r"^no rows to estimate on: y_score are empty$"):
        cbpe.estimate([])
    with pytest.raises(EstimationError, match=r"found values from 0 to 7$"):
        cbpe.estimate([0.0, 7.0])
    with pytest.raises(EstimationError, match=r"^y_score must be numbers; "):
        cbpe.estimate(["high", "low"])


def test_dle_names_bad_input(dle: RegressionEstimator) -> None:
    reference = prices(np.random.default_rng(41), 300)
    fit = RegressionEstimator.fit
    with pytest.raises(EstimationError, match=r"^features lacks the column\(s\) segment; it has income, "):
        fit(reference[FEATURES], reference["y_true"], reference["y_pred"], categorical=["segment"])
    with pytest.raises(EstimationError, match=r"^column\(s\) region are listed as both numerical and categorical$"):
        fit(reference[FEATURES], reference["y_true"], reference["y_pred"], numerical=FEATURES, categorical=["region"])
    with pytest.raises(EstimationError, match=r"^numerical feature region has values that are not numbers$"):
        fit(reference[FEATURES], reference["y_true"], reference["y_pred"], numerical=["region"])
    with pytest.raises(EstimationError, match=r"^the calibration set has 99 rows; at least 100 labelled rows"):
        fit(reference[FEATURES][:99], reference["y_true"][:99], reference["y_pred"][:99], numerical=["income"])
    with pytest.raises(EstimationError, match=r"^features must be a pandas DataFrame; got ndarray$"):
        dle.estimate(reference[FEATURES].to_numpy(), reference["y_pred"])
    with pytest.raises(EstimationError, match=r"^y_pred has 1 missing or infinite values of 300; drop those rows"):
        dle.estimate(reference[FEATURES], reference["y_pred"].where(reference.index != 5, np.inf))
