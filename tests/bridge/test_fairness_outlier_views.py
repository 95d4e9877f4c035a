"""evmon.fairness, evmon.outliers, evmon.outlier_quality, their rollups and evmon.alert_thresholds over real days,
bridged into Postgres."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from evmon.bridge.sync import Bridge
from evmon.bridge.thresholds import from_config_file
from evmon.snapshot.codec import loads as parse_json
from evmon.snapshot.contract import meta_of
from evmon.snapshot.flatten import flatten
from evmon.storage.files import FilesWorkspace
from tests.bridge.fairness_outlier_days import FAIRNESS, PROJECT, days, run_all, write
from tests.bridge.helpers import all_files
from tests.outliers.synthetic import write_project

KINDS = {"OutRangeValueCount": "range", "OutListValueCount": "new_category", "MultivariateOutlierCount": "multivariate"}


@pytest.fixture(scope="module")
def bridged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, FilesWorkspace]:
    folder = tmp_path_factory.mktemp("synth")
    return folder, run_all(write(folder))


def _num(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


def expected(ws: FilesWorkspace) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """The views' rows, from the snapshot files themselves."""
    fairness: dict[Any, Any] = {}
    outliers: dict[Any, Any] = defaultdict(dict)
    for file in all_files(ws).values():
        snapshot = parse_json(file.path.read_bytes())
        day = meta_of(snapshot).day
        for row in flatten(snapshot):
            if row.metric_type == "FairnessValue":
                fairness[(day, row.column, row.label, row.value_kind)] = _num(row.value)
            elif row.metric_type in KINDS:
                entry = outliers[(day, row.column, KINDS[row.metric_type])]
                entry[row.value_kind] = _num(row.value)
                entry["lower_bound"], entry["upper_bound"] = row.params.get("left"), row.params.get("right")
    return fairness, outliers


def test_the_views_hold_every_value_and_the_rollups_aggregate_them(
    bridged: tuple[Path, FilesWorkspace], pg_dsn: str
) -> None:
    _, ws = bridged
    Bridge(ws, pg_dsn).sync_once()
    want_fairness, want_outliers = expected(ws)
    with psycopg.connect(pg_dsn) as conn:
        fairness = conn.execute(
            'SELECT project, kind, day, sensitive_column, "group", measure, value FROM evmon.fairness'
        ).fetchall()
        outliers = conn.execute(
            """SELECT project, kind, day, "column", outlier_kind, count, share, lower_bound, upper_bound
               FROM evmon.outliers"""
        ).fetchall()
        rollups = conn.execute(
            """SELECT grain, (period_start AT TIME ZONE 'UTC')::date, metric_type, "column", label, value_kind,
                      n, sum, min, max, days
               FROM evmon.metric_rollups
               WHERE metric_type IN ('FairnessValue', 'OutRangeValueCount', 'OutListValueCount',
                                     'MultivariateOutlierCount', 'OutlierQuality')"""
        ).fetchall()
        daily = conn.execute(
            """SELECT ("timestamp" AT TIME ZONE 'UTC')::date, metric_type, "column", label, value_kind,
                      NULLIF(value, 'NaN')
               FROM evmon.metric_values
               WHERE metric_type IN ('FairnessValue', 'OutRangeValueCount', 'OutListValueCount',
                                     'MultivariateOutlierCount', 'OutlierQuality')"""
        ).fetchall()
    assert {(r[0], r[1]) for r in fairness + outliers} == {(PROJECT, "daily")}
    got_fairness = {(day, column, group, measure): value for _, _, day, column, group, measure, value in fairness}
    assert got_fairness == pytest.approx(want_fairness, abs=1e-12)
    assert {k[1] for k in got_fairness} == {"tier"} and len({k[0] for k in got_fairness}) == 4
    got_outliers = {
        (day, column, kind): {"count": n, "share": share, "lower_bound": low, "upper_bound": high}
        for _, _, day, column, kind, n, share, low, high in outliers
    }
    assert got_outliers.keys() == want_outliers.keys()
    for key, entry in got_outliers.items():
        assert entry == pytest.approx(want_outliers[key], abs=1e-12), key
    assert {k[2] for k in got_outliers} == {"range", "new_category", "multivariate"}
    assert {(r[2], r[3], r[4]) for r in daily if r[1] == "OutlierQuality"} == {
        (None, "outliers", "accuracy"),
        (None, "inliers", "accuracy"),
    }
    # the four days (Friday to Monday) fall in two weeks and one month: each rollup row aggregates its daily rows
    for grain, period in (("week", lambda d: d - timedelta(days=d.weekday())), ("month", lambda d: d.replace(day=1))):
        groups: dict[Any, list[float | None]] = defaultdict(list)
        for day, metric_type, column, label, kind, value in daily:
            groups[(period(day), metric_type, column, label, kind)].append(value)
        got = {(p, m, c, lab, k): (n, s, lo, hi, d) for g, p, m, c, lab, k, n, s, lo, hi, d in rollups if g == grain}
        assert got.keys() == groups.keys()
        assert len({key[0] for key in got}) == (2 if grain == "week" else 1)
        for key, values in groups.items():
            numbers = [v for v in values if v is not None]
            n, total, low, high, days = got[key]
            assert (n, days) == (len(numbers), len(values)), key
            if numbers:
                assert (total, low, high) == pytest.approx((sum(numbers), min(numbers), max(numbers)), abs=1e-9), key


def test_the_outlier_quality_view_sets_each_days_quality_on_the_outlier_rows_against_the_others(
    bridged: tuple[Path, FilesWorkspace], pg_dsn: str
) -> None:
    _, ws = bridged
    Bridge(ws, pg_dsn).sync_once()
    want: dict[Any, dict[str, float | None]] = defaultdict(dict)
    for file in all_files(ws).values():
        snapshot = parse_json(file.path.read_bytes())
        for row in flatten(snapshot):
            if row.metric_type == "OutlierQuality":
                want[(meta_of(snapshot).day, row.params["metric"])][row.params["group"]] = _num(row.value)
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(
            "SELECT project, kind, day, metric, outlier_rows, other_rows, cost FROM evmon.outlier_quality"
        ).fetchall()
    assert {(r[0], r[1]) for r in rows} == {(PROJECT, "daily")}
    got = {(day, metric): (outlier, other, cost) for _, _, day, metric, outlier, other, cost in rows}
    assert got.keys() == want.keys() and len(got) == 4  # every day has its labels: accuracy on both sets of rows
    for key, (outlier, other, cost) in got.items():
        assert (outlier, other) == pytest.approx((want[key]["outliers"], want[key]["inliers"]), abs=1e-12), key
        assert cost == pytest.approx(other - outlier, abs=1e-12), key  # accuracy the outlier rows lose
    # the outlier episode's far-off rows are the ones the model gets wrong more often
    assert max(got.values(), key=lambda v: v[2])[2] > 0


def test_migration_14_labels_the_outlier_quality_rows_bridged_before_it_as_the_ingest_does(
    bridged: tuple[Path, FilesWorkspace], pg_dsn: str
) -> None:
    from evmon.bridge.schema_sql import V14_OUTLIER_QUALITY

    _, ws = bridged
    Bridge(ws, pg_dsn).sync_once()
    key = """SELECT snapshot_id, metric_id, label, value_kind, value FROM evmon.metric_values
             WHERE metric_type = 'OutlierQuality' ORDER BY 1, 2"""
    statements = [s.strip() for s in V14_OUTLIER_QUALITY.split(";") if s.strip().startswith(("UPDATE", "INSERT"))]
    with psycopg.connect(pg_dsn) as conn:
        at_ingest = conn.execute(key).fetchall()
        assert len(at_ingest) == 8 and {r[2] for r in at_ingest} == {"outliers", "inliers"}
        # as the bridge wrote them before: no label, the value kind of a single value
        conn.execute(
            "UPDATE evmon.metric_values SET label = NULL, value_kind = 'value' WHERE metric_type = 'OutlierQuality'"
        )
        for statement in statements:
            conn.execute(statement)
        assert conn.execute(key).fetchall() == at_ingest
        marked = conn.execute("SELECT count(*) FROM evmon.rollup_dirty WHERE project = %s", (PROJECT,)).fetchone()
        assert marked == (4,)  # the four days' rollups are recomputed at the next refresh


def thresholds(dsn: str) -> dict[str, float]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT project, threshold, value FROM evmon.alert_thresholds").fetchall()
    assert {r[0] for r in rows} <= {PROJECT}
    return {r[1]: r[2] for r in rows}


def test_the_bridge_writes_each_projects_thresholds_and_a_changed_one_at_the_next_sync(
    tmp_path: Path, pg_dsn: str
) -> None:
    config = write(tmp_path, fairness={**FAIRNESS, "thresholds": {"disparate_impact_min": 0.7}})
    bridge = Bridge(FilesWorkspace(config.resolve(config.workspace)), pg_dsn, thresholds=from_config_file(config))
    bridge.sync_once()
    defaults = {"equalized_odds_max": 0.1, "column_share_max": 0.05, "multivariate_share_max": 0.05}
    assert thresholds(pg_dsn) == {"disparate_impact_min": 0.7, **defaults}
    source = config.source_file
    source.write_text(source.read_text().replace("disparate_impact_min: 0.7", "disparate_impact_min: 0.75"))
    bridge.sync_once()
    assert thresholds(pg_dsn) == {"disparate_impact_min": 0.75, **defaults}
    # a projects.yaml that no longer loads keeps the thresholds last written
    source.write_text(source.read_text().replace("disparate_impact_min: 0.75", "disparate_impact_min: 2"))
    bridge.sync_once()
    assert thresholds(pg_dsn)["disparate_impact_min"] == 0.75
    # a project without the sections has none
    reference, daily = days()
    write_project(tmp_path, reference, daily, outliers=None)
    bridge.sync_once()
    assert thresholds(pg_dsn) == {}
    bridge.close()
