"""Grafana's SELECT-only role: created, granted read access to schema evmon, and its password set only
when it changed, never in clear text.

The password (EVMON_GRAFANA_PASSWORD) is sent as a SCRAM-SHA-256 verifier computed here, by libpq
(``PQencryptPasswordConn``, what psql's ``\\password`` uses): the statement, and so the server's
log under ``log_statement=ddl``, holds the verifier, never the password.

Whether it changed, without keeping the password anywhere: the password is hashed with the salt
and iteration count of the verifier the role has, and compared (bridge/scram.py). That verifier
is read from ``pg_authid`` when the bridge's role may (a superuser: the embedded server, the
Docker Postgres); a role that may not (one with CREATEROLE only, as on managed Postgres) reads
the one the bridge set last instead, kept in ``evmon_private.role_verifiers``: a schema nobody
is granted, so only the bridge's role and superusers read it, never Grafana. pg_authid's is the
truth (a password changed by hand is noticed); the kept one is the bridge's own memory (a change
by hand stays until EVMON_GRAFANA_PASSWORD changes; a dropped and re-created role, another oid,
gets the password again).

Creating the role and setting its password need CREATEROLE (from PostgreSQL 16, altering a role
also needs the ADMIN option on it, which its creator has): without it, one line says so.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from evmon.bridge import scram
from evmon.bridge.settings import GRAFANA_PASSWORD_ENV, GrafanaRole
from evmon.dsn import first_line
from evmon.errors import BridgeError

log = logging.getLogger(__name__)

V11_PRIVATE = """
CREATE SCHEMA IF NOT EXISTS evmon_private;
COMMENT ON SCHEMA evmon_private IS 'evmon bridge: what Grafana''s role must not read (granted to nobody)';
CREATE TABLE evmon_private.role_verifiers (
    role_oid    oid PRIMARY KEY,
    verifier    text NOT NULL,
    set_at      timestamptz NOT NULL DEFAULT now()
)
"""


def create_role(conn: psycopg.Connection, role: GrafanaRole) -> None:
    """Create the role if missing (cluster-wide: it may exist from another database), JIT off for its
    sessions, and grant it. A role created by someone else keeps its settings."""
    ident = sql.Identifier(role.name)
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role.name,)).fetchone() is None:
        try:
            with conn.transaction():  # a savepoint: another database's migration may create it meanwhile
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE").format(ident))
                # the fleet table's one query of small index lookups: JIT would compile it first, for seconds
                conn.execute(sql.SQL("ALTER ROLE {} SET jit = off").format(ident))
        except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
            pass
        except psycopg.errors.InsufficientPrivilege as exc:
            user = conn.info.user
            raise BridgeError(
                f'the bridge\'s role "{user}" may not create Grafana\'s role "{role.name}" ({first_line(exc)}): '
                f'give it CREATEROLE (ALTER ROLE "{user}" CREATEROLE), or create "{role.name}" yourself '
                f"(CREATE ROLE \"{role.name}\" LOGIN PASSWORD '...') and leave {GRAFANA_PASSWORD_ENV} unset"
            ) from exc
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


def set_password(conn: psycopg.Connection, role: GrafanaRole) -> bool:
    """Give the role its password from the environment unless it has it already; whether it was set.

    Runs inside the caller's transaction (the role's advisory lock held).
    """
    if role.password is None:
        return False
    row = conn.execute("SELECT oid FROM pg_roles WHERE rolname = %s", (role.name,)).fetchone()
    if row is None:
        return False
    oid = row[0]
    readable = conn.execute("SELECT has_table_privilege('pg_catalog.pg_authid', 'SELECT')").fetchone()
    authid = bool(readable and readable[0])
    if authid:
        current = conn.execute("SELECT rolpassword FROM pg_catalog.pg_authid WHERE oid = %s", (oid,)).fetchone()
    else:
        current = conn.execute(
            "SELECT verifier FROM evmon_private.role_verifiers WHERE role_oid = %s", (oid,)
        ).fetchone()
    if current is not None and scram.matches(role.password, current[0]):
        return False
    secret = role.password.encode("utf-8", "surrogateescape")
    verifier = conn.pgconn.encrypt_password(secret, role.name.encode(), b"scram-sha-256").decode()
    statement = sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(sql.Identifier(role.name), sql.Literal(verifier))
    try:
        conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege as exc:
        user = conn.info.user
        raise BridgeError(
            f'the bridge\'s role "{user}" may not set the password of Grafana\'s role "{role.name}" '
            f"({first_line(exc)}): "
            f'give it CREATEROLE (ALTER ROLE "{user}" CREATEROLE; from PostgreSQL 16 also the ADMIN option on '
            f'"{role.name}"), or set that password yourself and leave {GRAFANA_PASSWORD_ENV} unset'
        ) from exc
    if not authid:
        conn.execute(
            """INSERT INTO evmon_private.role_verifiers (role_oid, verifier) VALUES (%s, %s)
               ON CONFLICT (role_oid) DO UPDATE SET verifier = excluded.verifier, set_at = now()""",
            (oid, verifier),
        )
    log.info("Grafana's role %s: password set from %s (as a SCRAM-SHA-256 verifier)", role.name, GRAFANA_PASSWORD_ENV)
    return True
