"""Estimated quality in the compare view, on snapshots the real runner wrote with the demo's estimation on.

The shift workspace's credit_scorecard (presets.estimation: CBPE calibrated on 2026-02-01..14) has
estimates on every day; the demo's last 3 days have no labels (label_lag_days 3, today 2026-04-01),
the other four have (2026-03-27 is a concept-drift day: the estimate stays up, the realized AUC drops).
Expected values come from the snapshot files' flattened rows, not from evmon.compare.estimated.
"""

from __future__ import annotations

import math
import re
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
import yaml

from evmon.compare.estimated import estimation_record, snapshot_estimated
from evmon.compare.rows import quality_rows
from evmon.compare.values import ValueDelta, compare, values_from_rows
from evmon.snapshot.catalog import Catalog, catalog, entry_from_header
from evmon.snapshot.flatten import MetricRow, flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from tests.app.conftest import CREDIT, TAXI
from tests.conftest import DEMO_END, DEMO_TODAY, write_config

EVIDENTLY = {  # the Evidently quality value each estimated metric estimates
    "roc_auc": ("RocAuc", "value"),
    "accuracy": ("Accuracy", "value"),
    "precision": ("Precision", "value"),
    "recall": ("Recall", "value"),
    "f1": ("F1Score", "value"),
    "mae": ("MAE", "mean"),
    "rmse": ("RMSE", "value"),
}
UNLABELLED = [DEMO_END - timedelta(days=i) for i in (2, 1, 0)]  # the demo's last 3 days
LABELLED = DEMO_END - timedelta(days=3)
CONCEPT_DRIFT = DEMO_END - timedelta(days=4)
Estimates = dict[tuple[str, str], dict[str, float]]


def _rows(root: Path, project: str, day: date) -> list[MetricRow]:
    return flatten(FilesWorkspace(root).read_snapshot(project_id(project), daily_snapshot_id(project, day)))


def _estimates(rows: list[MetricRow]) -> Estimates:
    """(segment, metric) -> {value kind: value}, straight from the EstimatedQuality rows."""
    out: Estimates = defaultdict(dict)
    for row in rows:
        if row.metric_type == "EstimatedQuality":
            assert row.segment is not None and row.label is not None and row.value is not None
            out[(row.segment, row.label)][row.value_kind] = row.value
    return dict(out)


def _evidently(rows: list[MetricRow], metric: str, segment: str) -> float | None:
    """Evidently's own (realized) value of the quality metric an estimated metric estimates."""
    kind, value_kind = EVIDENTLY[metric]
    found = [
        r.value for r in rows if (r.metric_type, r.value_kind, r.segment, r.label) == (kind, value_kind, segment, None)
    ]
    assert len(found) <= 1
    return found[0] if found else None


def _band(values: dict[str, float]) -> str:
    """The estimate with the band shown: the empirical one (NannyML's is kept beside it)."""
    return f"{values['estimate']:.3f} [{values['empirical_lower']:.3f}, {values['empirical_upper']:.3f}]"


def _key(metric: str, segment: str) -> str:
    kind, value_kind = EVIDENTLY[metric]
    return f"quality.{kind}.{value_kind}.{segment}"


def _compared(root: Path, project: str, day_a: date, day_b: date) -> tuple[dict[str, ValueDelta], Any, Any]:
    rows_a, rows_b = _rows(root, project, day_a), _rows(root, project, day_b)
    result = compare(values_from_rows(rows_a), values_from_rows(rows_b))
    return {v.key: v for v in result.values}, rows_a, rows_b


def test_an_unlabelled_day_shows_the_estimate_flagged_with_its_band(shift_workspace: Path) -> None:
    by_key, rows_a, rows_b = _compared(shift_workspace, CREDIT, LABELLED, DEMO_END)
    estimates_a, estimates_b = _estimates(rows_a), _estimates(rows_b)
    assert len(estimates_b) == 5 * 5  # model-wide and 4 regions x roc_auc, accuracy, precision, recall, f1
    unlabelled = {"estimate", "lower", "upper", "empirical_lower", "empirical_upper", "level"}
    assert all(set(v) == unlabelled for v in estimates_b.values())  # no labels yet
    for (segment, metric), values in estimates_b.items():
        assert _evidently(rows_b, metric, segment) is None  # B has no realized quality: only the estimate
        value = by_key[_key(metric, segment)]
        assert value.shown_b is not None and value.shown_b.basis == "estimated" and value.estimated
        assert value.b == values["estimate"] and value.shown_b.text == _band(values)
        realized = _evidently(rows_a, metric, segment)
        assert value.shown_a is not None and value.shown_a.basis == "realized" and value.a == realized
        assert (
            value.shown_a.estimated is not None
            and value.shown_a.estimated.estimate == estimates_a[(segment, metric)]["estimate"]
        )
        assert value.delta == pytest.approx(values["estimate"] - realized)  # type: ignore[operator]
        assert value.basis == "mixed: A realized, B estimated"  # never silently mixed
    logloss = by_key["quality.LogLoss.value.default"]  # realized only, nothing estimates it
    assert logloss.shown_a is not None and logloss.shown_b is None and logloss.delta is None and logloss.basis is None
    table = {(r["segment"], r["metric"]): r for r in quality_rows(list(by_key.values()), {})}
    auc = table[("default", "RocAuc")]
    assert auc["B is"] == "estimated" and auc["B estimate [band]"] == _band(estimates_b[("default", "roc_auc")])
    assert auc["A is"] == "realized" and auc["A estimate [band]"] == _band(estimates_a[("default", "roc_auc")])


def test_a_labelled_day_shows_realized_with_the_estimate_beside(shift_workspace: Path) -> None:
    by_key, rows_a, rows_b = _compared(shift_workspace, CREDIT, CONCEPT_DRIFT, LABELLED)
    for rows, side in ((rows_a, "a"), (rows_b, "b")):
        estimates = _estimates(rows)
        assert len(estimates) == 25
        for (segment, metric), values in estimates.items():
            value = by_key[_key(metric, segment)]
            shown = value.shown_a if side == "a" else value.shown_b
            realized = _evidently(rows, metric, segment)
            assert realized == pytest.approx(values["realized"], abs=1e-12)  # Evidently's and the estimation's agree
            assert shown is not None and shown.basis == "realized" and shown.value == realized
            assert shown.estimated is not None and shown.estimated.estimate == values["estimate"]
            assert shown.estimated.inside_band == (values["inside_band"] == 1.0)
            assert shown.beside is not None and shown.beside.startswith(f"estimated {_band(values)}, ")
            assert value.basis == "realized" and not value.estimated
    drifted = by_key[_key("roc_auc", "default")].shown_a
    assert drifted is not None and drifted.estimated is not None and drifted.estimated.gap is not None
    # the concept drift's gap: outside NannyML's band; the empirical band, widened by the drift days before it in
    # the track record (2026-03-24..26), may hold it, and says so
    assert drifted.estimated.gap > 0.2 and drifted.beside is not None and drifted.beside.endswith("outside NannyML's")
    assert drifted.estimated.inside_band is False


def test_two_unlabelled_days_compare_estimates(shift_workspace: Path) -> None:
    by_key, rows_a, rows_b = _compared(shift_workspace, CREDIT, UNLABELLED[0], UNLABELLED[2])
    estimates_a, estimates_b = _estimates(rows_a), _estimates(rows_b)
    for key, values in estimates_b.items():
        value = by_key[_key(key[1], key[0])]
        assert value.basis == "estimated"
        assert value.delta == pytest.approx(values["estimate"] - estimates_a[key]["estimate"])


def test_without_estimation_the_quality_table_is_unchanged(shift_workspace: Path) -> None:
    by_key, _, rows_b = _compared(shift_workspace, TAXI, DEMO_END - timedelta(days=1), DEMO_END)
    assert not _estimates(rows_b)
    quality = [v for v in by_key.values() if v.group == "quality"]
    assert quality and all(v.basis == "realized" and not v.estimated for v in quality)
    assert {tuple(r) for r in quality_rows(quality, {})} == {("segment", "metric", "A", "B", "Δ")}


def _catalog(root: Path, project: str) -> tuple[FilesWorkspace, Catalog]:
    workspace, pid = FilesWorkspace(root), project_id(project)
    entries = [
        entry_from_header(str(f.snapshot_id), workspace.read_snapshot_header(pid, f.snapshot_id), f.size, f.mtime_ns)
        for f in workspace.list_snapshots(pid)
    ]
    return workspace, catalog(entries, canonical=lambda d: str(daily_snapshot_id(project, d)))


def _expected_record(root: Path, project: str) -> dict[tuple[str, str], tuple[list[date], float, float, str]]:
    """(segment, metric) -> (labelled days, median |gap|, share inside NannyML's band, the record's summary),
    from every daily snapshot's rows."""
    gaps: dict[tuple[str, str], list[tuple[date, float, dict[str, float]]]] = defaultdict(list)
    for day, entry in _catalog(root, project)[1].daily.items():
        snapshot = FilesWorkspace(root).read_full_snapshot(project_id(project), uuid.UUID(entry.snapshot_id))
        for key, values in _estimates(flatten(snapshot)).items():
            gaps.setdefault(key, [])
            if "gap" in values and not math.isnan(values["gap"]):
                gaps[key].append((day, abs(values["gap"]), values))
    out = {}
    for key, found in gaps.items():
        if not found:
            continue
        median = float(np.median([g for _, g, _ in found]))
        share = float(np.mean([v["inside_band"] == 1.0 for *_, v in found]))
        empirical = float(np.mean([v["inside_empirical"] == 1.0 for *_, v in found]))
        width = float(np.median([v["upper"] - v["lower"] for *_, v in found]))
        empirical_width = float(np.median([v["empirical_upper"] - v["empirical_lower"] for *_, v in found]))
        summary = (
            f"median gap {median:.3f} over {len(found)} labelled days, {empirical:.0%} inside the band "
            f"(95%, median width {empirical_width:.3f}), {share:.0%} inside NannyML's (width {width:.3f}); "
            f"band {'trusted' if empirical >= 0.95 else 'untrusted'}"
        )
        out[key] = ([d for d, _, _ in found], median, share, summary)
    return out


def _record(root: Path, project: str):  # type: ignore[no-untyped-def]
    workspace, snapshots = _catalog(root, project)
    pid = project_id(project)
    return estimation_record(
        snapshots, lambda e: snapshot_estimated(workspace.read_full_snapshot(pid, uuid.UUID(e.snapshot_id)))
    )


def test_the_estimates_record_is_computed_from_the_daily_snapshots(
    shift_workspace: Path, shift_days: tuple[date, date]
) -> None:
    record = _record(shift_workspace, CREDIT)
    expected = _expected_record(shift_workspace, CREDIT)
    assert len(record) == 25 and set(expected) == set(record)  # every segment and metric has labelled days
    labelled = sorted([*shift_days, CONCEPT_DRIFT, LABELLED])
    for key, (days, median, share, _) in expected.items():
        found = record[key]
        assert days == labelled and (found.first_day, found.last_day) == (labelled[0], labelled[-1])
        assert found.labelled_days == 4 and found.method == "CBPE"
        assert found.median_abs_gap == pytest.approx(median, abs=1e-12)
        assert found.inside_band_share == pytest.approx(share, abs=1e-12)
    auc = record[("default", "roc_auc")]
    _, median, share, summary = expected[("default", "roc_auc")]
    assert auc.text == f"estimate's record: {summary}"
    assert re.match(r"estimate's record: median gap 0\.\d{3} over 4 labelled days, \d{1,3}% inside the band", auc.text)
    assert share < 1  # the concept-drift day's realized AUC fell outside the band
    assert _record(shift_workspace, TAXI) == {}  # no estimation: nothing read, no record


def test_the_record_agrees_with_the_bridges_estimation_record(
    shift_workspace: Path, tmp_path: Path, pg_dsn: str
) -> None:
    import shutil

    from evmon.bridge.sync import Bridge

    root = tmp_path / "ws"
    shutil.copytree(shift_workspace, root)
    Bridge(FilesWorkspace(root), pg_dsn).sync_once()
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(
            """SELECT segment, metric, method, labelled_days, median_abs_difference, inside_band_share, first_day,
                      last_day, inside_empirical_share, median_band_width, median_empirical_width,
                      recent_empirical_share, trusted
               FROM evmon.estimation_record WHERE project = %s""",
            (CREDIT,),
        ).fetchall()
    record = _record(root, CREDIT)
    assert len(rows) == 25
    for segment, metric, method, days, median, share, first, last, *bands in rows:
        found = record[(segment, metric)]
        assert (found.method, found.labelled_days, found.first_day, found.last_day) == (method, days, first, last)
        assert found.median_abs_gap == pytest.approx(median, abs=1e-12)
        assert found.inside_band_share == pytest.approx(share, abs=1e-12)
        empirical_share, width, empirical_width, recent_share, trusted = bands
        assert found.inside_empirical_share == pytest.approx(empirical_share, abs=1e-12)
        assert found.median_band_width == pytest.approx(width, abs=1e-12)
        assert found.median_empirical_width == pytest.approx(empirical_width, abs=1e-12)
        assert found.recent_empirical_share == pytest.approx(recent_share, abs=1e-12) and found.trusted is trusted


def test_regression_estimates_mae_and_rmse(demo_dir: Path, tmp_path: Path) -> None:
    """DLE on taxi_duration (labels a day late here): MAE's estimate is of Evidently's MAE mean, RMSE's of RMSE."""
    from evmon.config.loader import load_config
    from evmon.run.day import run_day

    presets = {"regression": True, "estimation": True}
    path = write_config(tmp_path / "projects.yaml", demo_dir, taxi_duration={"presets": presets, "label_lag_days": 1})
    assert yaml.safe_load(path.read_text())["projects"][0]["presets"] == presets
    config = load_config(path)
    root = tmp_path / "ws"
    labelled, unlabelled = DEMO_END - timedelta(days=1), DEMO_END
    for day in (labelled, unlabelled):
        result = run_day(
            config, config.project(TAXI), day, workspace=FilesWorkspace(root), today=DEMO_TODAY, trigger="test"
        )
        assert result.outcome == "ok", result.line()
    by_key, rows_a, rows_b = _compared(root, TAXI, labelled, unlabelled)
    estimates_a, estimates_b = _estimates(rows_a), _estimates(rows_b)
    assert {m for _, m in estimates_b} == {"mae", "rmse"}
    for metric, key in (("mae", "quality.MAE.mean.default"), ("rmse", "quality.RMSE.value.default")):
        value = by_key[key]
        assert value.shown_b is not None and value.shown_b.basis == "estimated"
        assert value.shown_b.text == _band(estimates_b[("default", metric)])
        realized = _evidently(rows_a, metric, "default")
        assert realized == pytest.approx(estimates_a[("default", metric)]["realized"], rel=1e-9)
        assert value.shown_a is not None and value.shown_a.basis == "realized" and value.a == realized
        assert value.basis == "mixed: A realized, B estimated"


def test_the_app_shows_the_estimate_flagged_and_its_record(
    app_env: Path, open_app: Callable[..., Any], shift_days: tuple[date, date]
) -> None:
    at = open_app("Compare two days")
    at.selectbox(key="cmp_b").set_value(DEMO_END).run()
    at.selectbox(key="cmp_a").set_value(LABELLED).run()
    assert not at.exception and not at.warning
    estimate = _estimates(_rows(app_env, CREDIT, DEMO_END))[("default", "roc_auc")]
    realized = _estimates(_rows(app_env, CREDIT, LABELLED))[("default", "roc_auc")]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["ROC AUC, day B (estimated)"] == _band(estimate)
    assert metrics["ROC AUC, day A (realized)"] == f"{realized['realized']:.3f}"
    *_, summary = _expected_record(app_env, CREDIT)[("default", "roc_auc")]
    markdown = "\n".join(str(m.value) for m in at.markdown)
    assert f"ROC AUC, model-wide: estimate's record: {summary}" in markdown
    delta = estimate["estimate"] - realized["realized"]
    assert f"Δ ROC AUC (B - A): **{delta:+.3f}**, mixed: A realized, B estimated" in markdown
    frame = next(e.value for e in at.dataframe if "Δ between" in e.value.columns)
    auc = frame[(frame.segment == "default") & (frame.metric == "RocAuc")].iloc[0]
    assert (
        auc["B is"] == "estimated" and auc["B estimate [band]"] == _band(estimate) and auc["B"] == estimate["estimate"]
    )
    assert auc["A is"] == "realized" and auc["A"] == realized["realized"]
    assert auc["Δ between"] == "mixed: A realized, B estimated" and auc["estimate's record"] == summary
    assert set(frame[frame["B estimate [band]"].notna()]["B is"]) == {"estimated"}
