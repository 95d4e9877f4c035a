"""Postgres for the tests and the benchmarks: find a server, start an embedded one, throwaway databases."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql


def system_dsn() -> str | None:
    """The admin DSN of the machine's own PostgreSQL on 127.0.0.1:5432 (trust auth), if it answers."""
    for user in ("postgres", "root"):
        dsn = f"postgresql://{user}@127.0.0.1:5432/postgres"
        try:
            with psycopg.connect(dsn, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            return dsn
        except psycopg.Error:
            continue
    return None


@contextmanager
def embedded_server(prefix: str) -> Iterator[str]:
    """An embedded PostgreSQL configured as evmon ships it (bridge/embedded.py); its admin DSN."""
    from evmon.bridge.embedded import EmbeddedPostgres
    from evmon.processes import free_port

    # not under pytest's tmp folders: as root the server runs as an unprivileged user, who
    # must be able to reach the data folder (pytest's are 0700)
    parent = Path(tempfile.mkdtemp(prefix=prefix))
    parent.chmod(0o711)
    server = EmbeddedPostgres(parent / "data", port=free_port())
    try:
        server.start()
        yield server.dsn("postgres")
    finally:
        server.stop()
        shutil.rmtree(parent, ignore_errors=True)


@contextmanager
def throwaway_database(admin: str, prefix: str, drop_role: str | None = None) -> Iterator[str]:
    """A new database on `admin`'s server, dropped afterwards (with the role `drop_role`, if given)."""
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield psycopg.conninfo.make_conninfo(admin, dbname=name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            if drop_role is not None:
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(drop_role)))
