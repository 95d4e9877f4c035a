"""The benchmarks' Postgres: an admin DSN and throwaway databases on it."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from bridge.embedded import EmbeddedPostgres
from evmon.ui_process import free_port

LOCAL = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def admin_dsn(dsn_arg: str | None, *, try_local: bool) -> Iterator[str]:
    """--dsn, else EVMON_PG_DSN, else (with try_local) 127.0.0.1:5432 if it answers, else an embedded
    server configured as evmon ships it (bridge/embedded.py), removed afterwards."""
    dsn = dsn_arg or os.environ.get("EVMON_PG_DSN")
    if dsn is None and try_local:
        try:
            psycopg.connect(LOCAL, connect_timeout=2).close()
            dsn = LOCAL
        except psycopg.Error:
            dsn = None
    if dsn is not None:
        yield dsn
        return
    folder = Path(tempfile.mkdtemp(prefix="evmon-bench-pg-"))
    folder.chmod(0o711)
    server = EmbeddedPostgres(folder / "data", port=free_port())
    try:
        server.start()
        yield server.dsn("postgres")
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def fresh_database(admin: str, drop_role: str | None = None) -> Iterator[str]:
    """A new database on `admin`'s server, dropped afterwards (with `drop_role`, if given)."""
    name = f"evmon_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield psycopg.conninfo.make_conninfo(admin, dbname=name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            if drop_role is not None:
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(drop_role)))
