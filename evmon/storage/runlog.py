"""The run log: one row per project-day run (status, start, duration, rows, error).

It lives in the workspace (``.evmon/runs.sqlite3``, which the Evidently UI ignores), so the
workspace stays the one source of truth; the bridge exports it for service-health panels.
SQLite in WAL mode takes concurrent writers (backfill workers, the scheduler, the app).

The file's schema version is SQLite's ``user_version``; an older file is upgraded in place,
in one transaction, the first time it is opened (version 2: status 'busy', column started_by).

A run log that cannot be written (a full disk: SQLite cannot even grow the WAL index; a read-only
file system) raises RunLogError naming the file and, when it is full, the disk; the writers say
which run was not recorded and go on. Its readers then open it read-only (said once per process):
with SQLite's `mode=ro` where the WAL index is there to share, else as an immutable file when no
WAL frame is waiting in the -wal file (the only place it could hold rows the main file lacks).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal, NamedTuple
from urllib.parse import quote

from evmon.errors import RunLogError
from evmon.storage.disk import full_disk

RunStatus = Literal["ok", "skipped", "failed", "busy"]
RUNLOG_FILE = "runs.sqlite3"
SCHEMA_VERSION = 2
log = logging.getLogger(__name__)
_READ_ONLY: set[Path] = set()  # run logs this process reads read-only, said once each
_READ_ONLY_LOCK = threading.Lock()

_TABLE = """
CREATE TABLE {name} (
    run_id          TEXT PRIMARY KEY,
    project         TEXT NOT NULL,
    day             TEXT NOT NULL,
    kind            TEXT NOT NULL,
    trigger         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('ok', 'skipped', 'failed', 'busy')),
    started_at      TEXT NOT NULL,
    duration_s      REAL NOT NULL,
    rows            INTEGER,
    labels_included INTEGER,
    snapshot_id     TEXT,
    config_hash     TEXT,
    evmon_version   TEXT,
    error           TEXT,
    started_by      TEXT
)
"""
_INDEXES = """
CREATE INDEX IF NOT EXISTS runs_project_day ON runs (project, day);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at);
"""
_V1_COLUMNS = (
    "run_id, project, day, kind, trigger, status, started_at, duration_s, rows, labels_included, "
    "snapshot_id, config_hash, evmon_version, error"
)


@dataclass(frozen=True)
class RunRecord:
    """One finished run of one project-day."""

    project: str
    day: date
    status: RunStatus
    started_at: datetime
    duration_s: float
    kind: str = "daily"
    trigger: str = "cli"
    rows: int | None = None
    labels_included: bool | None = None
    snapshot_id: str | None = None
    config_hash: str | None = None
    evmon_version: str | None = None
    error: str | None = None
    started_by: str | None = None  # who asked for the run, where known (the app's signed-in user)
    run_id: str = ""


class LoggedRun(NamedTuple):
    """The few fields of a logged run that tallies need, read in bulk (see RunLog.appended)."""

    rowid: int
    project: str
    kind: str
    status: str
    day: str  # YYYY-MM-DD: compares as the date does
    duration_s: float
    rows: int | None


class RunLog:
    """Append and query the run log of one workspace."""

    def __init__(self, evmon_dir: Path) -> None:
        self.path = evmon_dir / RUNLOG_FILE

    def _open(self) -> sqlite3.Connection:
        """A connection that writes: the file created or upgraded, in WAL mode; RunLogError if it cannot."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise self._cannot("written", exc) from exc
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=60000")
            if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                _upgrade(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise self._cannot("written", exc) from exc
        return conn

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection to write with; what goes wrong is a RunLogError naming the file (and a full disk)."""
        with closing(self._open()) as conn:
            try:
                yield conn
            except sqlite3.Error as exc:
                raise self._cannot("written", exc) from exc

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A connection to read with: the writers' one, else (this process cannot write the file) read-only."""
        try:
            conn = self._open()
        except RunLogError as cannot_write:
            conn = self._open_read_only(cannot_write)
        else:
            with _READ_ONLY_LOCK:
                if self.path in _READ_ONLY:
                    _READ_ONLY.discard(self.path)
                    log.info("the run log %s can be written again", self.path)
        with closing(conn):
            try:
                yield conn
            except sqlite3.Error as exc:
                raise self._cannot("read", exc) from exc

    def _open_read_only(self, cannot_write: RunLogError) -> sqlite3.Connection:
        """The file opened read-only: SQLite's mode=ro (it shares the WAL index others keep), else immutable."""
        uri = f"file:{quote(str(self.path.absolute()))}?mode=ro"
        wal = Path(f"{self.path}-wal")
        waiting = wal.exists() and wal.stat().st_size > 0  # WAL frames: rows an immutable read would miss
        failure: sqlite3.Error | None = None
        for suffix in ("", "&immutable=1"):
            if suffix and waiting:
                break
            try:
                conn = sqlite3.connect(uri + suffix, uri=True, timeout=60, isolation_level=None)
            except sqlite3.Error as exc:
                failure = exc
                continue
            try:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the first read opens the WAL index
            except sqlite3.Error as exc:
                conn.close()
                failure = exc
                continue
            with _READ_ONLY_LOCK:
                if self.path not in _READ_ONLY:
                    _READ_ONLY.add(self.path)
                    log.warning("%s; reading it read-only, runs are not recorded meanwhile", cannot_write)
            return conn
        raise RunLogError(f"{cannot_write}; nor can it be read read-only: {failure or 'its -wal file holds runs'}")

    def _cannot(self, what: str, exc: BaseException) -> RunLogError:
        """'the run log P cannot be written: the disk at /mnt (/dev/sdb1, ext4) is full: 0 bytes free'."""
        reason = full_disk(self.path, exc) or (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc))
        return RunLogError(f"the run log {self.path} cannot be {what}: {reason}")

    def ensure(self) -> None:
        """Create (or upgrade) the file now, in WAL mode: before worker processes open it together.

        Two first openers race on switching a new file to WAL; the loser writes in rollback-journal
        mode meanwhile and, if killed, leaves a journal beside the file (recovered at the next open).
        """
        with self._connect():
            pass

    def append(self, record: RunRecord) -> str:
        run_id = record.run_id or str(uuid.uuid4())
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    record.project,
                    record.day.isoformat(),
                    record.kind,
                    record.trigger,
                    record.status,
                    record.started_at.isoformat(),
                    record.duration_s,
                    record.rows,
                    None if record.labels_included is None else int(record.labels_included),
                    record.snapshot_id,
                    record.config_hash,
                    record.evmon_version,
                    record.error,
                    record.started_by,
                ),
            )
        return run_id

    def records(self, project: str | None = None, since: datetime | None = None) -> list[RunRecord]:
        """Runs, oldest first, optionally of one project and started at or after `since`."""
        query = "SELECT * FROM runs WHERE 1=1"
        params: list[str] = []
        if project is not None:
            query += " AND project = ?"
            params.append(project)
        if since is not None:
            query += " AND started_at >= ?"
            params.append(since.isoformat())
        query += " ORDER BY started_at, run_id"
        if not self.path.exists():
            return []
        with self._reading() as conn:
            conn.row_factory = sqlite3.Row
            return [_record(row) for row in conn.execute(query, params)]

    def day_runs(self, project: str, first: date, last: date, kind: str = "daily") -> list[RunRecord]:
        """The runs of `project`'s days first..last (inclusive), oldest first."""
        if not self.path.exists():
            return []
        with self._reading() as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute(
                "SELECT * FROM runs WHERE project = ? AND kind = ? AND day BETWEEN ? AND ? ORDER BY started_at, run_id",
                (project, kind, first.isoformat(), last.isoformat()),
            ).fetchall()
        return [_record(row) for row in rows]

    def has_ok(self, project: str, day: date, kind: str = "daily") -> bool:
        """Whether `project`'s `day` has a successful run logged."""
        if not self.path.exists():
            return False
        with self._reading() as conn:
            row = conn.execute(
                "SELECT 1 FROM runs WHERE project = ? AND day = ? AND kind = ? AND status = 'ok' LIMIT 1",
                (project, day.isoformat(), kind),
            ).fetchone()
        return row is not None

    def latest_ok(self, project: str, kind: str = "daily") -> dict[date, RunRecord]:
        """For each day of `project`, its newest successful run."""
        if not self.path.exists():
            return {}
        with self._reading() as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute(
                "SELECT * FROM runs WHERE project = ? AND kind = ? AND status = 'ok' ORDER BY started_at",
                (project, kind),
            ).fetchall()
        return {date.fromisoformat(row["day"]): _record(row) for row in rows}

    def appended(self, after: int = 0) -> list[LoggedRun]:
        """The runs logged after row `after` (SQLite's rowid), in the order they were logged.

        Rows are only ever appended, so a reader that keeps the last rowid it saw reads each run once.
        """
        if not self.path.exists():
            return []
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT rowid, project, kind, status, day, duration_s, rows FROM runs WHERE rowid > ? ORDER BY rowid",
                (after,),
            ).fetchall()
        return [LoggedRun(*row) for row in rows]


def _upgrade(conn: sqlite3.Connection) -> None:
    """Bring the file to SCHEMA_VERSION in one transaction (a concurrent opener waits, then sees it done).

    Version 1 had no started_by and a status CHECK without 'busy'; SQLite cannot alter a CHECK,
    so the table is rebuilt with its rows.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'").fetchone()
            if exists is None:
                conn.execute(_TABLE.format(name="runs"))
            else:
                conn.execute(_TABLE.format(name="runs_v2"))
                conn.execute(f"INSERT INTO runs_v2 ({_V1_COLUMNS}) SELECT {_V1_COLUMNS} FROM runs")
                conn.execute("DROP TABLE runs")
                conn.execute("ALTER TABLE runs_v2 RENAME TO runs")
            for statement in filter(str.strip, _INDEXES.split(";")):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _record(row: sqlite3.Row) -> RunRecord:
    labels = row["labels_included"]
    return RunRecord(
        run_id=row["run_id"],
        project=row["project"],
        day=date.fromisoformat(row["day"]),
        kind=row["kind"],
        trigger=row["trigger"],
        status=row["status"],
        started_at=datetime.fromisoformat(row["started_at"]),
        duration_s=row["duration_s"],
        rows=row["rows"],
        labels_included=None if labels is None else bool(labels),
        snapshot_id=row["snapshot_id"],
        config_hash=row["config_hash"],
        evmon_version=row["evmon_version"],
        error=row["error"],
        started_by=row["started_by"] if "started_by" in row.keys() else None,  # noqa: SIM118 (a Row: values)
    )
