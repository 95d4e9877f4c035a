"""The bridge's credentials on a server that checks passwords (an embedded PostgreSQL: scram-sha-256):
Grafana's password never in clear text and sent only when it changed, a bridge role without
CREATEROLE told once in one line, a wrong password said as such, a DSN libpq cannot read in one line.

Every command runs as the real `evmon`, in a process of its own; what the server saw is read from
its own log, with `log_statement = ddl` set on the test's database.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.postgres import embedded_server

pytestmark = pytest.mark.xdist_group("bridge_credentials")  # one embedded server for the module

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR) ")


@dataclass(frozen=True)
class Server:
    admin: str  # the superuser's DSN, database postgres
    port: int

    def dsn(self, database: str, user: str = "", password: str = "") -> str:
        if not user:
            return psycopg.conninfo.make_conninfo(self.admin, dbname=database)
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def log_size(self) -> int:
        with psycopg.connect(self.admin, autocommit=True) as conn:
            row = conn.execute("SELECT size FROM pg_stat_file('log/server.log')").fetchone()
        return int(row[0]) if row else 0

    def log_since(self, offset: int) -> str:
        """What the server logged after `offset` (read by the server itself: its files are its account's)."""
        with psycopg.connect(self.admin, autocommit=True) as conn:
            row = conn.execute("SELECT pg_read_file('log/server.log', %s, 10000000)", (offset,)).fetchone()
        return str(row[0]) if row else ""

    def run(self, statement: str) -> None:
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with embedded_server("evmon-test-credentials-") as admin:
        port = psycopg.conninfo.conninfo_to_dict(admin)["port"]
        yield Server(admin, int(str(port)))


@contextmanager
def database(server: Server, owner: str | None = None) -> Iterator[str]:
    """A new database whose sessions log every DDL statement (`owner` owns it), dropped afterwards."""
    name = f"evmon_cred_{uuid.uuid4().hex[:10]}"
    server.run(f"CREATE DATABASE {name}" + (f" OWNER {owner}" if owner else ""))
    server.run(f"ALTER DATABASE {name} SET log_statement = 'ddl'")
    try:
        yield name
    finally:
        server.run(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def roles(server: Server, *names: str) -> Iterator[None]:
    """Roles a test creates (its Grafana role, its bridge's role): dropped afterwards, with what they own."""
    try:
        yield
    finally:
        with psycopg.connect(server.admin, autocommit=True) as conn:
            for name in names:
                if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                    conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
                    conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def config(tmp_path: Path, text: str = "") -> Path:
    path = tmp_path / "projects.yaml"
    path.write_text(f"workspace: workspace\nprojects: []\n{text}")
    return path


def environment(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("EVMON_", "PG"))}
    return {**env, "DO_NOT_TRACK": "1", **extra}


def evmon(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evmon.cli", *args], capture_output=True, text=True, timeout=180, env=env, cwd=cwd
    )


def said(err: str) -> list[str]:
    """stderr without its log lines (what a user reads as the command's own words)."""
    return [line for line in err.splitlines() if line.strip() and not LOG_LINE.match(line)]


def logs_in(password: str, server: Server, role: str, database: str) -> bool:
    try:
        with psycopg.connect(server.dsn(database, role, password), connect_timeout=10) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.OperationalError as exc:
        assert "password authentication failed" in str(exc), exc
        return False


def alter_role_lines(log: str, role: str) -> list[str]:
    """The statements that set the role's password (its creation also sets jit = off, once)."""
    return [line for line in log.splitlines() if f'ALTER ROLE "{role}"' in line and "PASSWORD" in line]


def test_grafanas_password_is_sent_once_as_a_verifier_and_again_only_when_it_changed(
    server: Server, tmp_path: Path
) -> None:
    grafana = f"grafana_{uuid.uuid4().hex[:8]}"
    first, second = f"first-{uuid.uuid4().hex}", f"second-{uuid.uuid4().hex}"
    path = config(tmp_path)
    with roles(server, grafana), database(server) as db:

        def bridge(password: str) -> None:
            env = environment(EVMON_PG_DSN=server.dsn(db), EVMON_GRAFANA_ROLE=grafana, EVMON_GRAFANA_PASSWORD=password)
            done = evmon("-c", str(path), "bridge", "--once", env=env, cwd=tmp_path)
            assert done.returncode == 0, done.stderr

        start = server.log_size()
        bridge(first)
        bridge(first)
        bridge(first)
        log = server.log_since(start)
        assert first not in log
        assert f'ALTER ROLE "{grafana}" SET jit = off' in log  # created by the bridge: JIT off for its sessions
        sent = alter_role_lines(log, grafana)
        assert len(sent) == 1 and "PASSWORD 'SCRAM-SHA-256$4096:" in sent[0], sent
        assert logs_in(first, server, grafana, db) and not logs_in(second, server, grafana, db)

        start = server.log_size()
        bridge(second)
        bridge(second)
        log = server.log_since(start)
        assert second not in log and first not in log and len(alter_role_lines(log, grafana)) == 1
        assert logs_in(second, server, grafana, db) and not logs_in(first, server, grafana, db)

        # a password changed by hand is noticed (the bridge, a superuser, compares with pg_authid)
        server.run(f"ALTER ROLE {grafana} PASSWORD 'set-by-hand'")
        bridge(second)
        assert logs_in(second, server, grafana, db) and not logs_in("set-by-hand", server, grafana, db)


def test_a_bridge_role_with_createrole_only_keeps_the_verifier_where_grafana_cannot_read_it(
    server: Server, tmp_path: Path
) -> None:
    grafana, owner = f"grafana_{uuid.uuid4().hex[:8]}", f"bridge_{uuid.uuid4().hex[:8]}"
    first, second = f"first-{uuid.uuid4().hex}", f"second-{uuid.uuid4().hex}"
    path = config(tmp_path)
    with roles(server, grafana, owner):
        server.run(f"CREATE ROLE {owner} LOGIN CREATEROLE PASSWORD 'owner-pass'")
        with database(server, owner) as db:

            def bridge(password: str) -> None:
                env = environment(
                    EVMON_PG_DSN=server.dsn(db, owner, "owner-pass"),
                    EVMON_GRAFANA_ROLE=grafana,
                    EVMON_GRAFANA_PASSWORD=password,
                )
                done = evmon("-c", str(path), "bridge", "--once", env=env, cwd=tmp_path)
                assert done.returncode == 0, done.stderr

            start = server.log_size()
            bridge(first)
            bridge(first)
            log = server.log_since(start)
            assert first not in log and len(alter_role_lines(log, grafana)) == 1
            assert logs_in(first, server, grafana, db)

            start = server.log_size()
            bridge(second)
            bridge(second)
            log = server.log_since(start)
            assert second not in log and len(alter_role_lines(log, grafana)) == 1
            assert logs_in(second, server, grafana, db) and not logs_in(first, server, grafana, db)

            with psycopg.connect(server.dsn(db, grafana, second), autocommit=True) as conn:
                assert conn.execute("SELECT count(*) FROM evmon.metric_values").fetchone() == (0,)
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute("SELECT verifier FROM evmon_private.role_verifiers")


class Lines:
    """A process's stderr, line by line, as it comes."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        assert process.stderr is not None
        stream = process.stderr
        threading.Thread(target=lambda: [self._queue.put(line) for line in stream], daemon=True).start()

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while sum(pattern in line for line in self.seen) < count:
            try:
                self.seen.append(self._queue.get(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(
                    f"no {count} lines with {pattern!r} in {timeout}s:\n" + "".join(self.seen)
                ) from None

    def at(self, level: str, text: str) -> list[str]:
        return [line for line in self.seen if f" {level} " in line[:30] and text in line]


def test_a_bridge_role_without_createrole_is_one_line_once_per_reason(server: Server, tmp_path: Path) -> None:
    grafana, owner = f"grafana_{uuid.uuid4().hex[:8]}", f"bridge_{uuid.uuid4().hex[:8]}"
    path = config(tmp_path)
    with roles(server, grafana, owner):
        server.run(f"CREATE ROLE {owner} LOGIN PASSWORD 'owner-pass'")
        with database(server, owner) as db:
            env = environment(
                EVMON_PG_DSN=server.dsn(db, owner, "owner-pass"),
                EVMON_GRAFANA_ROLE=grafana,
                EVMON_GRAFANA_PASSWORD="grafana-pass",
            )
            cannot_create = (
                f'the bridge\'s role "{owner}" may not create Grafana\'s role "{grafana}" (permission denied to '
                f'create role): give it CREATEROLE (ALTER ROLE "{owner}" CREATEROLE), or create "{grafana}" '
                f"yourself (CREATE ROLE \"{grafana}\" LOGIN PASSWORD '...') and leave EVMON_GRAFANA_PASSWORD unset"
            )
            once = evmon("-c", str(path), "bridge", "--once", env=env, cwd=tmp_path)
            assert (once.returncode, said(once.stderr)) == (1, [f"Error: {cannot_create}"]), once.stderr
            assert (
                once.stdout
                == f"bridge: workspace {tmp_path / 'workspace'} -> Postgres (127.0.0.1:{server.port}/{db})\n"
            )

            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "evmon.cli",
                    "--log-level",
                    "debug",
                    "-c",
                    str(path),
                    "bridge",
                    "--interval",
                    "0.1",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                cwd=tmp_path,
            )
            lines = Lines(process)
            try:
                lines.wait_for(cannot_create, count=4)  # said once, then tried again quietly
                server.run(f"CREATE ROLE {grafana} LOGIN")  # made by hand: now its password cannot be set
                cannot_set = f'the bridge\'s role "{owner}" may not set the password of Grafana\'s role "{grafana}"'
                lines.wait_for(cannot_set, count=4)
                server.run(f"ALTER ROLE {owner} CREATEROLE")
                server.run(f"GRANT {grafana} TO {owner} WITH ADMIN OPTION")  # PostgreSQL 16+: to alter it
                lines.wait_for("Postgres accepts the bridge again")
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
            assert not [line for line in lines.seen if "Traceback" in line], "".join(lines.seen)
            assert len(lines.at("ERROR", cannot_create)) == 1 and len(lines.at("DEBUG", cannot_create)) >= 3
            assert len(lines.at("ERROR", cannot_set)) == 1 and len(lines.at("DEBUG", cannot_set)) >= 3
            assert lines.at("ERROR", cannot_set)[0].endswith("; trying again every 30s at most\n")
            assert logs_in("grafana-pass", server, grafana, db)


EXPECTED = "expected a libpq connection string (host=... dbname=...) or a postgresql:// URL"


def test_a_dsn_libpq_cannot_read_is_one_line_naming_where_it_came_from(tmp_path: Path) -> None:
    bogus, bogus_url = "host=127.0.0.1 dbname=x user=postgres bogus=1", "postgresql://postgres@127.0.0.1/x?bogus=1"
    option, parameter = 'invalid connection option "bogus"', 'invalid URI query parameter: "bogus"'
    cases = [
        ("", {"EVMON_PG_DSN": bogus}, ["bridge", "--once"], f"EVMON_PG_DSN: {option}"),
        (f"bridge: {{dsn: '{bogus_url}'}}\n", {}, ["bridge", "--once"], f"{{path}} bridge.dsn: {parameter}"),
        ("", {"EVMON_UI_DSN": bogus}, ["migrate-ui", "--to", "postgres"], f"EVMON_UI_DSN: {option}"),
        ("", {}, ["migrate-ui", "--to", "files", "--dsn", bogus_url], f"--dsn: {parameter}"),
        (f"ui: {{storage: postgres, dsn: '{bogus}'}}\n", {}, ["ui", "--port", "1"], f"{{path}} ui.dsn: {option}"),
        (
            f"ui: {{storage: postgres}}\nbridge: {{dsn: '{bogus}'}}\n",
            {},
            ["ui", "--port", "1"],
            f"{{path}} bridge.dsn: {option}",
        ),
    ]
    for number, (text, env, args, message) in enumerate(cases):
        folder = tmp_path / str(number)
        folder.mkdir()
        path = config(folder, text)
        done = evmon("-c", str(path), *args, env=environment(**env), cwd=folder)
        expected = f"Error: {message.format(path=path)}; {EXPECTED}"
        assert (done.returncode, done.stdout, done.stderr) == (2, "", expected + "\n"), (args, done.stderr)


def test_a_wrong_password_is_authentication_failed_not_unreachable(server: Server, tmp_path: Path) -> None:
    wrong = server.dsn("postgres", "postgres", "wrong-password")
    failed = 'password authentication failed for user "postgres"'
    path = config(tmp_path)

    bridge = evmon("-c", str(path), "bridge", "--once", env=environment(EVMON_PG_DSN=wrong), cwd=tmp_path)
    where = f"127.0.0.1:{server.port}"
    expected = f"Error: Postgres at {where}/postgres: {failed} (check the password in EVMON_PG_DSN)"
    assert (bridge.returncode, said(bridge.stderr)) == (1, [expected]), bridge.stderr

    migrate = evmon(
        "-c", str(path), "migrate-ui", "--to", "postgres", env=environment(EVMON_UI_DSN=wrong), cwd=tmp_path
    )
    expected = f"Error: the Evidently UI's database postgres on {where}: {failed} (check the password in EVMON_UI_DSN)"
    assert (migrate.returncode, said(migrate.stderr)) == (1, [expected]), migrate.stderr

    (tmp_path / "ui").mkdir()
    ui_path = config(tmp_path / "ui", f"ui: {{storage: postgres, dsn: '{wrong}'}}\n")
    ui = evmon("-c", str(ui_path), "ui", "--port", "1", env=environment(), cwd=tmp_path)
    expected = (
        f"Error: the Evidently UI's database postgres on {where}: {failed} (check the password in {ui_path} ui.dsn)"
    )
    assert (ui.returncode, ui.stdout, said(ui.stderr)) == (1, "", [expected]), ui.stderr

    process = subprocess.Popen(
        [sys.executable, "-m", "evmon.cli", "--log-level", "debug", "-c", str(path), "bridge", "--interval", "0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(EVMON_PG_DSN=wrong),
        cwd=tmp_path,
    )
    lines = Lines(process)
    try:
        lines.wait_for(failed, count=4)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert len(lines.at("ERROR", failed)) == 1 and not [line for line in lines.seen if "unreachable" in line]
