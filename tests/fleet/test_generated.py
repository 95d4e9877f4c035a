"""The fleet table of a generated bridge of many projects (tests/fleet/generated.py): each project's known
trouble shows in its row, the most trouble sorts first, the filters keep exactly the projects they name, and
the alerts are those Grafana's rules fire on the same rows."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import date, timedelta

import psycopg
import pytest

from evmon.bridge.settings import GrafanaRole
from evmon.fleet.sql import NO_OWNER
from evmon.fleet.table import FleetRow, filter_options, fleet_table
from tests.fleet.agree import assert_agree
from tests.fleet.generated import Generated, generate
from tests.postgres import throwaway_database

PROJECTS, DAYS, END = 40, 45, date(2026, 3, 31)


@pytest.fixture(scope="module")
def generated(pg_server: str) -> Iterator[tuple[Generated, str]]:
    """The generated bridge, and a DSN of Grafana's role on it."""
    role = GrafanaRole(f"evmon_grafana_g{uuid.uuid4().hex[:10]}", secrets.token_urlsafe(12))
    with throwaway_database(pg_server, "evmon_fleetgen_", drop_role=role.name) as dsn:
        gen = generate(dsn, PROJECTS, DAYS, END, role)
        yield gen, psycopg.conninfo.make_conninfo(dsn, user=role.name, password=role.password)


def expected_alerts(i: int) -> set[str]:
    troubles = {
        "evmon-dataset-drift": i % 7 == 1,
        "evmon-model-quality": i % 9 == 2,
        "evmon-failed-run": i % 13 == 4,
        "evmon-empty-columns": i % 17 == 5,
        "evmon-disparate-impact": i % 19 == 6,
    }
    return {uid for uid, on in troubles.items() if on}


def expected_missing(i: int) -> int:
    gaps = sum(1 for d in range(DAYS) if i % 11 == 3 and d % 10 == 9)
    failed_last = i % 13 == 4 and not (i % 11 == 3 and (DAYS - 1) % 10 == 9)
    return gaps + int(failed_last)


def test_each_projects_trouble_is_in_its_row(generated: tuple[Generated, str]) -> None:
    gen, dsn = generated
    rows = {r.project: r for r in fleet_table(dsn, as_of=gen.as_of)}
    assert len(rows) == PROJECTS
    for i in range(PROJECTS):
        row = rows[gen.name(i)]
        assert (row.owner, row.tags) == (gen.owner(i), gen.tags(i)), row.project
        assert set(row.alerts) == expected_alerts(i), row.project
        assert row.days_missing == expected_missing(i), row.project
        assert row.first_day == END - timedelta(days=DAYS - 1)
        assert row.last_status == ("failed" if i % 13 == 4 else "ok"), row.project
        assert row.fairness_flag == (i % 19 == 6) and not row.outlier_flag
        assert (row.quality_metric, row.quality_estimated) == ("ROC AUC", False)
        assert row.quality == pytest.approx(0.5 if i % 9 == 2 else 0.8)


def trouble(row: FleetRow) -> tuple[int, bool, int, float]:
    return (len(row.alerts), row.last_status == "failed", row.days_missing or 0, row.drift_share or 0.0)


def test_the_most_trouble_first(generated: tuple[Generated, str]) -> None:
    gen, dsn = generated
    rows = fleet_table(dsn, as_of=gen.as_of)
    assert [trouble(r) for r in rows] == sorted((trouble(r) for r in rows), reverse=True)
    assert len(rows[0].alerts) == max(len(expected_alerts(i)) for i in range(PROJECTS)) >= 2


def test_the_filters_keep_exactly_the_projects_they_name(generated: tuple[Generated, str]) -> None:
    gen, dsn = generated
    owners, tags = filter_options(dsn)
    assert owners == [NO_OWNER, "team-a", "team-b", "team-c"] and tags == ["tier=critical"]

    def names(**filters: list[str]) -> set[str]:
        return {r.project for r in fleet_table(dsn, as_of=gen.as_of, **filters)}

    every = range(PROJECTS)
    assert names(owners=["team-a"]) == {gen.name(i) for i in every if gen.owner(i) == "team-a"}
    assert names(owners=[NO_OWNER, "team-b"]) == {gen.name(i) for i in every if gen.owner(i) in (None, "team-b")}
    assert names(tags=["tier=critical"]) == {gen.name(i) for i in every if gen.tags(i)}
    both = names(owners=["team-c"], tags=["tier=critical"])
    assert both == {gen.name(i) for i in every if gen.owner(i) == "team-c" and gen.tags(i)} != set()


def test_the_alerts_are_grafanas_on_the_same_rows(generated: tuple[Generated, str]) -> None:
    _, dsn = generated
    with psycopg.connect(dsn, autocommit=True) as conn:
        seen = assert_agree(dsn, conn, [END - timedelta(days=2), END - timedelta(days=1), END])
    assert {"evmon-dataset-drift", "evmon-empty-columns", "evmon-model-quality", "evmon-disparate-impact"} <= seen
