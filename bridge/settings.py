"""Where the bridge's Postgres comes from, and its other settings.

The DSN, in order: the EVMON_PG_DSN environment variable; projects.yaml ``bridge.dsn`` (its
``${VAR}`` references are replaced at load); else the embedded PostgreSQL (bridge/embedded.py)
in ``bridge.embedded_dir`` (default ``.evmon-pg`` beside projects.yaml) on 127.0.0.1 port
``bridge.embedded_port`` (default 54329).

Grafana's SELECT-only role: EVMON_GRAFANA_ROLE (default ``evmon_grafana``), its password from
EVMON_GRAFANA_PASSWORD (without one the role is created but cannot log in with a password; set
only when it changed, as a verifier: bridge/role.py). A DSN is checked where it is used (evmon/dsn.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from evmon.config.model import EvmonConfig
from evmon.storage.base import Workspace
from evmon.storage.registry import workspace_for

DSN_ENV = "EVMON_PG_DSN"
GRAFANA_ROLE_ENV = "EVMON_GRAFANA_ROLE"
GRAFANA_PASSWORD_ENV = "EVMON_GRAFANA_PASSWORD"
DEFAULT_GRAFANA_ROLE = "evmon_grafana"


@dataclass(frozen=True)
class BridgeTarget:
    """Where to sync to: a DSN, or None for the embedded server described by the other fields."""

    dsn: str | None
    source: str  # where the DSN came from, for messages: "EVMON_PG_DSN", "projects.yaml bridge.dsn", "embedded"
    embedded_dir: Path
    embedded_port: int
    interval_s: float

    @property
    def embedded(self) -> bool:
        return self.dsn is None


@dataclass(frozen=True)
class GrafanaRole:
    """The SELECT-only role Grafana connects as."""

    name: str
    password: str | None


def resolve_target(config: EvmonConfig, environ: Mapping[str, str] | None = None) -> BridgeTarget:
    """The bridge's Postgres for this config and environment."""
    env = os.environ if environ is None else environ
    settings = config.bridge
    embedded_dir = config.resolve(settings.embedded_dir)
    common = {
        "embedded_dir": embedded_dir,
        "embedded_port": settings.embedded_port,
        "interval_s": settings.interval_s,
    }
    if env.get(DSN_ENV):
        return BridgeTarget(dsn=env[DSN_ENV], source=DSN_ENV, **common)  # type: ignore[arg-type]
    if settings.dsn:
        return BridgeTarget(dsn=settings.dsn, source=f"{config.source_file} bridge.dsn", **common)  # type: ignore[arg-type]
    return BridgeTarget(dsn=None, source="embedded", **common)  # type: ignore[arg-type]


def grafana_role(environ: Mapping[str, str] | None = None) -> GrafanaRole:
    env = os.environ if environ is None else environ
    return GrafanaRole(env.get(GRAFANA_ROLE_ENV) or DEFAULT_GRAFANA_ROLE, env.get(GRAFANA_PASSWORD_ENV) or None)


def workspace_of(config: EvmonConfig) -> Workspace:
    """The workspace a config points at (evmon.storage.files.workspace_for: EVMON_WORKSPACE overrides)."""
    return workspace_for(config)
