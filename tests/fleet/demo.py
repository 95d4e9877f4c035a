"""The demo bridged into Postgres with owners: credit_scorecard owned by the team risk and tagged
tier=critical, taxi_duration without an owner (for the fleet's tests, the library's and the page's)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from evmon.bridge import owners, thresholds
from evmon.bridge.settings import GrafanaRole
from evmon.bridge.sync import Bridge
from evmon.config.loader import load_config
from evmon.storage.files import FilesWorkspace
from tests.conftest import write_config
from tests.postgres import throwaway_database

TEAMS = {"risk": {"webhook_env": "RISK_WEBHOOK_URL"}}
CREDIT_OWNER = {"owner": "risk", "tags": {"tier": "critical"}}


@dataclass(frozen=True)
class BridgedDemo:
    config_path: Path
    dsn: str  # the bridge's own (admin) DSN
    grafana_dsn: str  # Grafana's SELECT-only role, with its password


@contextmanager
def bridged_demo(pg_server: str, workspace: Path, demo_dir: Path, folder: Path) -> Iterator[BridgedDemo]:
    """`workspace` (read only) synced by the real bridge, with owners from a projects.yaml written in `folder`."""
    path = write_config(
        folder / "projects.yaml",
        demo_dir,
        {"teams": TEAMS, "workspace": str(workspace)},
        credit_scorecard=CREDIT_OWNER,
        taxi_duration={},
    )
    config = load_config(path)
    role = GrafanaRole(f"evmon_grafana_fl{uuid.uuid4().hex[:10]}", secrets.token_urlsafe(12))
    with throwaway_database(pg_server, "evmon_fleet_", drop_role=role.name) as dsn:
        bridge = Bridge(
            FilesWorkspace(workspace),
            dsn,
            settle_s=0.0,
            role=role,
            owners=owners.from_config_file(config),
            thresholds=thresholds.from_config_file(config),
        )
        result = bridge.sync_once()
        bridge.close()
        assert result.failed == [] and result.ingested > 0, result.line()
        grafana = psycopg.conninfo.make_conninfo(dsn, user=role.name, password=role.password)
        yield BridgedDemo(path, dsn, grafana)
