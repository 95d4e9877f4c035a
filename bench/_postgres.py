"""The benchmarks' Postgres: an admin DSN (throwaway databases: tests/postgres.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from tests.postgres import embedded_server, system_dsn


@contextmanager
def admin_dsn(dsn_arg: str | None, *, try_local: bool) -> Iterator[str]:
    """--dsn, else EVMON_PG_DSN, else (with try_local) 127.0.0.1:5432 if it answers, else an embedded
    server configured as evmon ships it (bridge/embedded.py), removed afterwards."""
    dsn = dsn_arg or os.environ.get("EVMON_PG_DSN") or (system_dsn() if try_local else None)
    if dsn is not None:
        yield dsn
        return
    with embedded_server("evmon-bench-pg-") as admin:
        yield admin
