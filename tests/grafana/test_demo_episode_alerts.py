"""The fairness and outlier alert rules on the demo, run AS Grafana over its bridged days: each fires on its
injected episode's days (evmon.demo.data's Episodes), never on a clean day, and where another episode trips it
too, for the reason the test says.

The rules' own data and thresholds: tests/grafana/test_fairness_outlier_alerts.py.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import psycopg
import pytest

from evmon.demo.data import FAIRNESS_GAP_REGION, OUTLIER_COLUMN
from tests.grafana.checks import check_alert, fires, own_labels, run
from tests.grafana.conftest import CREDIT, DAYS, FIRST_DAY
from tests.grafana.grafana_sql import day_start, expand
from tests.grafana.provisioned import alert_queries, alert_range

pytestmark = pytest.mark.xdist_group("grafana_data")  # one worker builds the data once

QUERIES = {q.rule["uid"]: q for q in alert_queries()}
CREDIT_DAYS = [FIRST_DAY + timedelta(days=i) for i in range(DAYS)]


def firing_days(conn: psycopg.Connection, uid: str) -> dict[date, set[tuple[str, ...]]]:
    """Per day the rule fires when evaluated at that day's noon: its firing instances' labels (but the threshold)."""
    query = QUERIES[uid]
    out: dict[date, set[tuple[str, ...]]] = {}
    for day in CREDIT_DAYS:
        at = day_start(day) + timedelta(hours=12)
        instances = check_alert(query, run(conn, expand(query.sql, {}, alert_range(query.rule, "A", at))))
        assert {labels["project"] for labels, _ in instances} <= {CREDIT}, (uid, day, instances)  # taxi has neither
        labels = {
            tuple(v for k, v in sorted(own_labels(labels).items()) if k not in ("threshold", "project"))
            for labels, value in instances
            if fires(query.rule, value)
        }
        if labels:
            out[day] = labels
    return out


def test_disparate_impact_fires_on_the_fairness_gap_days(grafana_conn: psycopg.Connection, demo_episodes: Any) -> None:
    """And on the feature-shift days: riskier applicants everywhere cut approvals from about 77% to about 40%,
    where chance differences between ~150-row regions cross the four-fifths line (north 34% vs west 45%: 0.76)."""
    firing = firing_days(grafana_conn, "evmon-disparate-impact")
    assert firing == {day: {("region",)} for day in [*demo_episodes.feature_shift, *demo_episodes.fairness_gap]}, (
        f"the {FAIRNESS_GAP_REGION} region's approvals drop on the fairness-gap days"
    )
    assert not set(firing) & set(demo_episodes.clean)


def test_equalized_odds_fires_on_the_fairness_gap_days_only(
    grafana_conn: psycopg.Connection, demo_episodes: Any
) -> None:
    """At the demo's threshold (projects.yaml: 0.35, for its ~150-row regions) and labelled days only."""
    firing = firing_days(grafana_conn, "evmon-equalized-odds")
    assert firing == {day: {("region",)} for day in demo_episodes.fairness_gap}


def test_the_outlier_rules_fire_on_the_outlier_day(grafana_conn: psycopg.Connection, demo_episodes: Any) -> None:
    """The column rule also on the feature-shift days: ExternalRiskEstimate 12 points down puts more than 5% of
    its values below the reference's 0.5% quantile. The IsolationForest's share stays under its threshold there."""
    assert firing_days(grafana_conn, "evmon-outlier-column-share") == {
        demo_episodes.outlier_spike: {(OUTLIER_COLUMN, "range")},
        **{day: {("ExternalRiskEstimate", "range")} for day in demo_episodes.feature_shift},
    }
    assert firing_days(grafana_conn, "evmon-outlier-multivariate-share") == {demo_episodes.outlier_spike: {()}}
