"""The fairness and outlier alert rules, run AS Grafana on real days bridged into Postgres: each fires on its
episode day and not on clean days, with each project's thresholds from projects.yaml (a changed one applies
at the next sync). On the same days, the Outliers dashboard's panel of the model's quality on outlier rows vs
the others shows each labelled day's values of the snapshot, daily and over a long range from the rollups.

The days: tests/bridge/fairness_outlier_days.py (a clean day, a day where the model approves fewer tier-2
customers, a day with a fifth of the rows far outside the reference, a clean day again).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, timedelta
from pathlib import Path

import psycopg
import pytest

from evmon.bridge.settings import GrafanaRole
from evmon.bridge.sync import Bridge
from evmon.bridge.thresholds import from_config_file
from evmon.config.fairness import FairnessThresholds
from evmon.config.model import EvmonConfig
from evmon.config.outliers import OutlierThresholds
from evmon.snapshot.flatten import flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from tests.bridge.fairness_outlier_days import (
    CLEAN,
    CLEAN_AGAIN,
    FAIRNESS_EPISODE,
    OUTLIER_EPISODE,
    PROJECT,
    run_all,
    write,
)
from tests.grafana.checks import check_alert, check_time_series, fires, own_labels, run
from tests.grafana.grafana_sql import TimeRange, day_start, expand
from tests.grafana.provisioned import alert_queries, alert_range, load_dashboards, panel_queries, resolve_variables
from tests.postgres import throwaway_database

QUERIES = {q.rule["uid"]: q for q in alert_queries()}
RULES = (
    "evmon-disparate-impact",
    "evmon-equalized-odds",
    "evmon-outlier-column-share",
    "evmon-outlier-multivariate-share",
)
DAYS = (CLEAN, FAIRNESS_EPISODE, OUTLIER_EPISODE, CLEAN_AGAIN)


class Bridged:
    def __init__(self, config: EvmonConfig, bridge: Bridge, grafana: psycopg.Connection) -> None:
        self.config, self.bridge, self.grafana = config, bridge, grafana

    def firing(self, uid: str, day: date) -> set[tuple[str, ...]]:
        """The rule's firing instances (their labels but the threshold) when evaluated at noon of `day`."""
        query = QUERIES[uid]
        result = run(
            self.grafana, expand(query.sql, {}, alert_range(query.rule, "A", day_start(day) + timedelta(hours=12)))
        )
        instances = check_alert(query, result)
        assert instances and {labels["project"] for labels, _ in instances} == {PROJECT}, uid
        return {
            tuple(v for k, v in sorted(own_labels(labels).items()) if k != "threshold")
            for labels, value in instances
            if fires(query.rule, value)
        }

    def thresholds_seen(self, uid: str, day: date) -> set[str]:
        query = QUERIES[uid]
        result = run(
            self.grafana, expand(query.sql, {}, alert_range(query.rule, "A", day_start(day) + timedelta(hours=12)))
        )
        return {labels["threshold"] for labels, _ in check_alert(query, result)}


@pytest.fixture(scope="module")
def bridged(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridged]:
    folder = tmp_path_factory.mktemp("synth")
    config = write(folder)
    workspace = run_all(config)
    role = GrafanaRole(f"evmon_grafana_f{uuid.uuid4().hex[:10]}", "fair")
    with throwaway_database(pg_server, "evmon_fair_", drop_role=role.name) as dsn:
        bridge = Bridge(workspace, dsn, role=role, thresholds=from_config_file(config))
        assert bridge.sync_once().ingested == 4
        conninfo = psycopg.conninfo.make_conninfo(dsn, user=role.name, password=role.password)
        with psycopg.connect(conninfo, autocommit=True) as grafana:
            yield Bridged(config, bridge, grafana)
        bridge.close()


def test_disparate_impact_and_equalized_odds_fire_on_the_episode_day_only(bridged: Bridged) -> None:
    for uid in ("evmon-disparate-impact", "evmon-equalized-odds"):
        firing = {day: bridged.firing(uid, day) for day in DAYS}
        assert firing == {
            CLEAN: set(),
            FAIRNESS_EPISODE: {(PROJECT, "tier")},
            OUTLIER_EPISODE: set(),
            CLEAN_AGAIN: set(),
        }, uid


def test_the_outlier_rules_fire_on_the_episode_day_only(bridged: Bridged) -> None:
    columns = {day: bridged.firing("evmon-outlier-column-share", day) for day in DAYS}
    episode = {("balance", "range", PROJECT), ("income", "range", PROJECT), ("channel", "new_category", PROJECT)}
    assert columns == {CLEAN: set(), FAIRNESS_EPISODE: set(), OUTLIER_EPISODE: episode, CLEAN_AGAIN: set()}
    rows = {day: bridged.firing("evmon-outlier-multivariate-share", day) for day in DAYS}
    assert rows == {CLEAN: set(), FAIRNESS_EPISODE: set(), OUTLIER_EPISODE: {(PROJECT,)}, CLEAN_AGAIN: set()}


def test_a_changed_threshold_applies_at_the_next_sync(bridged: Bridged) -> None:
    source: Path = bridged.config.source_file
    original = source.read_text()
    try:
        # the episode's disparate impact is 0.34, its income and balance shares 0.21, the new channel's 0.10
        source.write_text(
            original.replace(
                "  fairness:\n",
                "  fairness:\n    thresholds: {disparate_impact_min: 0.3}\n",
            ).replace("  outliers: true\n", "  outliers: {thresholds: {column_share_max: 0.15}}\n")
        )
        assert bridged.firing("evmon-disparate-impact", FAIRNESS_EPISODE) == {(PROJECT, "tier")}  # not synced yet
        bridged.bridge.sync_once()
        assert bridged.firing("evmon-disparate-impact", FAIRNESS_EPISODE) == set()
        assert bridged.thresholds_seen("evmon-disparate-impact", FAIRNESS_EPISODE) == {"0.3"}
        assert bridged.firing("evmon-outlier-column-share", OUTLIER_EPISODE) == {
            ("balance", "range", PROJECT),
            ("income", "range", PROJECT),
        }
        assert bridged.firing("evmon-equalized-odds", FAIRNESS_EPISODE) == {(PROJECT, "tier")}  # its default kept
    finally:
        source.write_text(original)
        bridged.bridge.sync_once()
    assert bridged.thresholds_seen("evmon-disparate-impact", FAIRNESS_EPISODE) == {"0.8"}


def test_the_rules_fall_back_to_the_configs_defaults() -> None:
    """A project whose thresholds the bridge has not written is judged by the defaults projects.yaml would give."""
    defaults = {**FairnessThresholds().model_dump(), **OutlierThresholds().model_dump()}
    for uid, name in zip(
        RULES, ("disparate_impact_min", "equalized_odds_max", "column_share_max", "multivariate_share_max"), strict=True
    ):
        sql = QUERIES[uid].sql
        assert f"t.threshold = '{name}'" in sql, uid
        assert {float(v) for v in re.findall(r"coalesce\(t\.value, ([0-9.]+)\)", sql)} == {defaults[name]}, uid


QUALITY_PANEL = next(
    q
    for d in load_dashboards()
    if d["uid"] == "evmon-outliers"
    for q in panel_queries(d)
    if q.title == "Model quality on outlier rows vs the others"
)


def test_the_outlier_quality_panel_shows_each_days_quality_on_outlier_rows_and_on_the_others(bridged: Bridged) -> None:
    ws = bridged.bridge.workspace
    want: dict[tuple[date, str], float] = {}
    for day in DAYS:
        for row in flatten(ws.read_snapshot(project_id(PROJECT), daily_snapshot_id(PROJECT, day))):
            if row.metric_type == "OutlierQuality" and row.value is not None:
                rows = "outlier rows" if row.params["group"] == "outliers" else "other rows"
                want[(day, f"{PROJECT} / {row.params['metric']} on {rows}")] = row.value
    assert {series for _, series in want} == {f"{PROJECT} / accuracy on {rows} rows" for rows in ("outlier", "other")}

    def points(time_range: TimeRange) -> list[tuple[date, str, float]]:
        variables = resolve_variables(bridged.grafana, QUALITY_PANEL.dashboard, time_range)
        sql = expand(QUALITY_PANEL.sql, variables, time_range, QUALITY_PANEL.interval(time_range))
        result = run(bridged.grafana, sql)
        check_time_series(QUALITY_PANEL, result)
        return [(moment.astimezone(UTC).date(), series, value) for moment, series, value in result.rows]

    days = TimeRange(day_start(CLEAN) - timedelta(hours=1), day_start(CLEAN_AGAIN) + timedelta(hours=1))
    got = {(day, series): value for day, series, value in points(days)}
    assert got == pytest.approx(want, abs=1e-12)
    # over a long range one point a week (the four days: a Friday to a Monday), the mean of its days
    weeks = TimeRange(day_start(CLEAN_AGAIN) - timedelta(days=200), day_start(CLEAN_AGAIN) + timedelta(hours=1))
    weekly = {(day, series): value for day, series, value in points(weeks)}
    expected: dict[tuple[date, str], list[float]] = {}
    for (day, series), value in want.items():
        expected.setdefault((day - timedelta(days=day.weekday()), series), []).append(value)
    assert weekly == pytest.approx({k: sum(v) / len(v) for k, v in expected.items()}, abs=1e-12)
