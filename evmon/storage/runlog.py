"""The run log: one row per project-day run (status, start, duration, rows, error).

It lives in the workspace (``.evmon/runs.sqlite3``, which the Evidently UI ignores), so the
workspace stays the one source of truth; the bridge exports it for service-health panels.
SQLite in WAL mode takes concurrent writers (backfill workers, the scheduler, the app).

The file's schema version is SQLite's ``user_version``; an older file is upgraded in place,
in one transaction, the first time it is opened (version 2: status 'busy', column started_by).
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal, NamedTuple

RunStatus = Literal["ok", "skipped", "failed", "busy"]
RUNLOG_FILE = "runs.sqlite3"
SCHEMA_VERSION = 2

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

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=60, isolation_level=None)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=60000")
            if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                _upgrade(conn)
            yield conn

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
        with self._connect() as conn:
            conn.row_factory = sqlite3.Row
            return [_record(row) for row in conn.execute(query, params)]

    def has_ok(self, project: str, day: date, kind: str = "daily") -> bool:
        """Whether `project`'s `day` has a successful run logged."""
        if not self.path.exists():
            return False
        with self._connect() as conn:
            row = conn.execute(
                "SELECT 1 FROM runs WHERE project = ? AND day = ? AND kind = ? AND status = 'ok' LIMIT 1",
                (project, day.isoformat(), kind),
            ).fetchone()
        return row is not None

    def latest_ok(self, project: str, kind: str = "daily") -> dict[date, RunRecord]:
        """For each day of `project`, its newest successful run."""
        if not self.path.exists():
            return {}
        with self._connect() as conn:
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
        with self._connect() as conn:
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
        started_by=row["started_by"],
    )
