"""PostgreSQL connection strings as libpq reads them: checked, named without their password, and a
failed login told in one line.

A DSN is a libpq key=value string or a postgresql:// URL (SQLAlchemy's postgresql+psycopg:// too).
Every DSN evmon is given (EVMON_PG_DSN, bridge.dsn, EVMON_UI_DSN, ui.dsn, `--dsn`) is parsed by
libpq before use, so a bad option is one line naming where it came from, not a traceback.
psycopg is imported only when a DSN is looked at.
"""

from __future__ import annotations

import re

from evmon.errors import ConfigError

_DRIVER_PREFIX = "postgresql+psycopg://"
_AUTHENTICATION = re.compile(r'(?:\w+ )?authentication failed for user "[^"]*"')  # the server's words
_NO_PASSWORD = "no password supplied"  # libpq's, when the server asks for a password the DSN lacks
EXPECTED = "expected a libpq connection string (host=... dbname=...) or a postgresql:// URL"


def libpq_form(dsn: str) -> str:
    """The DSN as libpq reads it (SQLAlchemy's driver prefix made postgresql://)."""
    return "postgresql://" + dsn[len(_DRIVER_PREFIX) :] if dsn.startswith(_DRIVER_PREFIX) else dsn


def fields(dsn: str, source: str) -> dict[str, str]:
    """The DSN's fields as libpq parses them; ConfigError naming `source` when libpq cannot."""
    import psycopg

    try:
        return {key: str(value) for key, value in psycopg.conninfo.conninfo_to_dict(libpq_form(dsn)).items()}
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"{source}: {first_line(exc)}; {EXPECTED}") from exc


def where(dsn: str) -> str:
    """host:port/database of a DSN, for messages (never its password)."""
    import psycopg

    try:
        parts = psycopg.conninfo.conninfo_to_dict(libpq_form(dsn))
    except psycopg.ProgrammingError:
        return "(a DSN libpq cannot read)"
    return f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def login_refused(exc: BaseException, source: str | None = None) -> str | None:
    """What a failed connection says about its credentials, in one line; None when it failed otherwise.

    libpq reports a refused login only in words (no SQLSTATE before a session exists): the
    server's "password authentication failed for user ..." and libpq's "no password supplied".
    """
    text = str(exc)
    where_from = f" (check the password in {source})" if source else ""
    found = _AUTHENTICATION.search(text)
    if found is not None:
        return f"{found.group(0)}{where_from}"
    if _NO_PASSWORD in text:
        return f"authentication failed: the server asks for a password and none was given{where_from}"
    return None
