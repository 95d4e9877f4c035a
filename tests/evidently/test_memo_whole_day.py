"""evmon's memo over whole project-days: the very bytes Evidently writes alone, every part included.

A day as the runner computes it (evmon.run.day.compute_day): the data part (DataDriftPreset,
DataSummaryPreset), the quality part (ClassificationPreset for the credit model, with one part per
region; RegressionPreset for the taxi model), the estimated quality, fairness across regions and
the outliers part. The day before is computed first, so the caches kept across days (the
reference's prediction data, PR table, sorted values and moments, dataset statistics) are warm, as
in a backfill.
"""

from __future__ import annotations

import contextlib
import re
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats

import evmon.evidently.report
from evmon.config.loader import load_config
from evmon.evidently import memo, memo_bins, memo_curves, memo_drift, memo_statistics, memo_summary
from evmon.run.day import compute_day

DAY = date(2026, 3, 11)
# Evidently gives every widget a fresh time-based uuid: the only bytes that differ run to run
_UUID = re.compile(rb'"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"')


def _day_bytes(demo_dir: Path, project_name: str, day: date, today: date) -> bytes:
    config = load_config(demo_dir / "projects.yaml")
    computed = compute_day(config, config.project(project_name), day, today)
    assert computed.status == "ok", computed.error
    assert computed.payload is not None
    return _UUID.sub(b'"ID"', computed.payload)


@pytest.mark.parametrize(
    ("project_name", "labelled"),
    [("credit_scorecard", True), ("credit_scorecard", False), ("taxi_duration", True)],
    ids=["credit, labelled", "credit, before its labels", "taxi, labelled"],
)
def test_a_whole_day_is_byte_identical_with_and_without_the_memo(
    demo_dir: Path, monkeypatch: pytest.MonkeyPatch, project_name: str, labelled: bool
) -> None:
    today = DAY + timedelta(days=30) if labelled else DAY + timedelta(days=1)
    project = load_config(demo_dir / "projects.yaml").project(project_name)
    if project_name == "credit_scorecard":  # the parts this test is about are all there
        assert project.segments and project.fairness is not None and project.outliers is not None
        assert project.presets.estimation is not None
    _day_bytes(demo_dir, project_name, DAY - timedelta(days=1), today)  # warms the caches kept across days
    memoized = _day_bytes(demo_dir, project_name, DAY, today)
    _assert_every_wrapper_in_place()
    monkeypatch.setattr(evmon.evidently.report, "memoized", contextlib.nullcontext)
    alone = _day_bytes(demo_dir, project_name, DAY, today)
    assert memoized == alone
    # the parts compared: presets, segments, estimates, fairness, outliers (quality parts once labelled)
    parts = {
        "credit_scorecard": [
            "ValueDrift",
            "QuantileValue",
            "EstimatedQuality",
            "FairnessValue",
            "MultivariateOutlierCount",
        ],
        "taxi_duration": ["ValueDrift", "QuantileValue", "MAE"],
    }[project_name]
    parts += ["RocAuc", "region=north"] if project_name == "credit_scorecard" and labelled else []
    assert [part for part in parts if part.encode() not in memoized] == []
    if not labelled:
        assert b"RocAuc" not in memoized


def _assert_every_wrapper_in_place() -> None:
    """The memoized day went through each wrapper (the day's Report functions are evmon's)."""
    import evidently.legacy.calculations.data_drift as data_drift
    from evidently.legacy.metrics import DatasetSummaryMetric

    assert data_drift.get_distribution_for_column is memo_bins._distribution
    assert memo._ORIGINALS["distribution"] is memo_bins._distribution  # the summary's histograms too
    assert DatasetSummaryMetric._calculate_dataset_common_stats is memo_summary._common_stats
    import sklearn.metrics
    from evidently.metrics.column_statistics import QuantileValueCalculation

    assert sklearn.metrics.roc_auc_score is memo_curves._roc_auc
    assert QuantileValueCalculation.calculate_value is not memo_statistics.ORIGINALS["Quantile"]
    wasserstein = memo_drift._WRAPPERS[0].func  # kept once per Report, around the cached-sort version
    assert getattr(wasserstein, "__wrapped__", None) is memo_drift._wasserstein_distance_norm


def _drift(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Evidently's normed Wasserstein drift: evmon's (memo on) and Evidently's own, for one pair of columns."""
    memo.install()
    shipped = memo_drift.ORIGINALS["wasserstein"](pd.Series(reference), pd.Series(current), None, 0.1)[0]
    with memo.memoized():
        kept = memo_drift._wasserstein_distance_norm(pd.Series(reference), pd.Series(current), None, 0.1)[0]
    return kept, shipped


@pytest.mark.parametrize(
    "case",
    ["continuous", "many ties", "one value", "negative zero", "nan", "integers", "shared values", "apart"],
)
def test_the_wasserstein_drift_is_bit_for_bit_scipys(case: str) -> None:
    rng = np.random.default_rng(7)
    reference, current = rng.normal(size=30_000), rng.normal(0.2, 1.1, size=1_000)
    if case == "many ties":
        reference, current = np.round(reference, 1), np.round(current, 1)
    elif case == "one value":
        reference, current = np.full(500, 3.0), np.full(20, 3.0)
    elif case == "negative zero":  # sorted -0.0 and 0.0 may swap places: scipy runs as shipped
        reference[:100], current[:10] = -0.0, 0.0
    elif case == "nan":
        current[3] = np.nan
    elif case == "shared values":  # the day's values among the reference's: runs across both halves
        current = rng.choice(reference[:50], size=1_000)
    elif case == "apart":  # every value of the day above the reference's
        current = reference.max() + rng.random(1_000)
    elif case == "integers":
        reference, current = rng.integers(0, 9, size=5_000), rng.integers(0, 9, size=300)
    kept, shipped = _drift(reference, current)
    assert kept == shipped or (np.isnan(kept) and np.isnan(shipped))
    assert np.float64(kept).tobytes() == np.float64(shipped).tobytes()
    again, _ = _drift(reference, current)  # the reference's sorted values now come from the cache
    assert np.float64(again).tobytes() == np.float64(shipped).tobytes()
    expected = scipy.stats.wasserstein_distance(reference, current) / max(float(np.std(reference)), 0.001)
    assert kept == pytest.approx(expected, rel=1e-12, nan_ok=True)  # and it is the distance it says


def test_the_merged_halves_are_scipys_joint_sort_and_counts() -> None:
    rng = np.random.default_rng(11)
    for trial in range(300):
        u = np.sort(rng.integers(0, 1 + trial % 12, size=1 + trial % 40).astype(float))
        v = np.sort(rng.integers(0, 1 + trial % 7, size=1 + trial % 9).astype(float))
        joint = np.concatenate((u, v))
        joint.sort(kind="mergesort")
        merged, u_counts, v_counts = memo_drift._merged(u, v)
        assert merged.tobytes() == joint.tobytes(), trial
        assert u_counts.tolist() == u.searchsorted(joint[:-1], "right").tolist(), trial
        assert v_counts.tolist() == v.searchsorted(joint[:-1], "right").tolist(), trial
