"""Writing to the bridge's schema: each snapshot replaced in one transaction, bulk-loaded with COPY.

A snapshot is replaced like this, in ONE transaction (a crash leaves the old version or the new
one, never half of one): upsert its evmon.snapshots row (which also locks it against a second
bridge doing the same), delete its old values and tests, COPY the new values into a temporary
staging table, move them into evmon.metric_values with INSERT ... ON CONFLICT DO UPDATE (the
unique key makes a re-ingest an upsert even when two bridges race), then the tests.

The session runs with synchronous_commit off: a Postgres crash may forget the last commits,
but it forgets the matching evmon.snapshots rows with them, so the next sync re-ingests those
files from the workspace, which stays the source of truth. Nothing is lost or duplicated.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from evmon.bridge import rollups
from evmon.bridge.parse import SnapshotRecord
from evmon.drift import drift_verdict
from evmon.snapshot.flatten import MetricRow
from evmon.storage.base import ProjectEntry, SnapshotFile
from evmon.storage.quarantine import QuarantineRecord
from evmon.storage.runlog import RunRecord

_VALUE_COLUMNS = (
    "snapshot_id",
    "project",
    "kind",
    "timestamp",
    "metric_id",
    "metric_type",
    "display_name",
    "column",
    "label",
    "value_kind",
    "value",
    "params",
    "drift_detected",
    "segment",
)
_COLS = ", ".join(f'"{c}"' for c in _VALUE_COLUMNS)
_UPDATE = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in _VALUE_COLUMNS[1:])
_STAGING = "evmon_staging_values"


@dataclass(frozen=True)
class FileState:
    """What Postgres holds about one snapshot file."""

    project_id: uuid.UUID
    size: int
    mtime_ns: int


def _text(value: str | None) -> str | None:
    """Postgres text cannot hold NUL characters."""
    return value if value is None or "\x00" not in value else value.replace("\x00", "\ufffd")


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, dict):
        return {_text(str(k)): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def json_text(value: Any) -> str:
    """JSON for a jsonb column: jsonb has no NaN and no \\u0000, so those become strings."""
    try:
        text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (ValueError, TypeError):
        return json.dumps(_json_safe(value), default=str, separators=(",", ":"))
    return text if "\\u0000" not in text else json.dumps(_json_safe(value), default=str, separators=(",", ":"))


def _drift_detected(row: MetricRow) -> bool | None:
    """Evidently's verdict of a ValueDrift row (evmon.drift's rules), None for every other row."""
    if row.metric_type != "ValueDrift":
        return None
    try:
        threshold = float(row.params["threshold"])
    except (KeyError, TypeError, ValueError):
        return None
    return drift_verdict(row.params.get("method"), row.value, threshold)


class Store:
    """The bridge's reads and writes on one autocommit connection; each write unit is one transaction."""

    def __init__(self, conn: psycopg.Connection) -> None:
        if not conn.autocommit:
            raise ValueError("Store needs an autocommit connection (it opens its own transactions)")
        self.conn = conn
        conn.execute("SET synchronous_commit TO off")
        conn.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} "
            "(LIKE evmon.metric_values INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )

    # what Postgres holds
    def file_states(self) -> dict[uuid.UUID, FileState]:
        rows = self.conn.execute("SELECT snapshot_id, project_id, file_size, file_mtime_ns FROM evmon.snapshots")
        states = {r[0]: FileState(r[1], r[2], r[3]) for r in rows}
        return states

    def error_states(self) -> dict[uuid.UUID, FileState]:
        rows = self.conn.execute("SELECT snapshot_id, project_id, file_size, file_mtime_ns FROM evmon.ingest_errors")
        states = {r[0]: FileState(r[1], r[2], r[3]) for r in rows}
        return states

    def projects(self) -> dict[uuid.UUID, tuple[str, str]]:
        rows = self.conn.execute("SELECT project_id, name, description FROM evmon.projects").fetchall()
        return {r[0]: (r[1], r[2]) for r in rows}

    # projects
    def upsert_projects(self, entries: Sequence[ProjectEntry]) -> None:
        """Insert new projects, update renamed ones (and the names their rows carry)."""
        if not entries:
            return
        with self.conn.transaction():
            for entry in entries:
                old = self.conn.execute(
                    "SELECT name FROM evmon.projects WHERE project_id = %s FOR UPDATE", (entry.id,)
                ).fetchone()
                self.conn.execute(
                    """INSERT INTO evmon.projects (project_id, name, description) VALUES (%s, %s, %s)
                       ON CONFLICT (project_id) DO UPDATE
                       SET name = EXCLUDED.name, description = EXCLUDED.description, synced_at = now()""",
                    (entry.id, _text(entry.name), _text(entry.description)),
                )
                if old is not None and old[0] != entry.name:
                    self._rename(entry.id, old[0], _text(entry.name) or "")

    def _rename(self, project_id: uuid.UUID, old_name: str, name: str) -> None:
        ids = "SELECT snapshot_id FROM evmon.snapshots WHERE project_id = %s"
        for table in ("metric_values", "test_results"):
            self.conn.execute(
                f"UPDATE evmon.{table} SET project = %s WHERE snapshot_id IN ({ids})",
                (name, project_id),
            )
        self.conn.execute("UPDATE evmon.snapshots SET project = %s WHERE project_id = %s", (name, project_id))
        rollups.mark_renamed(self.conn, project_id, old_name, name)

    def delete_projects(self, ids: Iterable[uuid.UUID]) -> int:
        """Remove projects gone from the workspace, with everything of theirs."""
        wanted = list(ids)
        if not wanted:
            return 0
        with self.conn.transaction():
            rollups.mark_snapshots(self.conn, "project_id = ANY(%s)", (wanted,))
            self.conn.execute("DELETE FROM evmon.ingest_errors WHERE project_id = ANY(%s)", (wanted,))
            cur = self.conn.execute("DELETE FROM evmon.projects WHERE project_id = ANY(%s)", (wanted,))
            return cur.rowcount

    # snapshots
    def replace_snapshot(self, record: SnapshotRecord) -> None:
        """Store one snapshot's rows in place of whatever was there, in one transaction."""
        sid = record.snapshot_id
        conn = self.conn
        with conn.transaction():
            rollups.mark_snapshots(conn, "snapshot_id = %s", (sid,))  # its old day (the new one below)
            conn.execute(
                """INSERT INTO evmon.snapshots (snapshot_id, project_id, project, kind, name, "timestamp", day, rows,
                       labels, config_hash, tags, metadata, n_values, n_tests, file_path, file_size, file_mtime_ns,
                       ingested_at)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())
                   ON CONFLICT (snapshot_id) DO UPDATE SET project_id = EXCLUDED.project_id,
                       project = EXCLUDED.project, kind = EXCLUDED.kind, name = EXCLUDED.name,
                       "timestamp" = EXCLUDED."timestamp", day = EXCLUDED.day, rows = EXCLUDED.rows,
                       labels = EXCLUDED.labels, config_hash = EXCLUDED.config_hash, tags = EXCLUDED.tags,
                       metadata = EXCLUDED.metadata, n_values = EXCLUDED.n_values, n_tests = EXCLUDED.n_tests,
                       file_path = EXCLUDED.file_path, file_size = EXCLUDED.file_size,
                       file_mtime_ns = EXCLUDED.file_mtime_ns, ingested_at = now()""",
                (
                    sid,
                    record.project_id,
                    _text(record.project),
                    _text(record.kind),
                    _text(record.name),
                    record.timestamp,
                    record.day,
                    record.rows,
                    record.labels,
                    _text(record.config_hash),
                    [_text(t) for t in record.tags],
                    Jsonb(record.metadata, dumps=json_text),
                    len(record.values),
                    len(record.tests),
                    _text(record.path),
                    record.size,
                    record.mtime_ns,
                ),
            )
            rollups.mark_snapshots(conn, "snapshot_id = %s", (sid,))
            conn.execute("DELETE FROM evmon.metric_values WHERE snapshot_id = %s", (sid,))
            conn.execute("DELETE FROM evmon.test_results WHERE snapshot_id = %s", (sid,))
            self._copy_values(record)
            self._insert_tests(record)
            conn.execute("DELETE FROM evmon.ingest_errors WHERE snapshot_id = %s", (sid,))

    def _copy_values(self, record: SnapshotRecord) -> None:
        if not record.values:
            return
        project, kind, ts, sid = _text(record.project), _text(record.kind), record.timestamp, record.snapshot_id
        rows: dict[tuple[str, str, str | None], tuple[Any, ...]] = {}
        for v in record.values:
            # a key seen twice keeps its last value (Evidently's own storage would keep both)
            rows[(v.metric_id, v.value_kind, v.label)] = (
                sid,
                project,
                kind,
                ts,
                _text(v.metric_id),
                _text(v.metric_type),
                _text(v.display_name),
                _text(v.column),
                _text(v.label),
                _text(v.value_kind),
                v.value,
                json_text(v.params),
                _drift_detected(v),
                _text(v.segment),
            )
        with self.conn.cursor() as cur:
            with cur.copy(f"COPY {_STAGING} ({_COLS}) FROM STDIN") as copy:
                for row in rows.values():
                    copy.write_row(row)
            cur.execute(
                f"""INSERT INTO evmon.metric_values ({_COLS}) SELECT {_COLS} FROM {_STAGING}
                    ON CONFLICT ON CONSTRAINT metric_values_key DO UPDATE SET {_UPDATE}"""
            )  # the staging table empties itself at commit (ON COMMIT DELETE ROWS)

    def _insert_tests(self, record: SnapshotRecord) -> None:
        if not record.tests:
            return
        seq: dict[str, int] = {}
        rows = []
        for t in record.tests:
            seq[t.metric_id] = seq.get(t.metric_id, -1) + 1
            rows.append(
                (
                    record.snapshot_id,
                    _text(record.project),
                    _text(record.kind),
                    record.timestamp,
                    _text(t.metric_id),
                    seq[t.metric_id],
                    _text(t.test_id),
                    _text(t.name),
                    _text(t.description),
                    _text(t.status),
                )
            )
        cols = 'snapshot_id, project, kind, "timestamp", metric_id, seq, test_id, name, description, status'
        with self.conn.cursor() as cur, cur.copy(f"COPY evmon.test_results ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def delete_snapshots(self, ids: Iterable[uuid.UUID]) -> int:
        wanted = list(ids)
        if not wanted:
            return 0
        with self.conn.transaction():
            rollups.mark_snapshots(self.conn, "snapshot_id = ANY(%s)", (wanted,))
            self.conn.execute("DELETE FROM evmon.ingest_errors WHERE snapshot_id = ANY(%s)", (wanted,))
            return self.conn.execute("DELETE FROM evmon.snapshots WHERE snapshot_id = ANY(%s)", (wanted,)).rowcount

    def refresh_rollups(self) -> int:
        """Bring the weekly and monthly rollups up to date with the days written since the last refresh."""
        return rollups.refresh(self.conn)

    # unreadable files
    def record_error(self, file: SnapshotFile, size: int, mtime_ns: int, message: str) -> None:
        with self.conn.transaction():
            self.conn.execute(
                """INSERT INTO evmon.ingest_errors (snapshot_id, project_id, file_path, file_size, file_mtime_ns, error)
                   VALUES (%s, %s, %s, %s, %s, %s)
                   ON CONFLICT (snapshot_id) DO UPDATE SET project_id = EXCLUDED.project_id,
                       file_path = EXCLUDED.file_path, file_size = EXCLUDED.file_size,
                       file_mtime_ns = EXCLUDED.file_mtime_ns, error = EXCLUDED.error, reported_at = now()""",
                (file.snapshot_id, file.project_id, _text(str(file.path)), size, mtime_ns, _text(message)),
            )

    def clear_errors(self, ids: Iterable[uuid.UUID]) -> None:
        wanted = list(ids)
        if wanted:
            with self.conn.transaction():
                self.conn.execute("DELETE FROM evmon.ingest_errors WHERE snapshot_id = ANY(%s)", (wanted,))

    # the run log and other state
    def state(self, key: str) -> Any:
        row = self.conn.execute("SELECT value FROM evmon.sync_state WHERE key = %s", (key,)).fetchone()
        return None if row is None else row[0]

    def set_state(self, key: str, value: Any) -> None:
        with self.conn.transaction():
            self._set_state(key, value)

    def _set_state(self, key: str, value: Any) -> None:
        self.conn.execute(
            """INSERT INTO evmon.sync_state (key, value) VALUES (%s, %s)
               ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()""",
            (key, Jsonb(value)),
        )

    def replace_runs(self, records: Sequence[RunRecord], fingerprint: Any) -> None:
        """The run log's whole content in place of the previous export (and its fingerprint), atomically."""
        cols = (
            "run_id, project, day, kind, trigger, status, started_at, duration_s, rows, labels_included, "
            "snapshot_id, config_hash, evmon_version, error, started_by"
        )
        with self.conn.transaction():
            self.conn.execute("DELETE FROM evmon.runs")
            with self.conn.cursor() as cur, cur.copy(f"COPY evmon.runs ({cols}) FROM STDIN") as copy:
                for r in records:
                    started = r.started_at if r.started_at.tzinfo else r.started_at.replace(tzinfo=UTC)
                    copy.write_row(
                        (
                            _text(r.run_id),
                            _text(r.project),
                            r.day,
                            _text(r.kind),
                            _text(r.trigger),
                            _text(r.status),
                            started,
                            r.duration_s,
                            r.rows,
                            r.labels_included,
                            _text(r.snapshot_id),
                            _text(r.config_hash),
                            _text(r.evmon_version),
                            _text(r.error),
                            _text(r.started_by),
                        )
                    )
            self._set_state("runlog", fingerprint)

    def replace_quarantined(self, records: Sequence[QuarantineRecord], fingerprint: Any) -> None:
        """The quarantine folder's records in place of the previous export (and its fingerprint), atomically."""
        rows = {
            r.quarantine_path: (
                _text(r.quarantine_path),
                r.snapshot_id,
                r.project_id,
                _text(r.project),
                _text(r.original_path),
                _text(r.reason),
                _text(r.found_by),
                datetime.fromisoformat(r.quarantined_at),
                r.size,
            )
            for r in records
        }
        cols = (
            "quarantine_path, snapshot_id, project_id, project, original_path, reason, found_by, quarantined_at, "
            "file_size"
        )
        with self.conn.transaction():
            self.conn.execute("DELETE FROM evmon.quarantined_files")
            with self.conn.cursor() as cur, cur.copy(f"COPY evmon.quarantined_files ({cols}) FROM STDIN") as copy:
                for row in rows.values():
                    copy.write_row(row)
            self._set_state("quarantine", fingerprint)

    def record_sync(self, summary: dict[str, Any]) -> None:
        self.set_state("last_sync", {**summary, "at": datetime.now(UTC).isoformat()})
