"""The bridge's Postgres schema `evmon`: versioned migrations, views for Grafana, Grafana's role.

Each migration runs in one transaction together with the row recording it in
``evmon.schema_migrations``; concurrent migrators queue on an advisory lock, so a migration is
applied exactly once. Migrations are append-only: never edit one that has shipped, add the next.

Tables: projects, snapshots (one row per snapshot file, with the file's size and mtime so a sync
knows what it holds), metric_values (one row per value: the long table Grafana and users query;
its unique key makes re-ingest an upsert), test_results, runs (the scheduler's run log),
ingest_errors (files reported unreadable), quarantined_files (files moved out of the workspace
because the Evidently UI cannot load them, mirrored from the quarantine folder), sync_state,
alert_thresholds (each project's alert thresholds from projects.yaml: bridge/thresholds.py),
project_owners (each project's owner and tags from projects.yaml: bridge/owners.py). Views
are named for what Grafana shows. Grafana's role (bridge/role.py) reads schema evmon only; schema
evmon_private, granted to nobody, keeps the verifier of its password the bridge set.
Needs PostgreSQL 15 or later (UNIQUE NULLS NOT DISTINCT).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from evmon.bridge import rollups
from evmon.bridge.owners import V13_PROJECT_OWNERS
from evmon.bridge.role import V11_PRIVATE, create_role, grant_select, set_password
from evmon.bridge.schema_bands import V15_EMPIRICAL_BAND
from evmon.bridge.schema_explain import V16_EXPLANATIONS, V17_ATTRIBUTION_QUALITY
from evmon.bridge.schema_sql import (
    V1_TABLES,
    V3_VIEWS,
    V5_FAST_PANELS,
    V6_SEGMENTS,
    V8_QUARANTINE,
    V10_ESTIMATED_QUALITY,
    V12_FAIRNESS_OUTLIERS,
    V14_OUTLIER_QUALITY,
)
from evmon.bridge.settings import GrafanaRole
from evmon.drift import DRIFT_RULES
from evmon.errors import BridgeError

log = logging.getLogger(__name__)

SCHEMA = "evmon"
MIN_SERVER_VERSION = 150000
_LOCK_KEY = 0x65766D6F6E  # "evmon": serialises migrators across processes


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[psycopg.Connection, GrafanaRole], None]


def _sql(text: str) -> Callable[[psycopg.Connection, GrafanaRole], None]:
    def run(conn: psycopg.Connection, role: GrafanaRole) -> None:
        conn.execute(sql.SQL(text))

    return run


def _drift_methods(conn: psycopg.Connection, role: GrafanaRole) -> None:
    conn.execute(
        """CREATE TABLE evmon.drift_methods (
            method      text PRIMARY KEY,
            stattest    text NOT NULL,
            score_kind  text NOT NULL CHECK (score_kind IN ('p_value', 'distance')),
            drift_when  text NOT NULL CHECK (drift_when IN ('<', '<=', '>', '>='))
        )"""
    )
    with conn.cursor() as cur:
        rows = [(m, r.method, r.score, r.op) for r in DRIFT_RULES for m in {r.method, r.display_name}]
        cur.executemany("INSERT INTO evmon.drift_methods VALUES (%s, %s, %s, %s)", rows)


def _rollups(conn: psycopg.Connection, role: GrafanaRole) -> None:
    conn.execute(sql.SQL(rollups.TABLES))
    rollups.rebuild(conn)  # the rows already bridged (a savepoint inside the migration's transaction)
    grant_select(conn, role)


MIGRATIONS: list[Migration] = [
    Migration(1, "tables", _sql(V1_TABLES)),
    Migration(2, "drift methods", _drift_methods),
    Migration(3, "grafana views", _sql(V3_VIEWS)),
    Migration(4, "grafana role", create_role),
    Migration(5, "drift verdicts, quantile labels, covering index, prediction drift", _sql(V5_FAST_PANELS)),
    Migration(6, "quality segments and column-type labels in the covering index", _sql(V6_SEGMENTS)),
    Migration(7, "who started a run", _sql("ALTER TABLE evmon.runs ADD COLUMN started_by text")),
    Migration(8, "quarantined snapshot files", _sql(V8_QUARANTINE)),
    Migration(9, "weekly and monthly rollups of metric values", _rollups),
    Migration(10, "estimated quality beside the realized, and the estimate's record", _sql(V10_ESTIMATED_QUALITY)),
    Migration(
        11, "the verifier of Grafana's password the bridge set, in a schema granted to nobody", _sql(V11_PRIVATE)
    ),
    Migration(12, "fairness and outliers views, each project's alert thresholds", _sql(V12_FAIRNESS_OUTLIERS)),
    Migration(13, "each project's owner and tags", _sql(V13_PROJECT_OWNERS)),
    Migration(14, "the model's quality on outlier rows and on the others", _sql(V14_OUTLIER_QUALITY)),
    Migration(15, "the empirical band beside NannyML's, both bands' record", _sql(V15_EMPIRICAL_BAND)),
    Migration(16, "the model's attributions and their drift, with the nDCG's rollups", _sql(V16_EXPLANATIONS)),
    Migration(17, "the attributions on the days the realized quality fell", _sql(V17_ATTRIBUTION_QUALITY)),
]


def check_server(conn: psycopg.Connection) -> None:
    if conn.info.server_version < MIN_SERVER_VERSION:
        raise BridgeError(
            f"PostgreSQL {conn.info.server_version // 10000} at {conn.info.host}:{conn.info.port} is too old: "
            "the bridge needs PostgreSQL 15 or later"
        )


def migrate(conn: psycopg.Connection, role: GrafanaRole) -> list[int]:
    """Apply the migrations this database lacks; return their versions. Then the Grafana role's grants and
    password."""
    check_server(conn)
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute("CREATE SCHEMA IF NOT EXISTS evmon")
        conn.execute(
            """CREATE TABLE IF NOT EXISTS evmon.schema_migrations (
                version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"""
        )
    for migration in MIGRATIONS:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            done = conn.execute(
                "SELECT 1 FROM evmon.schema_migrations WHERE version = %s", (migration.version,)
            ).fetchone()
            if done is not None:
                continue
            migration.apply(conn, role)
            conn.execute(
                "INSERT INTO evmon.schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
            applied.append(migration.version)
            log.info("schema evmon: applied migration %d (%s)", migration.version, migration.name)
    _sync_role(conn, role)
    return applied


def _sync_role(conn: psycopg.Connection, role: GrafanaRole, attempts: int = 5) -> None:
    """Make sure the role exists with its grants and the environment's password (every start; the
    password is sent only when it changed: bridge/role.py).

    Roles are shared by all databases of a server: another database's bridge may update the
    same role at the same moment ("tuple concurrently updated"), so this retries.
    """
    for attempt in range(attempts):
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                create_role(conn, role)
                set_password(conn, role)
            return
        except psycopg.errors.InternalError_:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def schema_version(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT coalesce(max(version), 0) FROM evmon.schema_migrations").fetchone()
    return int(row[0]) if row else 0
