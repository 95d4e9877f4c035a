"""The workspace a config points at: its folder, and its storage backend chosen once, by name.

`ui.storage` in projects.yaml (or EVMON_UI_STORAGE, for docker-compose) names the backend; each
lives in its own module and is imported only when chosen (the Postgres one brings Evidently's
SQL storage, SQLAlchemy and Alembic).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from evmon.errors import ConfigError
from evmon.storage.base import Workspace

if TYPE_CHECKING:
    from evmon.config.model import EvmonConfig

UI_STORAGE_ENV = "EVMON_UI_STORAGE"  # files | postgres: overrides projects.yaml's ui.storage (docker-compose)
BACKENDS: dict[str, str] = {
    "files": "evmon.storage.files:FilesWorkspace",
    "postgres": "evmon.storage.postgres:PostgresWorkspace",
}


def backend(name: str) -> type[Workspace]:
    """The workspace class of a storage name; ConfigError naming the choices for another."""
    if name not in BACKENDS:
        raise ConfigError(f"{UI_STORAGE_ENV}={name!r}: expected {' or '.join(BACKENDS)}")
    module, _, cls = BACKENDS[name].partition(":")
    found: type[Workspace] = getattr(importlib.import_module(module), cls)
    return found


def workspace_root(config: EvmonConfig) -> Path:
    """The workspace folder a config points at; EVMON_WORKSPACE overrides the file's setting."""
    override = os.environ.get("EVMON_WORKSPACE")
    return Path(override) if override else config.resolve(config.workspace)


def workspace_for(config: EvmonConfig, storage: str | None = None, dsn: str | None = None) -> Workspace:
    """The workspace a config points at, its storage `storage` (default: EVMON_UI_STORAGE, else ui.storage).

    With `postgres`, its snapshots and dashboards live in the UI's database (`dsn`, else the
    config's); the folder keeps evmon's own state either way.
    """
    chosen = storage or os.environ.get(UI_STORAGE_ENV) or config.ui.storage
    return backend(chosen).from_config(workspace_root(config), config, dsn)
