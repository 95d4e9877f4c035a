"""The Fairness dashboard's estimated quality gap, run AS Grafana on two demo days before their labels, bridged.

The panel and the newest-day table show the values in the snapshot files; the labelled quality gap has
no point on those days (their labels have not arrived).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg

from evmon.bridge.settings import GrafanaRole
from evmon.bridge.sync import Bridge
from evmon.run.day import run_day
from evmon.storage.files import FilesWorkspace
from tests.conftest import DEMO_END, DEMO_TODAY
from tests.fairness.test_day import config_with_fairness, stored_fairness
from tests.grafana.checks import check_time_series, run
from tests.grafana.grafana_sql import TimeRange, day_start, expand
from tests.grafana.provisioned import load_dashboards, panel_queries, resolve_variables
from tests.postgres import throwaway_database

DAYS = (DEMO_END - timedelta(days=1), DEMO_END)
CREDIT = "credit_scorecard"


def test_the_estimated_quality_gap_panel_shows_the_days_before_their_labels(
    tmp_path: Path, demo_dir: Path, pg_server: str
) -> None:
    config = config_with_fairness(tmp_path, demo_dir)
    ws = FilesWorkspace(tmp_path / "ws")
    for day in DAYS:
        assert run_day(config, config.projects[0], day, workspace=ws, today=DEMO_TODAY).outcome == "ok"
    stored = {day: stored_fairness(ws, day)[0]["region", "estimated_quality_gap", None] for day in DAYS}

    (dashboard,) = [d for d in load_dashboards() if d["uid"] == "evmon-fairness"]
    queries = {q.title: q for q in panel_queries(dashboard)}
    time_range = TimeRange(day_start(DAYS[0]) - timedelta(hours=1), day_start(DEMO_END) + timedelta(hours=1))
    role = GrafanaRole(f"evmon_grafana_e{uuid.uuid4().hex[:10]}", "estimated")
    with throwaway_database(pg_server, "evmon_estfair_", drop_role=role.name) as dsn:
        bridge = Bridge(ws, dsn, role=role)
        assert bridge.sync_once().ingested == len(DAYS)
        conninfo = psycopg.conninfo.make_conninfo(dsn, user=role.name, password=role.password)
        with psycopg.connect(conninfo, autocommit=True) as grafana:
            variables = resolve_variables(grafana, dashboard, time_range)

            def result(title: str) -> list[dict[str, Any]]:
                query = queries[title]
                found = run(grafana, expand(query.sql, variables, time_range, query.interval(time_range)))
                if query.format == "time_series":
                    check_time_series(query, found)
                return [dict(zip(found.names, row, strict=True)) for row in found.rows]

            gap = result("Estimated quality gap per sensitive column")
            labelled_gap = result("Quality gap per sensitive column")
            newest = result("Newest day per sensitive column")
        bridge.close()
    points = sorted((row["time"].date(), row["metric"], row["estimated_quality_gap"]) for row in gap)
    assert points == [(day, f"{CREDIT} / region", stored[day]) for day in DAYS]
    assert labelled_gap == []  # no labels yet on either day
    shown = [(r["project"], r["sensitive_column"], r["estimated_quality_gap"], r["quality_gap"]) for r in newest]
    assert shown == [(CREDIT, "region", stored[DEMO_END], None)]
