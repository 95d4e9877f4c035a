"""Each project's owner and tags (projects.yaml `owner`, `tags`) in evmon.project_owners.

Written by the bridge on every sync, like the alert thresholds (bridge/thresholds.py) and for the
same reason: Grafana's alert rules and the fleet views join it (the owner and tags become labels of
each alert instance, the team routes it), and they cannot read projects.yaml. A project removed from
projects.yaml keeps its row, so its history keeps its owner; a project that sets no owner has a NULL
owner (alerts take the default route).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from evmon.bridge.config_watch import watched
from evmon.config.model import EvmonConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Owner:
    """Who owns one project, and its free tags."""

    owner: str | None
    tags: tuple[tuple[str, str], ...]


Owners = dict[str, Owner]  # project name -> its owner

# migration 13 (bridge/schema.py)
V13_PROJECT_OWNERS = """
CREATE TABLE evmon.project_owners (
    project     text PRIMARY KEY,
    owner       text,
    tags        jsonb NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT now()
);
"""


def owners_of(config: EvmonConfig) -> Owners:
    """Every project's owner and tags, as projects.yaml says."""
    return {p.name: Owner(p.owner, tuple(sorted(p.tags.items()))) for p in config.projects}


def from_config_file(config: EvmonConfig) -> Callable[[], Owners]:
    """The owners of `config`, then of its projects.yaml read again whenever the file changed."""
    return watched(config, owners_of, "project owners")


def write(conn: psycopg.Connection, owners: Owners) -> bool:
    """Upsert each project's row of evmon.project_owners (one transaction); whether anything changed."""
    with conn.transaction():
        held = {
            project: Owner(owner, tuple(sorted(tags.items())))
            for project, owner, tags in conn.execute("SELECT project, owner, tags FROM evmon.project_owners")
        }
        changed = {project: owner for project, owner in owners.items() if held.get(project) != owner}
        if not changed:
            return False
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO evmon.project_owners (project, owner, tags) VALUES (%s, %s, %s::jsonb) "
                "ON CONFLICT (project) DO UPDATE SET owner = EXCLUDED.owner, tags = EXCLUDED.tags, updated_at = now()",
                [(p, o.owner, json.dumps(dict(o.tags))) for p, o in sorted(changed.items())],
            )
    log.info("project owners: %d written", len(changed))
    return True
