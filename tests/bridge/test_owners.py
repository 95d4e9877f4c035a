"""evmon.project_owners: each project's owner and tags from projects.yaml, written by the bridge on every sync."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import psycopg
import pytest

from evmon.bridge import owners
from evmon.bridge.sync import Bridge
from evmon.config.loader import load_config
from evmon.storage.files import FilesWorkspace
from tests.conftest import write_config

TEAMS = {"risk": {"webhook_env": "RISK_WEBHOOK_URL"}, "mobility": {"slack_env": "MOBILITY_SLACK_URL"}}


def held(dsn: str) -> dict[str, tuple[str | None, dict[str, Any]]]:
    with psycopg.connect(dsn) as conn:
        return {p: (o, t) for p, o, t in conn.execute("SELECT project, owner, tags FROM evmon.project_owners")}


def test_the_bridge_writes_each_projects_owner_and_a_change_at_the_next_sync(
    tmp_path: Path, demo_dir: Path, pg_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_config(
        tmp_path / "projects.yaml",
        demo_dir,
        {"teams": TEAMS, "workspace": str(tmp_path / "ws")},
        credit_scorecard={"owner": "risk", "tags": {"tier": "critical"}},
        taxi_duration={},
    )
    config = load_config(path)
    bridge = Bridge(FilesWorkspace(tmp_path / "ws"), pg_dsn, owners=owners.from_config_file(config))
    bridge.sync_once()
    assert held(pg_dsn) == {"credit_scorecard": ("risk", {"tier": "critical"}), "taxi_duration": (None, {})}

    text = path.read_text()
    path.write_text(text.replace("owner: risk", "owner: mobility"))
    bridge.sync_once()
    assert held(pg_dsn)["credit_scorecard"] == ("mobility", {"tier": "critical"})

    # a projects.yaml that no longer loads keeps the owners last written, with one warning
    path.write_text(text.replace("owner: risk", "owner: nobody"))
    with caplog.at_level(logging.WARNING):
        bridge.sync_once()
        bridge.sync_once()
    assert held(pg_dsn)["credit_scorecard"] == ("mobility", {"tier": "critical"})
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "owners" in r.getMessage()]
    assert len(warnings) == 1 and "names team 'nobody'" in warnings[0], warnings

    # a project gone from projects.yaml keeps its row: its history keeps its owner
    write_config(
        path, demo_dir, {"teams": TEAMS, "workspace": str(tmp_path / "ws")}, taxi_duration={"owner": "mobility"}
    )
    bridge.sync_once()
    assert held(pg_dsn) == {"credit_scorecard": ("mobility", {"tier": "critical"}), "taxi_duration": ("mobility", {})}
    bridge.close()


def test_an_unchanged_config_writes_nothing(tmp_path: Path, demo_dir: Path, pg_dsn: str) -> None:
    config = load_config(write_config(tmp_path / "projects.yaml", demo_dir, {"teams": TEAMS}, taxi_duration={}))
    Bridge(FilesWorkspace(tmp_path / "ws"), pg_dsn).sync_once()  # the schema
    with psycopg.connect(pg_dsn) as conn:
        assert owners.write(conn, owners.owners_of(config)) is True
        assert owners.write(conn, owners.owners_of(config)) is False
