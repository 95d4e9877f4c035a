"""The bridge's Postgres schema `evmon`: versioned migrations, views for Grafana, Grafana's role.

Each migration runs in one transaction together with the row recording it in
``evmon.schema_migrations``; concurrent migrators queue on an advisory lock, so a migration is
applied exactly once. Migrations are append-only: never edit one that has shipped, add the next.

Tables: projects, snapshots (one row per snapshot file, with the file's size and mtime so a sync
knows what it holds), metric_values (one row per value: the long table Grafana and users query;
its unique key makes re-ingest an upsert), test_results, runs (the scheduler's run log),
ingest_errors (files reported unreadable), sync_state. Views are named for what Grafana shows.
Needs PostgreSQL 15 or later (UNIQUE NULLS NOT DISTINCT).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from bridge.settings import GrafanaRole
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


_V1_TABLES = """
CREATE TABLE evmon.projects (
    project_id   uuid PRIMARY KEY,
    name         text NOT NULL,
    description  text NOT NULL DEFAULT '',
    synced_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projects_name ON evmon.projects (name);

CREATE TABLE evmon.snapshots (
    snapshot_id    uuid PRIMARY KEY,
    project_id     uuid NOT NULL REFERENCES evmon.projects ON DELETE CASCADE,
    project        text NOT NULL,
    kind           text NOT NULL DEFAULT 'daily',
    name           text,
    "timestamp"    timestamptz NOT NULL,
    day            date,
    rows           bigint,
    labels         boolean,
    config_hash    text,
    tags           text[] NOT NULL DEFAULT '{}',
    metadata       jsonb NOT NULL DEFAULT '{}',
    n_values       integer NOT NULL,
    n_tests        integer NOT NULL,
    file_path      text NOT NULL,
    file_size      bigint NOT NULL,
    file_mtime_ns  bigint NOT NULL,
    ingested_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX snapshots_project_time ON evmon.snapshots (project, kind, "timestamp");
CREATE INDEX snapshots_project_id ON evmon.snapshots (project_id);

CREATE TABLE evmon.metric_values (
    snapshot_id   uuid NOT NULL REFERENCES evmon.snapshots ON DELETE CASCADE,
    project       text NOT NULL,
    kind          text NOT NULL,
    "timestamp"   timestamptz NOT NULL,
    metric_id     text NOT NULL,
    metric_type   text NOT NULL,
    display_name  text NOT NULL,
    "column"      text,
    label         text,
    value_kind    text NOT NULL,
    value         double precision,
    params        jsonb NOT NULL,
    CONSTRAINT metric_values_key UNIQUE NULLS NOT DISTINCT (snapshot_id, metric_id, value_kind, label)
);
-- Grafana: one project, one metric type, a time range
CREATE INDEX metric_values_project_metric_time ON evmon.metric_values (project, metric_type, "timestamp");

CREATE TABLE evmon.test_results (
    snapshot_id  uuid NOT NULL REFERENCES evmon.snapshots ON DELETE CASCADE,
    project      text NOT NULL,
    kind         text NOT NULL,
    "timestamp"  timestamptz NOT NULL,
    metric_id    text NOT NULL,
    seq          integer NOT NULL,
    test_id      text NOT NULL,
    name         text NOT NULL,
    description  text NOT NULL,
    status       text NOT NULL,
    PRIMARY KEY (snapshot_id, metric_id, seq)
);
CREATE INDEX test_results_project_time ON evmon.test_results (project, "timestamp");

CREATE TABLE evmon.runs (
    run_id           text PRIMARY KEY,
    project          text NOT NULL,
    day              date NOT NULL,
    kind             text NOT NULL,
    trigger          text NOT NULL,
    status           text NOT NULL,
    started_at       timestamptz NOT NULL,
    duration_s       double precision NOT NULL,
    rows             bigint,
    labels_included  boolean,
    snapshot_id      text,
    config_hash      text,
    evmon_version    text,
    error            text
);
CREATE INDEX runs_project_started ON evmon.runs (project, started_at);

CREATE TABLE evmon.ingest_errors (
    snapshot_id    uuid PRIMARY KEY,
    project_id     uuid NOT NULL,
    file_path      text NOT NULL,
    file_size      bigint NOT NULL,
    file_mtime_ns  bigint NOT NULL,
    error          text NOT NULL,
    reported_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE evmon.sync_state (
    key         text PRIMARY KEY,
    value       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
"""

# Evidently 0.7.23's drift methods (by name and by display name, as ValueDrift's `method` param
# holds either) and when a score means drift (evidently/legacy/calculations/stattests/*.py).
_DRIFT_METHODS = [
    ("anderson", "Anderson-Darling", "p_value", "<"),
    ("chisquare", "chi-square p_value", "p_value", "<"),
    ("cramer_von_mises", "Cramer-von Mises", "p_value", "<="),
    ("ed", "Energy-distance", "distance", ">"),
    ("es", "Epps-Singleton", "p_value", "<"),
    ("fisher_exact", "Fisher's Exact test", "p_value", "<"),
    ("g_test", "g_test", "p_value", "<"),
    ("hellinger", "Hellinger distance", "distance", ">="),
    ("jensenshannon", "Jensen-Shannon distance", "distance", ">="),
    ("kl_div", "Kullback-Leibler divergence", "distance", ">="),
    ("ks", "K-S p_value", "p_value", "<="),
    ("mannw", "Mann-Whitney U-rank test", "p_value", "<"),
    ("empirical_mmd", "empirical_mmd", "p_value", "<"),
    ("psi", "PSI", "distance", ">="),
    ("t_test", "t_test", "p_value", "<"),
    ("TVD", "Total-Variation-Distance", "p_value", "<"),
    ("wasserstein", "Wasserstein distance (normed)", "distance", ">="),
    ("z", "Z-test p_value", "p_value", "<"),
]


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
        rows = [(m, name, kind, op) for name, display, kind, op in _DRIFT_METHODS for m in {name, display}]
        cur.executemany("INSERT INTO evmon.drift_methods VALUES (%s, %s, %s, %s)", rows)


_V2_VIEWS = """
CREATE VIEW evmon.dataset_drift AS
SELECT v.project, v.kind, v.snapshot_id, v."timestamp", s.day,
       max(v.value) FILTER (WHERE v.value_kind = 'count') AS drifted_columns,
       max(v.value) FILTER (WHERE v.value_kind = 'share') AS drifted_share,
       max((v.params->>'drift_share')::double precision) AS drift_share_threshold,
       max(v.value) FILTER (WHERE v.value_kind = 'share')
         >= max((v.params->>'drift_share')::double precision) AS dataset_drift
FROM evmon.metric_values v JOIN evmon.snapshots s USING (snapshot_id)
WHERE v.metric_type = 'DriftedColumnsCount'
GROUP BY v.project, v.kind, v.snapshot_id, v."timestamp", s.day, v.metric_id;

CREATE VIEW evmon.column_drift AS
SELECT v.project, v.kind, v.snapshot_id, v."timestamp", s.day, v."column",
       v.params->>'method' AS method, m.stattest, m.score_kind,
       (v.params->>'threshold')::double precision AS threshold,
       v.value AS drift_score,
       CASE m.drift_when
           WHEN '<'  THEN v.value <  (v.params->>'threshold')::double precision
           WHEN '<=' THEN v.value <= (v.params->>'threshold')::double precision
           WHEN '>'  THEN v.value >  (v.params->>'threshold')::double precision
           WHEN '>=' THEN v.value >= (v.params->>'threshold')::double precision
       END AS drift_detected
FROM evmon.metric_values v
JOIN evmon.snapshots s USING (snapshot_id)
LEFT JOIN evmon.drift_methods m ON m.method = v.params->>'method'
WHERE v.metric_type = 'ValueDrift';

-- every data summary value (dataset-level ones have "column" NULL): metric types other than
-- drift and model quality; `metric` adds the value kind and quantile, e.g. MissingValueCount.share
CREATE VIEW evmon.data_quality AS
SELECT v.project, v.kind, v.snapshot_id, v."timestamp", s.day, v."column",
       v.metric_type
         || CASE WHEN v.value_kind <> 'value' THEN '.' || v.value_kind ELSE '' END
         || CASE WHEN v.params ? 'quantile' THEN '.' || (v.params->>'quantile') ELSE '' END AS metric,
       v.metric_type, v.value_kind, v.label, v.value, v.display_name
FROM evmon.metric_values v JOIN evmon.snapshots s USING (snapshot_id)
WHERE v.metric_type NOT IN ('ValueDrift', 'DriftedColumnsCount')
  AND NOT (v.params ? 'classification_name' OR v.params ? 'regression_name');

-- one row per snapshot: the dataset-level numbers of a data summary
CREATE VIEW evmon.dataset_summary AS
SELECT v.project, v.kind, v.snapshot_id, v."timestamp", s.day,
       max(v.value) FILTER (WHERE v.metric_type = 'RowCount') AS row_count,
       max(v.value) FILTER (WHERE v.metric_type = 'ColumnCount' AND NOT v.params ? 'column_type') AS column_count,
       max(v.value) FILTER (WHERE v.metric_type = 'DatasetMissingValueCount' AND v.value_kind = 'count')
         AS missing_values,
       max(v.value) FILTER (WHERE v.metric_type = 'DatasetMissingValueCount' AND v.value_kind = 'share')
         AS missing_values_share,
       max(v.value) FILTER (WHERE v.metric_type = 'DuplicatedRowCount') AS duplicated_rows,
       max(v.value) FILTER (WHERE v.metric_type = 'EmptyRowsCount') AS empty_rows,
       max(v.value) FILTER (WHERE v.metric_type = 'EmptyColumnsCount') AS empty_columns,
       max(v.value) FILTER (WHERE v.metric_type = 'ConstantColumnsCount') AS constant_columns,
       max(v.value) FILTER (WHERE v.metric_type = 'AlmostConstantColumnsCount') AS almost_constant_columns,
       max(v.value) FILTER (WHERE v.metric_type = 'DuplicatedColumnsCount') AS duplicated_columns,
       max(v.value) FILTER (WHERE v.metric_type = 'AlmostDuplicatedColumnsCount') AS almost_duplicated_columns
FROM evmon.metric_values v JOIN evmon.snapshots s USING (snapshot_id)
WHERE v."column" IS NULL
GROUP BY v.project, v.kind, v.snapshot_id, v."timestamp", s.day;

-- classification / regression quality, model-wide and per segment
CREATE VIEW evmon.quality_values AS
SELECT v.project, v.kind, v.snapshot_id, v."timestamp", s.day,
       CASE WHEN v.params ? 'classification_name' THEN 'classification' ELSE 'regression' END AS task,
       coalesce(v.params->>'classification_name', v.params->>'regression_name') AS segment,
       v.metric_type
         || CASE WHEN v.value_kind <> 'value' THEN '.' || v.value_kind ELSE '' END AS metric,
       v.metric_type, v.value_kind, v.label, v.value, v.display_name
FROM evmon.metric_values v JOIN evmon.snapshots s USING (snapshot_id)
WHERE v.params ? 'classification_name' OR v.params ? 'regression_name';

CREATE VIEW evmon.model_quality AS
SELECT project, kind, snapshot_id, "timestamp", day, task, metric, metric_type, value_kind, label, value,
       display_name
FROM evmon.quality_values WHERE segment = 'default';

-- segment = "<column>=<value>" (the scheduler's classification_name / regression_name)
CREATE VIEW evmon.segment_quality AS
SELECT project, kind, snapshot_id, "timestamp", day, task, segment,
       split_part(segment, '=', 1) AS segment_column,
       substr(segment, strpos(segment, '=') + 1) AS segment_value,
       metric, metric_type, value_kind, label, value, display_name
FROM evmon.quality_values WHERE segment <> 'default';

-- service health: per project, the last run, the last good one, recent failures, what is bridged
CREATE VIEW evmon.project_health AS
SELECT p.name AS project,
       (SELECT max(started_at) FROM evmon.runs r WHERE r.project = p.name) AS last_run_at,
       (SELECT status FROM evmon.runs r WHERE r.project = p.name ORDER BY started_at DESC LIMIT 1)
         AS last_run_status,
       (SELECT max(day) FROM evmon.runs r WHERE r.project = p.name AND r.status = 'ok') AS last_ok_day,
       (SELECT count(*) FROM evmon.runs r
         WHERE r.project = p.name AND r.status = 'failed' AND r.started_at > now() - interval '7 days')
         AS failed_runs_7d,
       (SELECT max(day) FROM evmon.snapshots s WHERE s.project_id = p.project_id AND s.kind = 'daily')
         AS last_snapshot_day,
       (SELECT count(*) FROM evmon.snapshots s WHERE s.project_id = p.project_id) AS snapshots,
       (SELECT count(*) FROM evmon.ingest_errors e WHERE e.project_id = p.project_id) AS unreadable_files
FROM evmon.projects p;
"""


def _grafana_role(conn: psycopg.Connection, role: GrafanaRole) -> None:
    """Create the SELECT-only role (cluster-wide: it may exist from another database) and grant it."""
    ident = sql.Identifier(role.name)
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role.name,)).fetchone()
    if exists is None:
        try:
            with conn.transaction():  # a savepoint: another database's migration may create it meanwhile
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE").format(ident))
        except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
            pass
    grant_select(conn, role)


def grant_select(conn: psycopg.Connection, role: GrafanaRole) -> None:
    """Read access to everything in schema evmon, nothing else (idempotent)."""
    ident = sql.Identifier(role.name)
    database = sql.Identifier(conn.info.dbname)
    for stmt in (
        "GRANT CONNECT ON DATABASE {db} TO {role}",
        "GRANT USAGE ON SCHEMA evmon TO {role}",
        "REVOKE CREATE ON SCHEMA evmon FROM {role}",
        "GRANT SELECT ON ALL TABLES IN SCHEMA evmon TO {role}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA evmon GRANT SELECT ON TABLES TO {role}",
    ):
        conn.execute(sql.SQL(stmt).format(db=database, role=ident))


MIGRATIONS: list[Migration] = [
    Migration(1, "tables", _sql(_V1_TABLES)),
    Migration(2, "drift methods", _drift_methods),
    Migration(3, "grafana views", _sql(_V2_VIEWS)),
    Migration(4, "grafana role", _grafana_role),
]


def check_server(conn: psycopg.Connection) -> None:
    if conn.info.server_version < MIN_SERVER_VERSION:
        raise BridgeError(
            f"PostgreSQL {conn.info.server_version // 10000} at {conn.info.host}:{conn.info.port} is too old: "
            "the bridge needs PostgreSQL 15 or later"
        )


def migrate(conn: psycopg.Connection, role: GrafanaRole) -> list[int]:
    """Apply the migrations this database lacks; return their versions. Then sync the role's password."""
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
    """Make sure the role exists with its grants and the environment's password (every start).

    Roles are shared by all databases of a server: another database's bridge may update the
    same role at the same moment ("tuple concurrently updated"), so this retries.
    """
    for attempt in range(attempts):
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                _grafana_role(conn, role)
                if role.password is not None:
                    conn.execute(
                        sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
                            sql.Identifier(role.name), sql.Literal(role.password)
                        )
                    )
            return
        except psycopg.errors.InternalError_:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def schema_version(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT coalesce(max(version), 0) FROM evmon.schema_migrations").fetchone()
    return int(row[0]) if row else 0
