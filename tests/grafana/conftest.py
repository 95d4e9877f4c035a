"""Real bridged demo data for the Grafana queries, built once per session.

`grafana_workspace`: 35 days of both demo projects. Eight project-days are computed with the real
runner (credit_scorecard: a clean labelled day, a feature-shift day, a fairness-gap day, the
missing-values spike, the outlier day, a concept-drift day, the last day (labels not in yet);
taxi_duration: the last day); every other
day is one of those real snapshots re-stamped as that day (same kind of day: an episode day gets
that episode's snapshot, a day inside the label lag an unlabelled one). The run log holds the real
runs plus a real skipped run (a day without data) and a real failed run (a config naming a column
the data lacks), and one truncated snapshot file (QUARANTINED_ID), which the bridge moves to the
quarantine (the Evidently UI could not load it). `grafana_db`: that workspace synced by the real
bridge into a fresh database, with a Grafana role of this session; `grafana_conn` connects AS that
role, with its password.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg import sql

from evmon.bridge.settings import GrafanaRole
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from tests.conftest import DEMO_END, DEMO_TODAY, absolute_paths
from tests.grafana.grafana_sql import TimeRange, day_start

CREDIT = "credit_scorecard"
TAXI = "taxi_duration"
ESTIMATING = {CREDIT}  # the demo's projects with presets.estimation (projects.yaml; taxi_duration has none)
DAYS = 35  # days of each project in the workspace: DEMO_END - 34 .. DEMO_END
FIRST_DAY = DEMO_END - timedelta(days=DAYS - 1)
CREDIT_LAG = 3  # projects.yaml label_lag_days of credit_scorecard
QUARANTINED_ID = uuid.UUID("0badf11e-0000-4000-8000-000000000001")  # a truncated file in credit_scorecard


def source_day(project: str, day: date, episodes: Any) -> date:
    """Which real snapshot stands in for `day`."""
    if project == TAXI:
        return DEMO_END
    if day > DEMO_END - timedelta(days=CREDIT_LAG):
        return DEMO_END  # labels not arrived yet
    if day in episodes.feature_shift:
        return episodes.feature_shift[1]
    if day in (episodes.missing_spike, episodes.outlier_spike):
        return day
    if day in episodes.fairness_gap:
        return episodes.fairness_gap[0]
    if day in episodes.concept_drift:
        return episodes.concept_drift[2]
    return episodes.clean[0]


def restamp(workspace: FilesWorkspace, project: str, source: Path, day: date) -> None:
    """Write `source`'s snapshot as `day`'s: new id, timestamp, name and metadata day (header only)."""
    data = source.read_bytes()
    cut = data.find(b', "metric_results": ')
    assert cut > 0, f"{source}: unexpected snapshot layout"
    head = json.loads(data[:cut] + b"}")
    head["timestamp"] = f"{day.isoformat()}T00:00:00"
    head["name"] = f"{project} {day.isoformat()}"
    head["metadata"] = {**head["metadata"], "day": day.isoformat()}
    payload = json.dumps(head).encode()[:-1] + data[cut:]
    workspace.write_snapshot(project_id(project), daily_snapshot_id(project, day), payload)


def _variant_config(demo_dir: Path, folder: Path) -> Any:
    """The demo config, except credit_scorecard names a column its data lacks (a real failure)."""
    from evmon.config.loader import load_config

    raw = yaml.safe_load((demo_dir / "projects.yaml").read_text())
    for project in raw["projects"]:
        absolute_paths(project, demo_dir)
    raw["projects"][0]["columns"]["numerical"].append("MonthsSinceBankruptcy")
    path = folder / "variant.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_config(path)


@pytest.fixture(scope="session")
def grafana_workspace(demo_dir: Path, demo_episodes: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from evmon.config.loader import load_config
    from evmon.run.batch import DayTask
    from evmon.run.day import run_day
    from evmon.run.many import run_many

    folder = tmp_path_factory.mktemp("grafana_ws")
    root = folder / "workspace"
    config = load_config(demo_dir / "projects.yaml")
    workspace = FilesWorkspace(root, staging=folder / ".staging")
    days = [FIRST_DAY + timedelta(days=i) for i in range(DAYS)]
    wanted = {(p, source_day(p, d, demo_episodes)) for p in (CREDIT, TAXI) for d in days}
    tasks = [DayTask(config.project(p), d) for p, d in sorted(wanted)]
    # compact=False: the days are copied as other days below, each a whole snapshot of its own
    results = run_many(config, tasks, workspace=workspace, workers=2, today=DEMO_TODAY, compact=False)
    assert all(r.outcome == "ok" for r in results), [r.line() for r in results]
    for project in (CREDIT, TAXI):
        for day in days:
            source = source_day(project, day, demo_episodes)
            if source != day:
                restamp(
                    workspace,
                    project,
                    workspace.snapshot_path(project_id(project), daily_snapshot_id(project, source)),
                    day,
                )
    skipped = run_day(config, config.project(CREDIT), date(2025, 12, 31), workspace=workspace, today=DEMO_TODAY)
    assert skipped.outcome == "skipped", skipped.line()
    broken = _variant_config(demo_dir, folder)
    failed = run_day(broken, broken.project(CREDIT), DEMO_END, workspace=workspace, today=DEMO_TODAY, trigger="test")
    assert failed.outcome == "failed", failed.line()
    some = workspace.snapshot_path(project_id(CREDIT), daily_snapshot_id(CREDIT, DEMO_END)).read_bytes()
    workspace.write_snapshot(project_id(CREDIT), QUARANTINED_ID, some[:4096])
    return root


@pytest.fixture(scope="session")
def grafana_role() -> GrafanaRole:
    """A Grafana role of this session (roles are cluster-wide: other sessions may use the default name)."""
    return GrafanaRole(f"evmon_grafana_t{uuid.uuid4().hex[:10]}", secrets.token_urlsafe(12))


@pytest.fixture(scope="session")
def grafana_db(pg_server: str, grafana_workspace: Path, grafana_role: GrafanaRole, demo_dir: Path) -> Iterator[str]:
    """A fresh database holding the workspace, synced by the real bridge (with the demo's alert thresholds from
    its projects.yaml, not its owners: tests/grafana/test_owner_routing.py writes those); its admin DSN."""
    from evmon.bridge import thresholds
    from evmon.bridge.sync import Bridge
    from evmon.config.loader import load_config

    name = f"evmon_grafana_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = psycopg.conninfo.make_conninfo(pg_server, dbname=name)
    try:
        config = load_config(demo_dir / "projects.yaml")
        bridge = Bridge(
            FilesWorkspace(grafana_workspace),
            dsn,
            settle_s=0.0,
            role=grafana_role,
            thresholds=thresholds.from_config_file(config),
        )
        result = bridge.sync_once()
        bridge.close()
        assert result.failed == [] and len(result.quarantined) == 1, result.line()
        assert result.ingested == 2 * DAYS, result.line()
        yield dsn
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(grafana_role.name)))


@pytest.fixture(scope="session")
def grafana_conn(grafana_db: str, grafana_role: GrafanaRole) -> Iterator[psycopg.Connection]:
    """A connection as Grafana makes it: the SELECT-only role, with its password."""
    conninfo = psycopg.conninfo.make_conninfo(grafana_db, user=grafana_role.name, password=grafana_role.password)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (grafana_role.name,)
        yield conn


@pytest.fixture(scope="session")
def session_now() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)


@pytest.fixture(scope="session")
def dashboard_range(session_now: datetime) -> TimeRange:
    """From before the first demo day to an hour from now: every snapshot and every run of the session."""
    return TimeRange(day_start(FIRST_DAY - timedelta(days=5)), session_now + timedelta(hours=1))
