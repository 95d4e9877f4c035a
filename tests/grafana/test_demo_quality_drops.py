"""The attributions on the days quality fell, on the demo as Grafana reads it: the days the credit model's
realized ROC AUC fell below 0.6 are its concept-drift days (evmon.demo.data's Episodes; the days inside the label
lag are in no view), where no column's attribution moved more than on the other labelled days (concept drift: the
inputs as usual), and the Explanations panel lists the columns that moved most on them, as the summary view."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from tests.conftest import DEMO_END, REPO
from tests.grafana.checks import run
from tests.grafana.conftest import CREDIT, CREDIT_LAG, TAXI
from tests.grafana.grafana_sql import TimeRange, expand
from tests.grafana.provisioned import load_dashboards, panel_queries, resolve_variables

pytestmark = pytest.mark.xdist_group("grafana_data")  # one worker builds the data once

PANEL = "Columns that moved most on the days quality fell"
MODEL_COLUMNS = 8  # the credit model's columns (projects.yaml model.columns): its seven features and region


def test_the_demos_quality_falls_are_its_concept_drift_days(
    grafana_conn: psycopg.Connection, demo_episodes: Any, dashboard_range: TimeRange
) -> None:
    days = {
        project: {
            r[0]
            for r in grafana_conn.execute(
                "SELECT DISTINCT day FROM evmon.attribution_by_quality WHERE project = %s AND kind = 'daily'",
                (project,),
            )
        }
        for project in (CREDIT, TAXI)
    }
    falls = grafana_conn.execute(
        """SELECT day, count(*), min(quality), max(quality) FROM evmon.attribution_on_quality_drops
           WHERE kind = 'daily' AND project = %s GROUP BY day ORDER BY day""",
        (CREDIT,),
    ).fetchall()
    assert [day for day, *_ in falls] == sorted(demo_episodes.concept_drift)
    assert all(n == MODEL_COLUMNS and high < 0.6 for _, n, _, high in falls)
    assert max(days[CREDIT]) == DEMO_END - timedelta(days=CREDIT_LAG)  # the newest days have no labels yet
    assert (
        days[TAXI]
        and not grafana_conn.execute(
            "SELECT 1 FROM evmon.attribution_on_quality_drops WHERE project = %s", (TAXI,)
        ).fetchall()
    )  # its R² holds
    summary = grafana_conn.execute(
        """SELECT rank, "column", mean_abs_change_on_drops, mean_abs_change_other_days, drop_days, excess_on_drops
           FROM evmon.attribution_quality_drop_summary WHERE project = %s AND kind = 'daily' ORDER BY rank""",
        (CREDIT,),
    ).fetchall()
    assert len(summary) == MODEL_COLUMNS and {r[4] for r in summary} == {4}
    # concept drift: the inputs as usual, so no column moves on the falls more than it does on other days
    assert summary[0][2] < 0.03 and max(r[5] for r in summary) < 0.005, summary
    dashboard = next(d for d in load_dashboards() if d["uid"] == "evmon-explanations")
    [query] = [q for q in panel_queries(dashboard) if q.title == PANEL]
    variables = resolve_variables(grafana_conn, dashboard, dashboard_range)
    shown = run(grafana_conn, expand(query.sql, variables, dashboard_range)).rows
    assert [(r[0], r[1], r[2]) for r in shown] == [(CREDIT, rank, column) for rank, column, *_ in summary]
    for row, (*_, on_drops, on_others, drop_days, _) in zip(shown, summary, strict=True):
        assert (row[3], row[5], row[7]) == pytest.approx((on_drops, on_others, drop_days))


def test_the_docs_query_gives_each_fall_days_three_columns(
    grafana_conn: psycopg.Connection, demo_episodes: Any
) -> None:
    """The example in docs/explanations.md, run as Grafana's role on the bridged demo."""
    [example] = re.findall(r"```sql\n(.*?)```", (REPO / "docs" / "explanations.md").read_text(), flags=re.DOTALL)
    rows = grafana_conn.execute(example.encode()).fetchall()
    assert [(day, rank) for day, _, rank, _, _ in rows] == [
        (day, rank) for day in sorted(demo_episodes.concept_drift) for rank in (1, 2, 3)
    ]
