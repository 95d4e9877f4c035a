"""Estimated quality in the daily run, on the demo's credit model (CBPE) and taxi model (DLE).

The evidence of issue 17 on the demo: on clean days the estimated ROC AUC lands within 0.03 of the
realized one (median) and the band holds the realized value on >= 90% of days; on the feature-shift
days the estimate moves with the realized value; on the concept-drift days it stays while the
realized value drops. The many days are computed with the core (evmon.estimation.daily) on the days' rows;
the days the real runner computed (the shared demo workspace: its newest five days with today =
DEMO_TODAY, two of them labelled) carry the same values in their snapshots.
"""

from __future__ import annotations

import logging
import statistics
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from evmon.config.loader import load_config
from evmon.config.model import EvmonConfig, Project
from evmon.days import day_range, day_window_utc, labels_arrived
from evmon.errors import EstimationError
from evmon.estimation import daily as estimated
from evmon.estimation.daily import EstimatedDay
from evmon.run.day import run_day
from evmon.snapshot.flatten import flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.sources import read as sources
from evmon.storage.files import FilesWorkspace
from tests.conftest import DEMO_END, DEMO_TODAY, DEMO_WORKSPACE_DAYS
from tests.run.test_day import variant_config

CREDIT, TAXI = "credit_scorecard", "taxi_duration"
METRICS = ["roc_auc", "accuracy", "precision", "recall", "f1"]
SEGMENTS = ["default", "region=east", "region=north", "region=south", "region=west"]


@pytest.fixture(scope="module")
def config(demo_dir: Path) -> EvmonConfig:
    return load_config(demo_dir / "projects.yaml")


@pytest.fixture(scope="module")
def credit(config: EvmonConfig) -> Project:
    return config.project(CREDIT)


@pytest.fixture(scope="module")
def days(config: EvmonConfig, credit: Project, demo_episodes: Any) -> dict[date, EstimatedDay]:
    """Every day after the calibration window, estimated with its labels by the core, as the runner does (the
    empirical band's track record: the 30 days before, those whose labels had arrived on DEMO_TODAY)."""
    reference = sources.read_reference(config, credit)
    estimator = estimated.fit(credit, estimated.calibration_data(config, credit, reference))
    calibration = credit.presets.estimation.calibration  # type: ignore[union-attr]
    out = {}
    for day in day_range(calibration.end + timedelta(days=1), DEMO_END):
        rows = sources.read_window(config, credit, *day_window_utc(day, credit.timezone))
        before = [day - timedelta(days=k) for k in range(1, 31)]
        arrived = [d for d in before if labels_arrived(d, DEMO_TODAY, credit.label_lag_days)]
        record = estimated.day_record(config, credit, estimator, arrived)
        out[day] = estimated.estimate_day(credit, estimator, rows, labelled=True, record=record)
    return out


def roc_auc(day: EstimatedDay, kind: str) -> float:
    value = day.value("roc_auc", kind)
    assert value is not None
    return value


def test_the_demo_calibrates_on_days_the_model_was_not_trained_on(credit: Project) -> None:
    estimation = credit.presets.estimation
    assert estimation is not None and estimation.calibration is not None and estimation.training is not None
    assert estimation.training.start == credit.reference.start and estimation.training.end == credit.reference.end
    assert estimation.calibration.start > estimation.training.end  # out of sample
    assert estimated.method_of(credit) == "CBPE" and estimated.threshold_of(credit) == 0.5


def test_on_clean_days_the_estimate_is_close_and_the_band_holds(
    days: dict[date, EstimatedDay], demo_episodes: Any
) -> None:
    clean = [d for d in days if d < demo_episodes.feature_shift[0] and d not in demo_episodes.attribution_shift]
    assert len(clean) == 28  # 2026-02-15 .. 2026-03-16, but the attribution-shift days
    gaps = [abs(roc_auc(days[d], "estimate") - roc_auc(days[d], "realized")) for d in clean]
    inside = [roc_auc(days[d], "inside_band") for d in clean]
    # measured: median |estimated - realized| 0.0115, realized inside the band on 29 of 30 days
    assert statistics.median(gaps) <= 0.03
    assert sum(inside) / len(inside) >= 0.9
    for day in clean:  # the band is the estimate +- 3 sampling errors of that day's rows
        e = days[day]
        assert roc_auc(e, "lower") < roc_auc(e, "estimate") < roc_auc(e, "upper")
        assert roc_auc(e, "gap") == pytest.approx(roc_auc(e, "estimate") - roc_auc(e, "realized"), abs=1e-12)


def test_on_feature_shift_days_the_estimate_moves_with_the_realized_value(
    days: dict[date, EstimatedDay], demo_episodes: Any
) -> None:
    """Riskier applicants (ExternalRiskEstimate - 12): more defaults predicted, accuracy falls; CBPE sees it."""
    clean = [d for d in days if d < demo_episodes.feature_shift[0] and d not in demo_episodes.attribution_shift]

    def mean(day_list: list[date], metric: str, kind: str) -> float:
        return float(np.mean([days[d].value(metric, kind) for d in day_list]))

    shift = demo_episodes.feature_shift
    estimated_drop = mean(clean, "accuracy", "estimate") - mean(shift, "accuracy", "estimate")
    realized_drop = mean(clean, "accuracy", "realized") - mean(shift, "accuracy", "realized")
    # measured: accuracy 0.756 -> 0.715 estimated, 0.752 -> 0.710 realized
    assert estimated_drop > 0.03 and realized_drop > 0.03
    assert estimated_drop == pytest.approx(realized_drop, abs=0.015)
    for day in shift:
        e = days[day]
        assert abs(e.value("accuracy", "gap")) < 0.02  # type: ignore[arg-type]
        assert e.value("accuracy", "inside_band") == 1.0 and e.value("roc_auc", "inside_band") == 1.0


def test_on_concept_drift_days_the_estimate_stays_and_the_realized_value_drops(
    days: dict[date, EstimatedDay], demo_episodes: Any
) -> None:
    clean = [d for d in days if d < demo_episodes.feature_shift[0] and d not in demo_episodes.attribution_shift]
    clean_estimate = statistics.mean(roc_auc(days[d], "estimate") for d in clean)
    for day in demo_episodes.concept_drift:
        e = days[day]
        # measured: estimated 0.785-0.806 (as on clean days), realized 0.43-0.44, gap 0.35-0.37
        assert roc_auc(e, "estimate") == pytest.approx(clean_estimate, abs=0.02)
        assert roc_auc(e, "realized") < 0.55
        assert roc_auc(e, "gap") > 0.2
        assert roc_auc(e, "inside_band") == 0.0 and roc_auc(e, "realized") < roc_auc(e, "lower")


def estimated_results(snapshot: dict[str, Any]) -> dict[tuple[str, str, str], float]:
    """(metric, segment, value kind) -> value of a snapshot's EstimatedQuality results, as flattened."""
    rows = [r for r in flatten(snapshot) if r.metric_type == "EstimatedQuality"]
    assert all(r.value is not None and r.segment is not None and r.label is not None for r in rows)
    return {(r.label, r.segment, r.value_kind): r.value for r in rows}  # type: ignore[misc]


def test_the_runners_days_carry_the_estimates_in_their_snapshots(
    demo_workspace: Path, days: dict[date, EstimatedDay], demo_episodes: Any
) -> None:
    """The shared demo workspace: the newest days through the real runner (2 labelled, 3 without labels)."""
    ws = FilesWorkspace(demo_workspace)  # read only
    pid = project_id(CREDIT)
    newest = [DEMO_END - timedelta(days=i) for i in reversed(range(DEMO_WORKSPACE_DAYS))]
    labelled = [d for d in newest if d + timedelta(days=3) < DEMO_TODAY]
    assert labelled == [date(2026, 3, 27), date(2026, 3, 28)] and labelled[0] in demo_episodes.concept_drift
    for day in newest:
        snapshot = ws.read_snapshot(pid, daily_snapshot_id(CREDIT, day))
        values = estimated_results(snapshot)
        kinds = ["estimate", "lower", "upper", "empirical_lower", "empirical_upper", "level"]
        kinds += ["realized", "gap", "inside_band", "inside_empirical"] if day in labelled else []
        assert sorted(values) == sorted((m, s, k) for m in METRICS for s in SEGMENTS for k in kinds)
        expected = days[day]  # the core, on the same rows: the same numbers
        for (metric, segment, kind), value in values.items():
            assert value == pytest.approx(expected.value(metric, kind, segment), abs=1e-12, nan_ok=True)
        meta = snapshot["metadata"]
        assert meta["estimation_rows"] == meta["rows"] and meta["estimation_dropped_rows"] == "0"
        if day in labelled:  # realized with evmon's functions is Evidently's own ROC AUC of the day
            (evidently_roc_auc,) = [
                r.value for r in flatten(snapshot) if r.metric_type == "RocAuc" and r.segment == "default"
            ]
            assert values[("roc_auc", "default", "realized")] == pytest.approx(evidently_roc_auc, abs=1e-12)
    drifted = estimated_results(ws.read_snapshot(pid, daily_snapshot_id(CREDIT, labelled[0])))
    assert drifted[("roc_auc", "default", "gap")] > 0.2  # the concept drift, seen only in the gap


def test_rows_without_a_prediction_are_left_out_and_counted(
    config: EvmonConfig, credit: Project, days: dict[date, EstimatedDay]
) -> None:
    day = date(2026, 3, 10)
    rows = sources.read_window(config, credit, *day_window_utc(day, credit.timezone))
    holes = rows.copy()
    holes.loc[holes.index[::10], "default_probability"] = np.nan
    estimator = estimated.fit(credit, estimated.calibration_data(config, credit, pd.DataFrame()))
    result = estimated.estimate_day(credit, estimator, holes, labelled=False)
    assert (result.rows, result.dropped) == (len(rows) - len(rows[::10]), len(rows[::10]))
    kept = estimated.estimate_day(credit, estimator, rows.drop(index=rows.index[::10]), labelled=False)
    assert result.values == kept.values and not result.labelled
    with pytest.raises(EstimationError, match=r"^credit_scorecard: no row has a prediction \(default_probability\)$"):
        estimated.estimate_day(credit, estimator, rows.assign(default_probability=np.nan), labelled=True)


def test_a_day_whose_estimation_fails_is_stored_without_it_and_says_why(
    demo_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Calibration data of one class: no estimator, yet the day keeps its other metrics; one line says why."""
    one_class = pd.read_parquet(demo_dir / "demo_data" / CREDIT / "daily" / "2026-02-02.parquet")
    one_class.assign(defaulted=0).to_parquet(tmp_path / "calibration.parquet")
    calibration = {"path": str(tmp_path / "calibration.parquet")}

    def edit(raw: dict[str, Any]) -> None:
        raw["projects"][0]["presets"]["estimation"]["calibration"] = calibration

    config = variant_config(demo_dir, tmp_path, edit)
    day = date(2026, 3, 30)
    ws = FilesWorkspace(tmp_path / "ws")
    with caplog.at_level(logging.WARNING, logger="evmon.run.day"):
        result = run_day(config, config.project(CREDIT), day, workspace=ws, today=DEMO_TODAY)
    assert result.outcome == "ok", result.line()
    cause = (
        f"CBPE cannot be fitted on the calibration data: the calibration set has 0 positive and {len(one_class)} "
        "negative rows; CBPE needs at least 10 of each class"
    )
    assert [r.getMessage() for r in caplog.records] == [f"{CREDIT} {day}: no estimated quality: {cause}"]
    snapshot = ws.read_snapshot(project_id(CREDIT), daily_snapshot_id(CREDIT, day))
    types = {r.metric_type for r in flatten(snapshot)}
    assert "EstimatedQuality" not in types and {"ValueDrift", "RowCount", "MissingCellsShare"} <= types
    assert snapshot["metadata"]["estimation_error"] == cause


def test_a_calibration_file_that_is_not_there_names_itself(demo_dir: Path, tmp_path: Path) -> None:
    def edit(raw: dict[str, Any]) -> None:
        raw["projects"][0]["presets"]["estimation"]["calibration"] = {"path": str(tmp_path / "nope.parquet")}

    config = variant_config(demo_dir, tmp_path, edit)
    with pytest.raises(EstimationError) as info:
        estimated.fit(
            config.project(CREDIT), estimated.calibration_data(config, config.project(CREDIT), pd.DataFrame())
        )
    missing = tmp_path / "nope.parquet"
    assert str(info.value) == (
        f"{CREDIT}: the calibration data (presets.estimation.calibration) is unusable: the file {missing} "
        f"does not exist (path {str(missing)!r})"
    )


def taxi_variant(demo_dir: Path, tmp_path: Path, estimation: Any) -> EvmonConfig:
    def edit(raw: dict[str, Any]) -> None:
        raw["projects"][1]["presets"]["estimation"] = estimation

    return variant_config(demo_dir, tmp_path, edit)


def test_dle_on_the_taxi_model_through_the_runner(demo_dir: Path, tmp_path: Path) -> None:
    """The regressor: DLE calibrated on two weeks of its daily data, MAE and RMSE in the day's snapshot."""
    config = taxi_variant(demo_dir, tmp_path, {"calibration": {"start": "2026-02-01", "end": "2026-02-14"}})
    taxi = config.project(TAXI)
    assert estimated.method_of(taxi) == "DLE"
    ws = FilesWorkspace(tmp_path / "ws")
    day = date(2026, 3, 11)
    result = run_day(config, taxi, day, workspace=ws, today=DEMO_TODAY)
    assert result.outcome == "ok", result.line()
    snapshot = ws.read_snapshot(project_id(TAXI), daily_snapshot_id(TAXI, day))
    values = estimated_results(snapshot)
    assert sorted(values) == sorted((m, "default", k) for m in ("mae", "rmse") for k in estimated.VALUE_KINDS)
    assert {r.params["method"] for r in flatten(snapshot) if r.metric_type == "EstimatedQuality"} == {"DLE"}
    (evidently_mae,) = [
        r.value
        for r in flatten(snapshot)
        if r.metric_type == "MAE" and r.segment == "default" and r.value_kind == "mean"
    ]
    assert values[("mae", "default", "realized")] == pytest.approx(evidently_mae, rel=1e-9)
    # one day's realized MAE is noisy (here 2.60 against 2.42 estimated): what must hold is the band
    assert values[("mae", "default", "lower")] <= values[("mae", "default", "realized")]
    assert values[("mae", "default", "realized")] <= values[("mae", "default", "upper")]
    assert values[("mae", "default", "inside_band")] == 1.0


def test_dle_fitted_on_the_training_data_overestimates_the_model(demo_dir: Path, tmp_path: Path) -> None:
    """No calibration: DLE learns the errors of the taxi model on its own training set, which are too small."""
    clean = list(day_range(date(2026, 2, 15), date(2026, 3, 16)))

    def median_relative_gap(config: EvmonConfig) -> float:
        taxi = config.project(TAXI)
        estimator = estimated.fit(taxi, estimated.calibration_data(config, taxi, sources.read_reference(config, taxi)))
        gaps = []
        for day in clean:
            rows = sources.read_window(config, taxi, *day_window_utc(day, taxi.timezone))
            e = estimated.estimate_day(taxi, estimator, rows, labelled=True)
            gaps.append(e.value("mae", "gap") / e.value("mae", "realized"))  # type: ignore[operator]
        return statistics.median(gaps)

    on_training = median_relative_gap(taxi_variant(demo_dir, tmp_path, True))
    out_of_sample = median_relative_gap(
        taxi_variant(demo_dir, tmp_path, {"calibration": {"start": "2026-02-01", "end": "2026-02-14"}})
    )
    # measured over these 30 days: MAE estimated 5.5% too low on the training data, 0.6% out of sample
    assert on_training < -0.03
    assert abs(out_of_sample) < 0.02
