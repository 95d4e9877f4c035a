"""CBPE: a binary classifier's quality estimated from its probability scores alone (NannyML's method).

Fit on a calibration set with labels: decide whether isotonic calibration makes the scores better
probabilities (NannyML's test: expected calibration error before and after, on ten stratified 90/10
splits), fit it if so, and keep each metric's sampling-error components. For a day, each row's
calibrated probability p is the chance that the row is a positive, so the expected confusion matrix
at the threshold is TP = sum of p and FP = sum of 1 - p over the predicted positives, FN = sum of p
and TN = sum of 1 - p over the predicted negatives; accuracy, precision, recall and F1 follow from it,
and ROC AUC is the area under the curve these expected counts trace as the threshold sweeps the raw
scores. The realized metrics are the same functions with each row's label in place of p, so a
realized value is exactly sklearn's and an estimate is comparable with it.

Blind spot (CBPE's, not this code's): the estimate trusts the calibration, so it follows a change in
what the model sees (covariate shift) but not a change in what a score means (concept drift).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any, Literal

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedShuffleSplit

from evmon.errors import EstimationError
from evmon.estimation import conformal
from evmon.estimation.base import Estimate, band, enough_rows, labels, probabilities, same_length

CLASSIFICATION_METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1")
MIN_CLASS_ROWS = 10  # per class in the calibration set: fewer make calibration and the ROC AUC band noise

Calibration = Literal["auto", "always", "never"]


@dataclass(frozen=True)
class ClassificationEstimator:
    """A fitted CBPE estimator for one binary classifier; immutable and picklable."""

    threshold: float  # a row is predicted positive when its score >= threshold
    calibrated: bool  # whether scores go through the isotonic calibrator before estimating
    reference_rows: int
    reference: dict[str, float]  # the realized metrics on the calibration set
    _calibrator: IsotonicRegression | None = field(repr=False)
    _components: dict[str, tuple[float, float]] = field(repr=False)  # metric -> (std, fraction)
    level: float = conformal.BAND_LEVEL  # the empirical band's nominal coverage
    # metric -> the calibration set's cross-fitted scores (evmon.estimation.conformal); empty: no empirical band
    band_scores: dict[str, tuple[float, ...]] = field(default_factory=dict, repr=False)

    @classmethod
    def fit(
        cls,
        y_true: Any,
        y_score: Any,
        threshold: float = 0.5,
        *,
        calibration: Calibration = "auto",
        days: Any = None,
        level: float = conformal.BAND_LEVEL,
        empirical: bool = True,
    ) -> ClassificationEstimator:
        """Fit on a calibration set: labels (0/1) and the model's probability scores for the same rows.

        calibration: "auto" calibrates when NannyML's test says it helps, "always"/"never" force it.
        days: each row's day (or None), the units the empirical band's scores are cross-fitted on;
        empirical=False skips those scores (no empirical band).
        """
        y = labels("y_true", y_true)
        score = probabilities("y_score", y_score)
        rows = same_length(y_true=y, y_score=score)
        if not 0.0 <= threshold <= 1.0:
            raise EstimationError(f"threshold must be in [0, 1]; got {threshold:g}")
        if calibration not in ("auto", "always", "never"):
            raise EstimationError(f"calibration must be 'auto', 'always' or 'never'; got {calibration!r}")
        enough_rows(rows)
        positives = int(y.sum())
        if min(positives, rows - positives) < MIN_CLASS_ROWS:
            raise EstimationError(
                f"the calibration set has {positives} positive and {rows - positives} negative rows; "
                f"CBPE needs at least {MIN_CLASS_ROWS} of each class"
            )
        use = calibration == "always" or (calibration == "auto" and needs_calibration(y, score))
        calibrator = IsotonicRegression(out_of_bounds="clip", increasing=True).fit(score, y) if use else None
        fitted = cls(
            threshold=float(threshold),
            calibrated=use,
            reference_rows=rows,
            reference=_metrics(score, y.astype(float), threshold),
            _calibrator=calibrator,
            _components=_sampling_error_components(y, score, threshold),
            level=level,
        )
        if not empirical:
            return fitted
        forced: Calibration = "always" if use else "never"

        def fit_on(train: np.ndarray) -> conformal.Scorer:
            part = cls.fit(y[train], score[train], threshold, calibration=forced, empirical=False)

            p = part._calibrated(score)  # every row's calibrated probability, once per fold

            def scorer(unit: np.ndarray) -> dict[str, tuple[float, float, float]]:
                estimates = _metrics(score[unit], p[unit], threshold)
                realized = _metrics(score[unit], y[unit].astype(float), threshold)
                n = len(unit)
                return {m: (estimates[m], part.sampling_error(m, n), realized[m]) for m in CLASSIFICATION_METRICS}

            return scorer

        day_of_row = None if days is None else np.asarray(days)
        return replace(fitted, band_scores=conformal.cross_fitted_scores(rows, day_of_row, fit_on))

    def calibrate(self, y_score: Any) -> np.ndarray:
        """The probability that each row is a positive, as the calibration set taught."""
        return self._calibrated(probabilities("y_score", y_score))

    def estimate(self, y_score: Any, record: Mapping[str, Sequence[float]] | None = None) -> dict[str, Estimate]:
        """Each metric of CLASSIFICATION_METRICS estimated for one day's scores, with both bands; `record`: each
        metric's scores on the last labelled days (evmon.estimation.conformal), oldest first."""
        score = probabilities("y_score", y_score)
        rows = same_length(y_score=score)
        values = _metrics(score, self._calibrated(score), self.threshold)
        return {
            name: band(name, values[name], self.sampling_error(name, rows), 0.0, 1.0, self.multiplier(name, record))
            for name in CLASSIFICATION_METRICS
        }

    def multiplier(self, metric: str, record: Mapping[str, Sequence[float]] | None = None) -> float:
        """The empirical band's half-width in sampling errors (NaN: no empirical band)."""
        calibration = self.band_scores.get(metric, ())
        recent = (record or {}).get(metric, ())
        return conformal.multiplier(calibration, recent, self.level) if calibration or recent else float("nan")

    def realized(self, y_true: Any, y_score: Any) -> dict[str, float]:
        """Each metric computed from labels (NaN where undefined, e.g. ROC AUC of a one-class day)."""
        y = labels("y_true", y_true)
        score = probabilities("y_score", y_score)
        same_length(y_true=y, y_score=score)
        return _metrics(score, y.astype(float), self.threshold)

    def _calibrated(self, score: np.ndarray) -> np.ndarray:
        return score if self._calibrator is None else np.asarray(self._calibrator.predict(score), dtype=float)

    def sampling_error(self, metric: str, rows: int) -> float:
        """The sampling error of a metric for a day of `rows` rows: std / sqrt(rows * fraction)."""
        std, fraction = self._components[metric]
        relevant = rows * fraction
        return float(std / np.sqrt(relevant)) if relevant > 0 else float("nan")


def _metrics(score: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """The metrics from the expected confusion matrix; p is a probability or a label per row."""
    predicted = score >= threshold
    tp = float(p[predicted].sum())
    fp = float(predicted.sum()) - tp
    fn = float(p[~predicted].sum())
    tn = float((~predicted).sum()) - fn
    return {
        "roc_auc": roc_auc(score, p),
        "accuracy": (tp + tn) / len(p),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
    }


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("nan")


def roc_auc(score: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC with each row a positive of weight p and a negative of weight 1 - p (sklearn's for labels).

    Tied scores form one threshold, as in sklearn's roc_curve (NannyML's estimator steps through ties
    one row at a time; for distinct scores the two agree).
    """
    order = np.argsort(-score, kind="mergesort")
    ordered = score[order]
    weight = p[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(ordered)), len(ordered) - 1]
    tps = np.r_[0.0, np.cumsum(weight)[last_of_tie]]
    fps = np.r_[0.0, np.cumsum(1.0 - weight)[last_of_tie]]
    if tps[-1] <= 0.0 or fps[-1] <= 0.0:
        return float("nan")
    return float(np.trapezoid(tps / tps[-1], fps / fps[-1]))


def _sampling_error_components(y: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, tuple[float, float]]:
    """NannyML's per-metric (std, fraction) from the calibration set (nannyml/sampling_error/binary_classification.py).

    std is the spread of a per-row contribution to the metric and fraction the share of rows that
    contribute, so a day of n rows has sampling error std / sqrt(n * fraction).
    """
    predicted = (score >= threshold).astype(int)
    tp = int(((y == 1) & (predicted == 1)).sum())
    fp = int(((y == 0) & (predicted == 1)).sum())
    fn = int(((y == 1) & (predicted == 0)).sum())
    rows = len(y)
    components: dict[str, tuple[float, float]] = {
        "roc_auc": _roc_auc_components(y, score),
        "accuracy": (float(np.std(y == predicted)), 1.0),
        "precision": (_std(y[predicted == 1]), (tp + fp) / rows),
        "recall": (_std(predicted[y == 1]), (tp + fn) / rows),
    }
    relevant = tp + fp + fn
    if relevant == 0:
        components["f1"] = (float("nan"), 0.0)
    else:
        # per-row F1 contribution: a TP counts 1, a FP or FN 0, scaled so its mean is the F1 score
        scale = relevant / (tp + 0.5 * (fp + fn))
        components["f1"] = (float(np.std(np.r_[np.full(tp, scale), np.zeros(fp + fn)])), relevant / rows)
    return components


def _std(values: np.ndarray) -> float:
    return float(np.std(values)) if values.size else float("nan")


def _roc_auc_components(y: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """ROC AUC as a Mann-Whitney statistic: the std over the minority class of the share of the other class below."""
    if y.mean() > 0.5:
        y, score = 1 - y, -score
    ordered = y[np.argsort(score, kind="mergesort")]
    negatives = len(y) - int(y.sum())
    below = np.cumsum(1 - ordered)[ordered == 1] / negatives
    return float(np.std(below)), float(y.mean())


def needs_calibration(y: np.ndarray, score: np.ndarray, bins: int = 10, splits: int = 10) -> bool:
    """NannyML's test (nannyml/calibration.py): does isotonic calibration lower the expected calibration error?

    On `splits` stratified 90/10 splits (seed 42, as NannyML) fit on 90% and calibrate the 10%; compare
    the ECE of the pooled held-out scores before and after. Near-perfect ranking (ROC AUC > 0.999)
    needs none.
    """
    if roc_auc_score(y, score) > 0.999:
        return False
    truth, raw, calibrated = [], [], []
    for train, test in StratifiedShuffleSplit(n_splits=splits, test_size=0.1, random_state=42).split(score, y):
        calibrator = IsotonicRegression(out_of_bounds="clip", increasing=True).fit(score[train], y[train])
        truth.append(y[test])
        raw.append(score[test])
        calibrated.append(calibrator.predict(score[test]))
    y_test = np.concatenate(truth)
    before = _expected_calibration_error(y_test, np.concatenate(raw), bins)
    after = _expected_calibration_error(y_test, np.concatenate(calibrated), bins)
    return bool(before > after)


def _expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int) -> float:
    """Mean |mean p - share of positives| over equal-count bins of the sorted p (the last bin takes the rest)."""
    order = np.argsort(p)  # NannyML's default sort, so ties split across bins as in NannyML
    p, y = p[order], y[order]
    edges = list(range(0, len(p) + 1, len(p) // bins))  # NannyML's _get_bin_index_edges
    edges[-1] = len(p)
    terms = [(right - left) * abs(p[left:right].mean() - y[left:right].mean()) for left, right in pairwise(edges)]
    return float(sum(terms) / len(p))
