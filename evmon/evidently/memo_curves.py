"""Classification curves and matrices of Evidently 0.7.23 kept by the hash of their data, across days.

A day's ClassificationPreset computes, for the current rows and again for the reference's (a month
of rows, the same every day), the confusion matrix (twice: with the preset's threshold and with
the default one, for the metrics' extra widgets), the classification report of each class
(scikit-learn's ``classification_report``), the ROC and PR curves (``roc_curve``,
``precision_recall_curve``: a sort of every row) and each class's ROC AUC (``roc_auc_score``, as
ClassificationQualityByClass calls it: by its module's name, so it is wrapped there, within
evmon's Reports only). Measured on a warm 10,000-row day, after the
other wrappers: about a fifth of it, mostly on the reference.

Within `evmon.evidently.memo.memoized()` these pure functions are looked up first in memo_data's
per-process results cache, keyed by a hash of exactly the data they read (the target, the
predicted labels or probabilities, with index and dtypes) and their other arguments; each caller
gets its own deep copy (Evidently's renderers rename a matrix's labels in place). Outside it
Evidently runs as shipped. Installed by `evmon.evidently.memo.install()`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from evmon.evidently.memo_data import kept
from evmon.evidently.memo_keys import active, data_hash, values_key

ORIGINALS: dict[str, Callable[..., Any]] = {}
_PACKAGE = "evidently.legacy.metrics.classification_performance"


def install() -> None:
    """Wrap the matrix, the report and the two curves (called once, under memo's install lock)."""
    matrix = importlib.import_module(f"{_PACKAGE}.confusion_matrix_metric")
    objects = importlib.import_module(f"{_PACKAGE}.objects")
    roc = importlib.import_module(f"{_PACKAGE}.roc_curve_metric")
    pr_curve = importlib.import_module(f"{_PACKAGE}.pr_curve_metric")
    ORIGINALS["matrix"] = matrix.calculate_matrix
    setattr(matrix, "calculate_matrix", _matrix)  # noqa: B010  (a module's name, at runtime)
    ORIGINALS["report"] = objects.ClassificationReport.create
    objects.ClassificationReport.create = classmethod(_report)
    ORIGINALS["roc_curve"] = roc.ClassificationRocCurve.calculate_metrics
    roc.ClassificationRocCurve.calculate_metrics = _roc_curve
    ORIGINALS["pr_curve"] = pr_curve.ClassificationPRCurve.calculate_metrics
    pr_curve.ClassificationPRCurve.calculate_metrics = _pr_curve
    sklearn_metrics = importlib.import_module("sklearn.metrics")
    ORIGINALS["roc_auc"] = sklearn_metrics.roc_auc_score
    setattr(sklearn_metrics, "roc_auc_score", _roc_auc)  # noqa: B010  (a module's name, at runtime)


def _matrix(target: pd.Series, prediction: pd.Series, labels: list[Any]) -> Any:
    original = ORIGINALS["matrix"]
    if not active():
        return original(target, prediction, labels)
    key = ("matrix", repr(labels), data_hash(target), data_hash(prediction))
    return kept(key, lambda: original(target, prediction, labels))


def _report(cls: Any, y_true: pd.Series, y_pred: pd.Series, **options: Any) -> Any:
    original = ORIGINALS["report"]
    if not active() or options or not isinstance(y_true, pd.Series) or not isinstance(y_pred, pd.Series):
        return original(y_true, y_pred, **options)
    key = ("classification_report", cls.__qualname__, data_hash(y_true), data_hash(y_pred))
    return kept(key, lambda: original(y_true, y_pred))


def _roc_curve(metric: Any, target_data: pd.Series, prediction: Any, target_names: Any) -> Any:
    original = ORIGINALS["roc_curve"]
    if not active():
        return original(metric, target_data, prediction, target_names)
    key = (
        "roc_curve",
        repr(prediction.labels),
        repr(target_names),
        data_hash(target_data),
        data_hash(prediction.prediction_probas),
    )
    return kept(key, lambda: original(metric, target_data, prediction, target_names))


def _pr_curve(metric: Any, target_data: pd.Series, prediction: Any) -> Any:
    original = ORIGINALS["pr_curve"]
    if not active():
        return original(metric, target_data, prediction)
    key = ("pr_curve", repr(prediction.labels), data_hash(target_data), data_hash(prediction.prediction_probas))
    return kept(key, lambda: original(metric, target_data, prediction))


def _score_key(data: Any) -> Any:
    """The key of a ROC AUC's input (a frame, a column or a plain array), or None: not one to keep."""
    if isinstance(data, pd.Series | pd.DataFrame):
        return data_hash(data)
    if isinstance(data, np.ndarray) and not data.dtype.hasobject:
        return values_key(data)
    return None


def _roc_auc(y_true: Any, y_score: Any, **options: Any) -> Any:
    original = ORIGINALS["roc_auc"]
    if not active():
        return original(y_true, y_score, **options)
    keys = (_score_key(y_true), _score_key(y_score))
    if None in keys:
        return original(y_true, y_score, **options)
    key = ("roc_auc", repr(sorted(options.items())), *keys)
    return kept(key, lambda: original(y_true, y_score, **options))
