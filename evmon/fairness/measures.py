"""The fairness formulas, in numpy: per group rates and quality, and the gaps between groups.

They are Fairlearn's definitions (fairlearn.metrics: selection_rate, true/false positive rate,
demographic_parity_difference/ratio, equalized_odds_difference with agg="worst_case", MetricFrame's
difference and ratio "between_groups"), written out here rather than imported: each is a line of
numpy, and Fairlearn would add a runtime dependency (and its own pins of scikit-learn and pandas)
to every evmon install for them. tests/fairness compares every value with Fairlearn's on the same
rows. One deliberate difference: a rate whose denominator is zero (the TPR of a group without
positives, the precision of a group with no predicted positive) is NaN here, where scikit-learn
returns 0 with a warning; the gaps, like MetricFrame's, skip NaN groups.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def selection_rate(decisions: Bools) -> float:
    """The share of rows predicted positive."""
    return float(decisions.mean()) if decisions.size else math.nan


def confusion(truth: Bools, decisions: Bools) -> tuple[int, int, int, int]:
    """(tp, fp, tn, fn)."""
    tp = int((truth & decisions).sum())
    fp = int((~truth & decisions).sum())
    tn = int((~truth & ~decisions).sum())
    fn = int((truth & ~decisions).sum())
    return tp, fp, tn, fn


def classifier_rates(truth: Bools, decisions: Bools, scores: Floats | None, metric: str) -> dict[str, float]:
    """TPR, FPR, precision and the quality metric `metric` (CLASSIFIER_METRICS) of labelled rows."""
    tp, fp, tn, fn = confusion(truth, decisions)
    quality = {
        "accuracy": _ratio(tp + tn, tp + fp + tn + fn),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
    }
    if metric == "roc_auc":
        quality["roc_auc"] = roc_auc(truth, scores) if scores is not None else math.nan
    rates = {"tpr": quality["recall"], "fpr": _ratio(fp, fp + tn), "precision": quality["precision"]}
    return rates | {metric: quality[metric]}


def roc_auc(truth: Bools, scores: Floats) -> float:
    """The area under the ROC curve: the Mann-Whitney U of the scores (ties count half); NaN with one class."""
    positives = int(truth.sum())
    negatives = truth.size - positives
    if positives == 0 or negatives == 0:
        return math.nan
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.size, dtype=float)
    ranks[order] = np.arange(1, scores.size + 1)
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    ranks = (sums / counts)[inverse]  # tied scores share their mean rank
    u = ranks[truth].sum() - positives * (positives + 1) / 2
    return float(u / (positives * negatives))


def regressor_quality(truth: Floats, predicted: Floats, metric: str) -> float:
    """MAE or RMSE."""
    if truth.size == 0:
        return math.nan
    errors = truth - predicted
    if metric == "rmse":
        return float(np.sqrt(np.mean(errors**2)))
    return float(np.mean(np.abs(errors)))


def gap(values: list[float]) -> float:
    """Largest minus smallest, NaN values skipped (MetricFrame.difference(method="between_groups"))."""
    known = [v for v in values if not math.isnan(v)]
    return max(known) - min(known) if known else math.nan


def ratio(values: list[float]) -> float:
    """Smallest over largest, NaN values skipped (MetricFrame.ratio(method="between_groups")); NaN if all are 0."""
    known = [v for v in values if not math.isnan(v)]
    return _ratio(min(known), max(known)) if known else math.nan


def equalized_odds_difference(tprs: list[float], fprs: list[float]) -> float:
    """The larger of the TPR gap and the FPR gap (Fairlearn's agg="worst_case")."""
    gaps = [g for g in (gap(tprs), gap(fprs)) if not math.isnan(g)]
    return max(gaps) if gaps else math.nan
