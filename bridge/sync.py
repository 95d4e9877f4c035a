"""Keeping Postgres in step with the workspace: one sync, and the service loop around it.

A sync lists the workspace (directory listings and stat only) and compares every snapshot
file's (id, size, mtime_ns) with what evmon.snapshots holds: only new or changed files are
read, so a sync with nothing to do parses no file. Snapshots and projects gone from the
workspace are deleted. Each snapshot is replaced in one transaction (bridge/store.py), so a
sync killed at any point leaves Postgres consistent, and the next one finishes the job.

Unreadable files: a file that changes while it is read, or fails to parse while younger than
`settle_s`, is being written: it is retried next cycle, not reported. One that still fails
once settled is either quarantined, when the Evidently UI could not load it either (moved out of
the workspace by evmon/storage/quarantine.py: left there, it would make the UI fail for every project),
or reported once (logged with its path, recorded in evmon.ingest_errors with its size and mtime)
and skipped until it changes; the other files go on. The quarantine folder's records are mirrored
into evmon.quarantined_files.

While Postgres is unreachable the service tries again after 1 s, 2 s, then every 3 s: never more
than one connection attempt a second, and a server that comes back is noticed within 3 s. A
server that answers and refuses (a wrong password, a privilege the bridge's role lacks) is said
once per reason, in one line, and tried again backing off to every 30 s.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from evmon.bridge import owners as project_owners
from evmon.bridge.embedded import PASSWORD_FILE, EmbeddedPostgres
from evmon.bridge.owners import Owners
from evmon.bridge.parse import BadSnapshot, build_record
from evmon.bridge.result import SyncResult
from evmon.bridge.schema import migrate
from evmon.bridge.settings import GrafanaRole, grafana_role, resolve_target, workspace_of
from evmon.bridge.store import FileState, Store
from evmon.bridge.thresholds import Thresholds, from_config_file
from evmon.bridge.thresholds import write as write_thresholds
from evmon.config.model import EvmonConfig
from evmon.dsn import fields, first_line, login_refused, where
from evmon.errors import BridgeError, PostgresUnreachable, RunLogError
from evmon.storage.base import SnapshotFile, SnapshotInProgress, Workspace
from evmon.storage.quarantine import fingerprint as quarantine_fingerprint
from evmon.storage.quarantine import list_quarantined, loader_problem, quarantine_file
from evmon.storage.runlog import RunLog

log = logging.getLogger(__name__)

_SYNC_LOCK = 0x65766D6F6E + 1  # one sync at a time per database
DEFAULT_SETTLE_S = 2.0
RETRY_S = 1.0  # the first wait after Postgres became unreachable; doubled up to MAX_RETRY_S
MAX_RETRY_S = 3.0


def _connect_error(dsn: str, source: str, exc: Exception) -> BridgeError:
    """One line for a connection that failed: a refused login (not retried every few seconds), or Postgres
    not answering."""
    refused = login_refused(exc, source)
    if refused is not None:
        return BridgeError(f"Postgres at {where(dsn)}: {refused}")
    return PostgresUnreachable(f"Postgres at {where(dsn)} is unreachable: {first_line(exc)}")


class Bridge:
    """Syncs one workspace into one Postgres database."""

    def __init__(
        self,
        workspace: Workspace,
        dsn: str,
        *,
        settle_s: float = DEFAULT_SETTLE_S,
        role: GrafanaRole | None = None,
        connect_timeout: int = 5,
        source: str = "the bridge's DSN",
        thresholds: Callable[[], Thresholds] | None = None,  # each project's alert thresholds (bridge/thresholds.py)
        owners: Callable[[], Owners] | None = None,  # each project's owner and tags (bridge/owners.py)
    ) -> None:
        self.workspace = workspace
        _ = workspace.quarantine  # a misplaced EVMON_QUARANTINE is refused at start, in one line
        fields(dsn, source)  # a DSN libpq cannot read is one line naming where it came from (ConfigError)
        self.dsn = dsn
        self.source = source
        self.settle_s = settle_s
        self.role = role if role is not None else grafana_role()
        self.connect_timeout = connect_timeout
        self.thresholds = thresholds
        self.owners = owners
        self._store: Store | None = None
        self._warned_duplicates: set[uuid.UUID] = set()
        self._runlog_problem: str | None = None  # said once, until it changes or goes

    # connection
    def store(self) -> Store:
        """The open store, connecting (and migrating) first if needed; BridgeError if unreachable."""
        if self._store is not None and not self._store.conn.closed:
            return self._store
        try:
            conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=self.connect_timeout)
        except psycopg.OperationalError as exc:
            raise _connect_error(self.dsn, self.source, exc) from exc
        try:
            migrate(conn, self.role)
            self._store = Store(conn)
        except psycopg.OperationalError as exc:
            conn.close()
            raise _connect_error(self.dsn, self.source, exc) from exc
        except psycopg.errors.InsufficientPrivilege as exc:
            user = conn.info.user
            conn.close()
            raise BridgeError(
                f'Postgres at {where(self.dsn)} refuses the bridge\'s role "{user}": {first_line(exc)}'
            ) from exc
        except BaseException:
            conn.close()
            raise
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.conn.close()
            self._store = None

    # one sync
    def sync_once(self) -> SyncResult:
        """Bring Postgres in step with the workspace; BridgeError if Postgres is unreachable."""
        started = time.perf_counter()
        try:
            store = self.store()
            conn = store.conn
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (_SYNC_LOCK,)).fetchone()
            if not got or not got[0]:
                return SyncResult(busy=True, duration_s=time.perf_counter() - started)
            try:
                result = self._sync(store)
            finally:
                if not conn.closed and not conn.broken:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (_SYNC_LOCK,))
        except psycopg.OperationalError as exc:
            self.close()
            raise _connect_error(self.dsn, self.source, exc) from exc
        except BaseException:
            self.close()
            raise
        result.duration_s = time.perf_counter() - started
        if result.changed:
            store.record_sync(
                {
                    "ingested": result.ingested,
                    "deleted": result.deleted,
                    "failed": len(result.failed),
                    "quarantined": len(result.quarantined),
                }
            )
        return result

    def _sync(self, store: Store) -> SyncResult:
        result = SyncResult()
        projects = self.workspace.list_projects()
        files: dict[uuid.UUID, tuple[SnapshotFile, str]] = {}
        for project in projects:
            for file in self.workspace.list_snapshots(project.id):
                if file.snapshot_id in files:
                    self._warn_duplicate(file, files[file.snapshot_id][0])
                    continue
                files[file.snapshot_id] = (file, project.name)

        held = store.projects()
        changed = [p for p in projects if held.get(p.id) != (p.name, p.description)]
        store.upsert_projects(changed)
        states = store.file_states()
        errors = store.error_states()

        result.deleted = store.delete_snapshots(sid for sid in states if sid not in files)
        store.clear_errors(sid for sid in errors if sid not in files)
        live = {p.id for p in projects}
        result.projects_deleted = store.delete_projects(pid for pid in held if pid not in live)

        todo: list[tuple[SnapshotFile, str]] = []
        for sid, (file, name) in files.items():
            if _same(states.get(sid), file):
                result.unchanged += 1
            elif _same(errors.get(sid), file):
                result.known_bad += 1
            else:
                todo.append((file, name))
        todo.sort(key=lambda item: item[0].mtime_ns)
        for file, name in todo:
            self._ingest(store, file, name, result)
        result.rolled_up = store.refresh_rollups()
        if self.thresholds is not None:
            write_thresholds(store.conn, self.thresholds())
        if self.owners is not None:
            project_owners.write(store.conn, self.owners())
        result.runs_exported = self._export_runs(store)
        result.quarantine_exported = self._export_quarantine(store)
        return result

    def _ingest(self, store: Store, file: SnapshotFile, project: str, result: SyncResult) -> None:
        try:
            data, size, mtime_ns = self.workspace.read_listed(file)
        except FileNotFoundError:
            return  # deleted since the listing: the next sync removes its rows
        except SnapshotInProgress:
            result.pending.append(str(file.path))
            return
        except OSError as exc:
            self._report(store, file, file.size, file.mtime_ns, f"{file.path}: cannot read: {exc.strerror}", result)
            return
        try:
            record = build_record(
                file,
                project,
                data,
                size,
                mtime_ns,
                original=lambda: self.workspace.archived_bytes(file.project_id, file.snapshot_id),
            )
        except BadSnapshot as exc:
            if time.time() - mtime_ns / 1e9 < self.settle_s:
                result.pending.append(str(file.path))  # perhaps still being written: retried next cycle
            else:
                self._quarantine_or_report(store, file, project, data, size, mtime_ns, str(exc), result)
            return
        try:
            store.replace_snapshot(record)
        except (psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError) as exc:
            first = str(exc).strip().splitlines()[0]
            self._report(store, file, size, mtime_ns, f"{file.path}: Postgres refused its values: {first}", result)
            return
        result.ingested += 1

    def _quarantine_or_report(
        self,
        store: Store,
        file: SnapshotFile,
        project: str,
        data: bytes,
        size: int,
        mtime_ns: int,
        message: str,
        result: SyncResult,
    ) -> None:
        """A settled file the bridge cannot read: out of the workspace if the UI cannot load it either."""
        problem = loader_problem(data) if self.workspace.stores_files else None  # a database row stays, reported
        if problem is None:  # the UI loads it: it stays, reported
            self._report(store, file, size, mtime_ns, message, result)
            return
        record = quarantine_file(self.workspace, file, problem, "bridge", project=project, seen=(size, mtime_ns))
        if record is None:
            result.pending.append(str(file.path))  # replaced or removed meanwhile: looked at again next cycle
            return
        log.error("%s", record.line())
        result.quarantined.append(record.line())
        result.deleted += store.delete_snapshots([file.snapshot_id])  # gone from the workspace: its old rows too

    def _report(
        self, store: Store, file: SnapshotFile, size: int, mtime_ns: int, message: str, result: SyncResult
    ) -> None:
        log.error("skipping unreadable snapshot (reported once, retried when the file changes): %s", message)
        store.record_error(file, size, mtime_ns, message)
        result.failed.append(message)

    def _warn_duplicate(self, file: SnapshotFile, kept: SnapshotFile) -> None:
        if file.snapshot_id not in self._warned_duplicates:
            self._warned_duplicates.add(file.snapshot_id)
            log.warning(
                "snapshot id %s is in two projects (%s, %s); keeping the first", file.snapshot_id, kept.path, file.path
            )

    def _export_runs(self, store: Store) -> int | None:
        """Export the run log when its files changed since the last export; the count, or None."""
        run_log = RunLog(self.workspace.evmon_dir)
        fingerprint = _fingerprint([run_log.path, Path(f"{run_log.path}-wal")])
        if fingerprint == store.state("runlog"):
            return None
        try:
            records = run_log.records() if run_log.path.exists() else []
        except RunLogError as exc:  # not even readable read-only: the snapshots still sync; said once
            if str(exc) != self._runlog_problem:
                log.error("run log not exported: %s", exc)
            self._runlog_problem = str(exc)
            return None
        self._runlog_problem = None
        store.replace_runs(records, fingerprint)
        return len(records)

    def _export_quarantine(self, store: Store) -> int | None:
        """Mirror the quarantine folder's records when its content changed; their count, or None."""
        fingerprint = quarantine_fingerprint(self.workspace)
        if fingerprint == store.state("quarantine"):
            return None
        records = list_quarantined(self.workspace)
        store.replace_quarantined(records, fingerprint)
        return len(records)

    # the service
    def run(
        self,
        interval_s: float,
        stop: threading.Event | None = None,
        *,
        retry_s: float = RETRY_S,
        max_retry_s: float = MAX_RETRY_S,
        max_backoff_s: float = 30.0,
        on_result: Callable[[SyncResult], None] | None = None,
    ) -> None:
        """Sync every `interval_s` until `stop` is set.

        While Postgres is unreachable it is tried after `retry_s`, then twice that, up to every
        `max_retry_s`, whatever `interval_s` is: a server that returns is noticed within
        max_retry_s, and a server that is down gets no more than one attempt a second (with the
        defaults). Postgres refusing (a wrong password, a missing privilege) is logged once per
        distinct reason and tried again from interval_s backing off up to `max_backoff_s`, as is an
        unexpected error (a bug, logged with its traceback).
        """
        stop = stop if stop is not None else threading.Event()
        backoff = interval_s
        retry = retry_s
        down_since: float | None = None
        refused: str | None = None  # what Postgres refuses (a login, a privilege): said once, until it changes
        attempts = 0
        noted = 0.0
        while not stop.is_set():
            try:
                result = self.sync_once()
            except PostgresUnreachable as exc:
                now = time.monotonic()
                attempts += 1
                if down_since is None:
                    down_since, noted, attempts = now, now, 1
                    log.warning("%s; trying again every %.0fs at most", exc, max_retry_s)
                elif now - noted >= 60:
                    noted = now
                    log.warning("%s; still, after %.0fs and %d attempts", exc, now - down_since, attempts)
                else:
                    log.debug("%s; trying again in %.1fs", exc, retry)
                stop.wait(retry)
                retry = min(retry * 2, max_retry_s)
                continue
            except BridgeError as exc:  # Postgres answers and refuses: asking every second changes nothing
                if str(exc) != refused:  # a new reason: someone is changing things, look again soon
                    refused, backoff = str(exc), interval_s
                    log.error("%s; trying again every %.0fs at most", exc, max_backoff_s)
                else:
                    log.debug("%s; trying again in %.1fs", exc, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, max_backoff_s)
                continue
            except Exception:  # a bug must not stop the service: log it, back off, go on
                log.exception("unexpected error during a sync; retrying in %.1fs", backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, max_backoff_s)
                continue
            if refused is not None:
                log.warning("Postgres accepts the bridge again")
                refused = None
            if down_since is not None:
                log.warning("Postgres is back after %.0fs; caught up", time.monotonic() - down_since)
                down_since = None
            backoff, retry = interval_s, retry_s
            if result.changed:
                log.info(result.line())
            if on_result is not None:
                on_result(result)
            stop.wait(min(interval_s, self.settle_s) if result.pending else interval_s)
        self.close()


def _same(state: FileState | None, file: SnapshotFile) -> bool:
    return (
        state is not None
        and state.project_id == file.project_id
        and state.size == file.size
        and state.mtime_ns == file.mtime_ns
    )


def _fingerprint(paths: list[Path]) -> list[Any]:
    out: list[Any] = []
    for path in paths:
        try:
            st = path.stat()
        except FileNotFoundError:
            out.append(None)
            continue
        out.append([st.st_size, st.st_mtime_ns])
    return out


def open_bridge(config: EvmonConfig, *, start_embedded: bool = True) -> tuple[Bridge, EmbeddedPostgres | None]:
    """The bridge for a config: its DSN (EVMON_PG_DSN, bridge.dsn, or the embedded server, started)."""
    target = resolve_target(config)
    embedded: EmbeddedPostgres | None = None
    dsn, source = target.dsn, target.source
    if dsn is None:
        embedded = EmbeddedPostgres(target.embedded_dir, port=target.embedded_port)
        dsn = embedded.start() if start_embedded else embedded.dsn()
        source = f"{embedded.data_dir / PASSWORD_FILE}"
    workspace = workspace_of(config)
    bridge = Bridge(
        workspace,
        dsn,
        source=source,
        thresholds=from_config_file(config),
        owners=project_owners.from_config_file(config),
    )
    return bridge, embedded
