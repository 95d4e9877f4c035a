"""The fleet table of the demo, bridged by the real bridge from real snapshots: each figure is the one the
bridge's views hold for that project and day, the filters keep the projects they name, and the alerts are
those Grafana's rules fire on the same database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from evmon.fleet.sql import NO_OWNER
from evmon.fleet.table import FleetError, FleetRow, bridge_dsn, filter_options, fleet_table
from evmon.grafana.overview import FLEET_COLUMNS
from evmon.processes import free_port
from tests.conftest import DEMO_END, DEMO_TODAY, DEMO_WORKSPACE_DAYS
from tests.fleet.agree import assert_agree
from tests.fleet.demo import BridgedDemo, bridged_demo
from tests.grafana.grafana_sql import expand

CREDIT, TAXI = "credit_scorecard", "taxi_duration"
AS_OF = datetime(DEMO_TODAY.year, DEMO_TODAY.month, DEMO_TODAY.day, 12, tzinfo=UTC)
FIRST = DEMO_END - timedelta(days=DEMO_WORKSPACE_DAYS - 1)


@pytest.fixture(scope="module")
def demo(
    pg_server: str, demo_workspace: Path, demo_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BridgedDemo]:
    with bridged_demo(pg_server, demo_workspace, demo_dir, tmp_path_factory.mktemp("fleet")) as bridged:
        yield bridged


def by_project(rows: list[FleetRow]) -> dict[str, FleetRow]:
    return {r.project: r for r in rows}


def test_each_project_with_its_owner_last_day_and_days_missing(demo: BridgedDemo) -> None:
    rows = by_project(fleet_table(demo.grafana_dsn, as_of=AS_OF))
    assert set(rows) == {CREDIT, TAXI}
    credit, taxi = rows[CREDIT], rows[TAXI]
    assert (credit.owner, credit.tags, taxi.owner, taxi.tags) == ("risk", {"tier": "critical"}, None, {})
    for row in (credit, taxi):
        assert (row.last_day, row.last_status, row.first_day, row.days_missing) == (DEMO_END, "ok", FIRST, 0)
    # ten days later nothing new was computed: ten days missing, up to yesterday
    later = by_project(fleet_table(demo.grafana_dsn, as_of=AS_OF + timedelta(days=10)))
    assert later[CREDIT].days_missing == later[TAXI].days_missing == 10


def test_drift_and_quality_are_the_bridged_views_values(demo: BridgedDemo) -> None:
    rows = by_project(fleet_table(demo.grafana_dsn, as_of=AS_OF))
    with psycopg.connect(demo.dsn) as conn:
        for project, row in rows.items():
            shares = [
                float(v)
                for (v,) in conn.execute(
                    "SELECT drifted_share FROM evmon.dataset_drift WHERE project = %s AND kind = 'daily' ORDER BY day",
                    (project,),
                )
            ]
            assert len(shares) == DEMO_WORKSPACE_DAYS
            assert row.drift_day == DEMO_END and row.drift_share == pytest.approx(shares[-1])
            assert row.drift_7d == pytest.approx(shares)
            assert row.drift_trend == pytest.approx(shares[-1] - sum(shares[:-1]) / len(shares[:-1]))
        # credit_scorecard's labels come 3 days late: its newest quality is CBPE's estimate of the last day
        [(estimate,)] = conn.execute(
            "SELECT estimate FROM evmon.estimated_quality WHERE project = %s AND day = %s AND segment = 'default' "
            "AND metric = 'roc_auc'",
            (CREDIT, DEMO_END),
        ).fetchall()
        credit = rows[CREDIT]
        assert (credit.quality_metric, credit.quality_estimated, credit.quality_day) == ("ROC AUC", True, DEMO_END)
        assert credit.quality == pytest.approx(estimate)
        # taxi_duration has no estimation: its newest realized R²
        [(day, r2)] = conn.execute(
            "SELECT day, value FROM evmon.model_quality WHERE project = %s AND kind = 'daily' "
            "AND metric_type = 'R2Score' AND value <> 'NaN' ORDER BY day DESC LIMIT 1",
            (TAXI,),
        ).fetchall()
        taxi = rows[TAXI]
        assert (taxi.quality_metric, taxi.quality_estimated, taxi.quality_day) == ("R²", False, day)
        assert taxi.quality == pytest.approx(r2)


def test_the_filters_keep_the_projects_they_name(demo: BridgedDemo) -> None:
    assert filter_options(demo.grafana_dsn) == (sorted([NO_OWNER, "risk"]), ["tier=critical"])
    assert [r.project for r in fleet_table(demo.grafana_dsn, as_of=AS_OF, owners=["risk"])] == [CREDIT]
    assert [r.project for r in fleet_table(demo.grafana_dsn, as_of=AS_OF, owners=[NO_OWNER])] == [TAXI]
    assert [r.project for r in fleet_table(demo.grafana_dsn, as_of=AS_OF, tags=["tier=critical"])] == [CREDIT]
    assert fleet_table(demo.grafana_dsn, as_of=AS_OF, owners=[NO_OWNER], tags=["tier=critical"]) == []


def test_the_alerts_are_grafanas_on_the_same_days(demo: BridgedDemo) -> None:
    with psycopg.connect(demo.grafana_dsn, autocommit=True) as conn:
        assert_agree(demo.grafana_dsn, conn, [FIRST + timedelta(days=i) for i in range(DEMO_WORKSPACE_DAYS)])


def test_where_the_fleet_is_read_and_an_unreadable_database_in_one_line(demo: BridgedDemo, pg_server: str) -> None:
    from evmon.config.loader import load_config

    config = load_config(demo.config_path)
    assert bridge_dsn(config, {"EVMON_PG_DSN": demo.dsn}) == demo.dsn
    assert bridge_dsn(config, {}) is None  # the embedded server: only the bridge knows its password
    with pytest.raises(FleetError, match="the bridge has not created its tables yet"):
        fleet_table(pg_server)
    nobody = f"postgresql://evmon@127.0.0.1:{free_port()}/evmon"  # nothing listens there
    with pytest.raises(FleetError, match=r"^127\.0\.0\.1:[0-9]+/evmon: cannot read the fleet: ") as caught:
        fleet_table(nobody)
    assert "\n" not in str(caught.value)


def test_grafanas_overview_table_is_the_fleet_by_owner_and_tag(demo: BridgedDemo) -> None:
    """The Overview's Fleet panel, its SQL expanded as Grafana expands it, run AS Grafana's role: the library's
    rows for every choice of $owner and $tag."""
    from tests.grafana.checks import run
    from tests.grafana.grafana_sql import TimeRange
    from tests.grafana.provisioned import load_dashboards, panel_queries, resolve_variables

    overview = next(d for d in load_dashboards() if d["uid"] == "evmon-overview")
    [panel] = [q for q in panel_queries(overview) if q.title == "Fleet: the most trouble first"]
    window = TimeRange(AS_OF - timedelta(days=30), AS_OF)
    with psycopg.connect(demo.grafana_dsn, autocommit=True) as conn:
        offered = resolve_variables(conn, overview, window)
        assert (list(offered["owner"].options), list(offered["tag"].options)) == (
            [NO_OWNER, "risk"],
            ["tier=critical"],
        )
        for selected in ({}, {"owner": ["risk"]}, {"owner": [NO_OWNER]}, {"tag": ["tier=critical"]}):
            variables = resolve_variables(conn, overview, window, selected)
            result = run(conn, expand(panel.sql, variables, window))
            assert result.names == [c.name for c in FLEET_COLUMNS]
            shown = [dict(zip(result.names, row, strict=True)) for row in result.rows]
            library = fleet_table(demo.grafana_dsn, as_of=AS_OF, **{f"{k}s": v for k, v in selected.items()})
            assert [r["project"] for r in shown] == [r.project for r in library], selected
            for row, mine in zip(shown, library, strict=True):
                assert (row["owner"], row["days_missing"], row["last_day"]) == (
                    mine.owner,
                    mine.days_missing,
                    mine.last_day,
                )
                assert row["tags"] == (", ".join(mine.tag_labels) or None)
                assert row["drift_share"] == pytest.approx(mine.drift_share)
                assert row["quality_kind"] == ("estimated" if mine.quality_estimated else "realized")
