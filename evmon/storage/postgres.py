"""The workspace whose snapshots live in the Evidently UI's own database (`ui: {storage: postgres}`).

Everything that writes or reads snapshots goes through the Workspace interface (the runner, the
backfill, the scheduler, the app's re-runs and what-ifs, dashboards, compaction, the bridge, the
app's views): PostgresWorkspace is that interface over Evidently's SQL storage
(evmon.evidently.sql_store), so none of them has a second copy for Postgres. evmon's own state
(the run log, the day locks, the logs) stays in the workspace folder, as with files.

Differences from the file workspace, each deliberate:
- a snapshot's "file" is its row: `path` names it, `mtime_ns` is its version (the row's xmin,
  new with every write), so the bridge's change detection works unchanged;
- compaction deletes an old day's points the dashboards do not plot and keeps its blob whole
  (the UI loads a blob only when its report is opened, so the full report stays available);
- nothing is quarantined: the UI reads a blob per request, so one bad snapshot fails only its
  own report, never the project list.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Self

from evmon.dsn import fields, first_line, libpq_form, login_refused
from evmon.errors import WorkspaceError
from evmon.evidently.sql_store import UiDatabase
from evmon.snapshot import codec, contract
from evmon.snapshot.ids import project_id
from evmon.storage.base import ProjectEntry, SnapshotFile, Workspace

if TYPE_CHECKING:
    from evmon.config.model import EvmonConfig

UI_DSN_ENV = "EVMON_UI_DSN"


class PostgresWorkspace(Workspace):
    """A workspace folder for evmon's state, its snapshots and dashboards in the UI's database."""

    name = "postgres"
    stores_files = False

    def __init__(
        self,
        root: str | Path,
        database_url: str,
        staging: str | Path | None = None,
        source: str = "the UI's database DSN",
    ) -> None:
        super().__init__(root, staging)
        self.source = source  # where the DSN came from, for messages
        self.database_url = as_url(database_url, source)
        self.db = UiDatabase(self.database_url)
        self._ready = False

    @classmethod
    def from_config(cls, root: Path, config: EvmonConfig, dsn: str | None = None) -> Self:
        if dsn:
            return cls(root, dsn, source="--dsn")
        url, source = ui_database(config.ui.dsn, config.bridge.dsn, str(config.source_file))
        return cls(root, url, source=source)

    @property
    def storage(self) -> str:
        return f"postgres {self.db.where}"

    def describe(self) -> str:
        return f"the UI's database ({self.storage})"

    def ui_arguments(self) -> list[str]:
        """The UI's database and tables created if needed (once, here, so UIs starting together never race
        on them); its config file, owner-only (it holds the URL), naming evmon's storage component
        (evmon.evidently.fast_series: Evidently's SQL storage with the dashboards' series read fast)."""
        from evmon.evidently.fast_series import ui_config

        self.prepare()
        conf = self.evmon_dir / "evidently-ui.yaml"
        conf.parent.mkdir(parents=True, exist_ok=True)
        text = ui_config(self.db.url)
        descriptor = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        return ["--conf-path", str(conf)]

    def ui_environment(self) -> dict[str, str]:
        """Evidently imports a component named by class path only under EVIDENTLY_TYPE_PREFIXES."""
        from evmon.evidently.fast_series import type_prefixes

        return {"EVIDENTLY_TYPE_PREFIXES": type_prefixes(os.environ.get("EVIDENTLY_TYPE_PREFIXES", ""))}

    def prepare(self) -> None:
        """The folder for evmon's state, and the UI's database with Evidently's tables (once per process)."""
        super().prepare()
        if not self._ready:
            ensure_database(self.database_url, self.source)
            self.db.migrate()
            self._ready = True

    def _where(self, pid: uuid.UUID, sid: uuid.UUID) -> Path:
        return Path(str(PurePosixPath("/postgres") / self.db.where.replace(":", "_") / str(pid) / f"{sid}.json"))

    # projects and dashboards
    def ensure_project(self, name: str, description: str = "") -> uuid.UUID:
        pid = project_id(name)
        self.db.ensure_project(pid, name, description)
        return pid

    def list_projects(self) -> list[ProjectEntry]:
        return [ProjectEntry(pid, name, description) for pid, name, description in sorted(self.db.projects())]

    def find_project(self, name: str) -> ProjectEntry | None:
        pid = project_id(name)
        return next((p for p in self.list_projects() if p.id == pid), None)

    def write_dashboard(self, pid: uuid.UUID, payload: bytes) -> bool:
        return self.db.put_dashboard(pid, json.loads(payload))

    def read_dashboard(self, pid: uuid.UUID) -> dict[str, Any] | None:
        return self.db.dashboard(pid)

    # snapshots
    def list_snapshots(self, pid: uuid.UUID) -> list[SnapshotFile]:
        return [
            SnapshotFile(pid, sid, self._where(pid, sid), size, version)
            for sid, size, version in self.db.snapshots(pid)
        ]

    def snapshot_exists(self, pid: uuid.UUID, sid: uuid.UUID) -> bool:
        return self.db.header(pid, sid) is not None

    def write_snapshot(self, pid: uuid.UUID, sid: uuid.UUID, payload: bytes) -> SnapshotFile:
        size, version = self.db.put_snapshot(pid, sid, payload)
        return SnapshotFile(pid, sid, self._where(pid, sid), size, version)

    def delete_snapshot(self, pid: uuid.UUID, sid: uuid.UUID) -> bool:
        return self.db.delete_snapshot(pid, sid)

    def read_snapshot(self, pid: uuid.UUID, sid: uuid.UUID) -> dict[str, Any]:
        data = self.db.blob(pid, sid)
        if data is None:
            raise WorkspaceError(f"snapshot {sid} of project {pid} is not in {self.db.where}")
        try:
            doc = codec.loads_exact(data)
        except ValueError as exc:
            raise WorkspaceError(f"snapshot {sid} in {self.db.where}: not readable ({exc})") from exc
        header = self.db.header(pid, sid) or {}
        return {**doc, "metadata": header.get("metadata", doc.get("metadata"))}  # evmon's marks (compaction)

    def read_full_snapshot(self, pid: uuid.UUID, sid: uuid.UUID) -> dict[str, Any]:
        return self.read_snapshot(pid, sid)  # blobs stay whole: compaction drops points only

    def archived_bytes(self, pid: uuid.UUID, sid: uuid.UUID) -> bytes:
        data = self.db.blob(pid, sid)  # blobs stay whole: the blob is the original
        if data is None:
            raise WorkspaceError(f"snapshot {sid} of project {pid} is not in {self.db.where}")
        return data

    def written_at(self, pid: uuid.UUID, sid: uuid.UUID) -> datetime:
        return datetime.now(UTC)  # Evidently's tables keep no write time

    def read_snapshot_header(self, pid: uuid.UUID, sid: uuid.UUID) -> dict[str, Any]:
        header = self.db.header(pid, sid)
        if header is None:
            raise WorkspaceError(f"snapshot {sid} of project {pid} is not in {self.db.where}")
        return header

    def read_listed(self, file: SnapshotFile) -> tuple[bytes, int, int]:
        data = self.db.blob(file.project_id, file.snapshot_id)
        if data is None:
            raise FileNotFoundError(str(file.path))
        return data, len(data), file.mtime_ns

    def compact(self, pid: uuid.UUID, sid: uuid.UUID, keep_types: Iterable[str]) -> None:
        """Keep only the points of the metric types a dashboard plots (the UI loads no blob at start: fewer
        points is the gain); the blob stays whole; the snapshot is marked compacted."""
        self.db.keep_points(sid, keep_types)
        self.db.mark_metadata(sid, contract.compaction_mark())


def as_url(dsn: str, source: str = "the UI's database DSN") -> str:
    """A postgresql:// URL for a URL or a libpq DSN (key=value pairs); ConfigError naming `source` for a DSN
    libpq cannot read (a misspelt option fails here, in one line, not at the first connection)."""
    parts = fields(dsn, source)
    if dsn.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        return dsn
    return _url_of(parts)


def _url_of(parts: dict[str, Any]) -> str:
    from urllib.parse import quote

    user = quote(str(parts.get("user", "")), safe="")
    password = f":{quote(str(parts['password']), safe='')}" if parts.get("password") else ""
    auth = f"{user}{password}@" if user else ""
    host, port = parts.get("host", "localhost"), parts.get("port", 5432)
    return f"postgresql://{auth}{host}:{port}/{quote(str(parts.get('dbname', '')), safe='')}"


def ui_database(
    storage_dsn: str | None,
    bridge_dsn: str | None,
    config_file: str = "projects.yaml",
    environ: dict[str, str] | None = None,
) -> tuple[str, str]:
    """The UI's database and where it came from: EVMON_UI_DSN, else ui.dsn, else the bridge's server with
    database `<its name>_ui`.

    Never the bridge's own database: Evidently's tables and the bridge's schema stay apart.
    """
    env = os.environ if environ is None else environ
    if env.get(UI_DSN_ENV):
        return env[UI_DSN_ENV], UI_DSN_ENV
    if storage_dsn:
        return storage_dsn, f"{config_file} ui.dsn"
    base, source = (env["EVMON_PG_DSN"], "EVMON_PG_DSN") if env.get("EVMON_PG_DSN") else (bridge_dsn, "")
    if not base:
        raise WorkspaceError(
            "ui.storage postgres needs a PostgreSQL server: set ui.dsn (or EVMON_UI_DSN), or bridge.dsn "
            "(or EVMON_PG_DSN), whose server then also holds the UI's database"
        )
    source = source or f"{config_file} bridge.dsn"
    parts = fields(base, source)
    parts["dbname"] = f"{parts.get('dbname') or 'evmon'}_ui"
    return _url_of(parts), source


def ensure_database(url: str, source: str = "the UI's database DSN") -> None:
    """Create the UI's database on its server if it does not exist (needs CREATEDB there)."""
    import psycopg
    from psycopg import sql

    parts = fields(url, source)
    name = parts.get("dbname", "")
    admin = psycopg.conninfo.make_conninfo(libpq_form(url), dbname="postgres")
    server = f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.errors.DuplicateDatabase:
        pass
    except psycopg.Error as exc:
        refused = login_refused(exc, source)
        if refused is not None:
            raise WorkspaceError(f"the Evidently UI's database {name} on {server}: {refused}") from exc
        raise WorkspaceError(
            f"cannot create the Evidently UI's database {name} on {server}: {first_line(exc)}"
        ) from exc
