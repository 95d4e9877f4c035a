"""The fleet's alerts against Grafana's alert rules run as Grafana runs them, on the same database."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import psycopg

from evmon.fleet.table import fleet_table
from tests.grafana.checks import check_alert, fires, run
from tests.grafana.grafana_sql import day_start, expand
from tests.grafana.provisioned import alert_queries, alert_range

STALE = "evmon-stale-snapshots"  # its SQL reads now(), not the evaluation's range


def grafana_firing(conn: psycopg.Connection, at: datetime) -> dict[str, set[str]]:
    """Each rule's projects with a firing instance, the rules run as Grafana runs them at `at`."""
    out: dict[str, set[str]] = defaultdict(set)
    for query in alert_queries():
        uid = query.rule["uid"]
        result = run(conn, expand(query.sql, {}, alert_range(query.rule, "A", at)))
        for labels, value in check_alert(query, result):
            if fires(query.rule, value):
                out[uid].add(labels["project"])
    return out


def fleet_firing(dsn: str, at: datetime) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for row in fleet_table(dsn, as_of=at):
        for uid in row.alerts:
            out[uid].add(row.project)
    return out


def assert_agree(dsn: str, conn: psycopg.Connection, days: list[date]) -> set[str]:
    """Both at noon of each day and the next morning, then now; the rules seen firing somewhere."""
    seen: set[str] = set()
    for day in days:
        for at in (day_start(day) + timedelta(hours=12), day_start(day) + timedelta(days=1, hours=6)):
            grafana = {uid: projects for uid, projects in grafana_firing(conn, at).items() if uid != STALE}
            fleet = {uid: projects for uid, projects in fleet_firing(dsn, at).items() if uid != STALE}
            assert fleet == grafana, f"at {at}"
            seen |= set(grafana)
    now = datetime.now(UTC)  # every rule, the stale snapshots' too, and the runs of this session
    grafana = grafana_firing(conn, now)
    assert fleet_firing(dsn, now) == grafana, f"at {now}"
    return seen | set(grafana)
