"""Each stored outlier figure equals its oracle, on two data sets generated here independently.

A real day is run (files, the real Report, a files workspace), its snapshot read back and
flattened as the bridge flattens it; the oracles are a direct pandas computation of the bounds
and shares, and scikit-learn's IsolationForest fitted with the same seed on the same features.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import IsolationForest

from evmon.config.model import EvmonConfig
from evmon.run.day import run_day
from evmon.snapshot.flatten import MetricRow, flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from tests.outliers.synthetic import CATEGORICAL, FIRST_DAY, NUMERICAL, frame, write_project

EPISODE_DAY = FIRST_DAY + timedelta(days=1)


def stored_rows(config: EvmonConfig, day: date) -> list[MetricRow]:
    """Run `day` (its labels in) into the config's workspace; the snapshot's rows as the bridge flattens them."""
    workspace = FilesWorkspace(config.resolve(config.workspace))
    result = run_day(config, config.projects[0], day, workspace=workspace, today=day + timedelta(days=1))
    assert result.outcome == "ok", result.line()
    return flatten(workspace.read_snapshot(project_id("synth"), daily_snapshot_id("synth", day)))


def figures(rows: list[MetricRow]) -> dict[tuple[str, str, str], float]:
    """(metric type, column or group, count|share|value) -> stored value, for the outlier metrics."""
    out = {}
    for row in rows:
        if row.metric_type in ("OutRangeValueCount", "OutListValueCount", "MultivariateOutlierCount"):
            out[(row.metric_type, row.column or "all", row.value_kind or "")] = row.value
        elif row.metric_type == "OutlierQuality":  # flattened as FairnessValue: label the rows, kind the metric
            assert (row.label, row.value_kind) == (row.params["group"], row.params["metric"])
            out[(row.metric_type, str(row.label), row.value_kind)] = row.value
    return out


def bounds(rows: list[MetricRow]) -> dict[str, tuple[float, float]]:
    return {r.column: (r.params["left"], r.params["right"]) for r in rows if r.metric_type == "OutRangeValueCount"}


def oracle(reference: pd.DataFrame, day: pd.DataFrame, quantiles: tuple[float, float] | None) -> dict[Any, float]:
    """The same figures computed directly: pandas for the columns, scikit-learn's forest for the rows."""
    out: dict[Any, float] = {}
    for column in NUMERICAL:
        ref = reference[column].dropna()
        low, high = (ref.quantile(quantiles[0]), ref.quantile(quantiles[1])) if quantiles else (ref.min(), ref.max())
        values = day[column].dropna()
        outside = int(((values < low) | (values > high)).sum())
        out[("OutRangeValueCount", column, "count")] = outside
        out[("OutRangeValueCount", column, "share")] = outside / len(values)
    for column in CATEGORICAL:
        values = day[column].dropna()
        new = int((~values.isin(set(reference[column].dropna()))).sum())
        out[("OutListValueCount", column, "count")] = new
        out[("OutListValueCount", column, "share")] = new / len(values)
    flagged = _flags(reference, day)
    out[("MultivariateOutlierCount", "all", "count")] = int(flagged.sum())
    out[("MultivariateOutlierCount", "all", "share")] = float(flagged.mean())
    right = ((day["p"] >= 0.5) == (day["y"] == 1)).to_numpy()
    out[("OutlierQuality", "outliers", "accuracy")] = float(right[flagged].mean())
    out[("OutlierQuality", "inliers", "accuracy")] = float(right[~flagged].mean())
    return out


@pytest.mark.parametrize(
    ("seed", "outliers", "episode", "settings"),
    [
        (11, 0.08, True, True),  # an outlier episode on the second day, quantile bounds
        (2027, 0.0, False, {"range": "minmax"}),  # clean days, min/max bounds
    ],
    ids=["episode-quantiles", "clean-minmax"],
)
def test_stored_figures_equal_the_oracle(
    tmp_path: Path, seed: int, outliers: float, episode: bool, settings: Any
) -> None:
    rng = np.random.default_rng(seed)
    reference = frame(rng, 4_000)
    days = {FIRST_DAY: frame(rng, 1_500, FIRST_DAY), EPISODE_DAY: frame(rng, 1_500, EPISODE_DAY, outliers=outliers)}
    config = write_project(tmp_path, reference, days, outliers=settings)
    quantiles = (0.005, 0.995) if settings is True else None
    for day, rows in days.items():
        stored = stored_rows(config, day)
        expected = oracle(reference, rows, quantiles)
        assert figures(stored) == pytest.approx(expected, rel=1e-12, abs=1e-12), day
        ref_low = {c: reference[c].quantile(0.005) if quantiles else reference[c].min() for c in NUMERICAL}
        assert {c: low for c, (low, _) in bounds(stored).items()} == ref_low
    clean = oracle(reference, days[FIRST_DAY], quantiles)
    spike = oracle(reference, days[EPISODE_DAY], quantiles)
    # what the alerts are to tell apart: the episode day's shares are far above a clean day's
    multivariate = ("MultivariateOutlierCount", "all", "share")
    assert clean[multivariate] < 0.05
    assert (spike[multivariate] > 0.05) is episode
    assert (spike[("OutRangeValueCount", "income", "share")] > 0.05) is episode
    assert (spike[("OutListValueCount", "channel", "share")] > 0.02) is episode


def test_a_rerun_gives_the_same_figures(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    config = write_project(tmp_path, frame(rng, 3_000), {FIRST_DAY: frame(rng, 1_000, FIRST_DAY, outliers=0.05)})
    first = figures(stored_rows(config, FIRST_DAY))
    from evmon.outliers import daily

    daily._FITTED.clear()  # a new process: the forest fitted again, with the same seed
    assert figures(stored_rows(config, FIRST_DAY)) == first


def test_a_regressor_gets_its_mae_on_outlier_rows_and_on_the_others(tmp_path: Path) -> None:
    rng = np.random.default_rng(17)
    reference = frame(rng, 3_000)
    day = frame(rng, 1_000, FIRST_DAY, outliers=0.05)
    prediction = {"column": "p", "kind": "regression"}
    columns = {"numerical": NUMERICAL, "categorical": CATEGORICAL, "target": "y", "prediction": prediction}
    config = write_project(
        tmp_path, reference, {FIRST_DAY: day}, columns=columns, presets={"data_drift": True, "regression": True}
    )
    stored = figures(stored_rows(config, FIRST_DAY))
    expected = oracle(reference, day, (0.005, 0.995))
    flagged_share = expected[("MultivariateOutlierCount", "all", "share")]
    assert stored[("MultivariateOutlierCount", "all", "share")] == flagged_share
    # the oracle's rows again: the forest's flags, then the absolute errors in each group
    errors = (day["p"] - day["y"]).abs()
    flagged = _flags(reference, day)
    assert stored[("OutlierQuality", "outliers", "mae")] == pytest.approx(errors[flagged].mean(), rel=1e-12)
    assert stored[("OutlierQuality", "inliers", "mae")] == pytest.approx(errors[~flagged].mean(), rel=1e-12)
    assert ("OutlierQuality", "outliers", "accuracy") not in stored


def _flags(reference: pd.DataFrame, day: pd.DataFrame) -> np.ndarray:
    """scikit-learn's forest, seeded as evmon's, on the features encoded here as docs/configuration.md says."""

    def features(rows: pd.DataFrame) -> np.ndarray:
        columns = [rows[c].fillna(reference[c].median()) for c in NUMERICAL]
        for c in CATEGORICAL:
            share = reference[c].value_counts() / len(reference)
            columns.append(rows[c].map(share).fillna(0.0).where(rows[c].notna(), reference[c].isna().mean()))
        return np.column_stack([c.to_numpy(dtype=float) for c in columns])

    forest = IsolationForest(n_estimators=100, contamination=0.01, random_state=0).fit(features(reference))
    return np.asarray(forest.predict(features(day)) == -1)
