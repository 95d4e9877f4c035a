"""The one module that knows the Evidently workspace's on-disk layout.

    <root>/<project-id>/metadata.json            the project (Evidently's ProjectModel)
    <root>/<project-id>/dashboard.json           its UI dashboard
    <root>/<project-id>/snapshots/<id>.json      one snapshot per file; the file name is the id
    <root>/.evmon/                               evmon's own state (run log, locks, ui.log); the UI skips it
    <root>/../.<name>.quarantine/                unreadable snapshot files moved out of the UI's tree
                                                 (evmon/storage/quarantine.py owns what is inside)

Ids are derived, not stored: a project's id is a UUIDv5 of its name, a daily snapshot's id a
UUIDv5 of (project, day). So a project-day has exactly one possible file, a re-run replaces it
with one rename, and two processes can never create two snapshots for one day.

Writes are atomic AND visible to a running `evidently ui`: a file is written and fsynced in
a staging folder OUTSIDE the workspace tree (same file system), then renamed into place. The
UI's watcher only looks at an event's source path, so a rename inside the tree is ignored,
while a rename from outside arrives as a "created" event for the final path and is loaded.
Readers never see a partial file: the final path only ever names a complete one.

Nothing here constructs Evidently's Workspace(), which parses every snapshot into memory.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from evmon.errors import ConfigError, WorkspaceError
from evmon.processes import process_alive
from evmon.snapshot import contract as snapshot

if TYPE_CHECKING:
    from evmon.config.model import EvmonConfig

NAMESPACE = uuid.UUID("6f0c1d2e-8a4b-5c3d-9e7f-0a1b2c3d4e5f")
SNAPSHOTS = "snapshots"
METADATA = "metadata.json"
DASHBOARD = "dashboard.json"
EVMON_DIR = ".evmon"
UI_STORAGE_ENV = "EVMON_UI_STORAGE"  # files | postgres: overrides projects.yaml's ui.storage (docker-compose)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def project_id(name: str) -> uuid.UUID:
    """The workspace id of the project called `name` (stable across machines and runs)."""
    return uuid.uuid5(NAMESPACE, f"project:{name}")


def daily_snapshot_id(project: str, day: date) -> uuid.UUID:
    """The id of the one daily snapshot of `project` for `day`."""
    return uuid.uuid5(NAMESPACE, f"daily:{project}:{day.isoformat()}")


def whatif_snapshot_id() -> uuid.UUID:
    """A fresh id for a saved what-if snapshot.

    Random (UUID version 4), while every daily id is a UUID version 5: the version digit
    differs, so a what-if can never take (and replace) a daily snapshot's file.
    """
    return uuid.uuid4()


@dataclass(frozen=True)
class ProjectEntry:
    """A project folder of the workspace, as its metadata.json describes it."""

    id: uuid.UUID
    name: str
    description: str


class SnapshotInProgress(Exception):
    """The snapshot changed while it was read: a writer is still at it."""


@dataclass(frozen=True)
class SnapshotFile:
    """A snapshot, known from a listing alone (not parsed): a file's path, size and mtime.

    In the UI's database (evmon.storage.postgres) `path` names the row and `mtime_ns` is its version.
    """

    project_id: uuid.UUID
    snapshot_id: uuid.UUID
    path: Path
    size: int
    mtime_ns: int


def default_staging(root: Path) -> Path:
    """A sibling of the workspace: outside its tree (so renames are seen), same file system."""
    return root.parent / f".{root.name}.staging"


def default_archive(root: Path) -> Path:
    """Where full originals of compacted snapshots go: beside the workspace, so the UI never loads them."""
    return root.parent / f".{root.name}.archive"


def default_quarantine(root: Path) -> Path:
    """Where unreadable snapshot files are moved: beside the workspace (same file system, outside the UI's tree)."""
    return root.parent / f".{root.name}.quarantine"


def workspace_root(config: EvmonConfig) -> Path:
    """The workspace folder a config points at; EVMON_WORKSPACE overrides the file's setting."""
    override = os.environ.get("EVMON_WORKSPACE")
    return Path(override) if override else config.resolve(config.workspace)


def workspace_for(config: EvmonConfig) -> Workspace:
    """The workspace a config points at; EVMON_WORKSPACE and EVMON_UI_STORAGE override the file's settings.

    With `ui: {storage: postgres}` its snapshots and dashboards live in the UI's database
    (evmon.storage.postgres); the folder keeps evmon's own state either way.
    """
    root = workspace_root(config)
    storage = os.environ.get(UI_STORAGE_ENV) or config.ui.storage
    if storage not in ("files", "postgres"):
        raise ConfigError(f"{UI_STORAGE_ENV}={storage!r}: expected files or postgres")
    if storage == "postgres":
        from evmon.storage.postgres import PostgresWorkspace, ui_database_url

        return PostgresWorkspace(root, ui_database_url(config.ui.dsn, config.bridge.dsn))
    return Workspace(root)


class Workspace:
    """evmon's handle on an Evidently local workspace folder.

    The folder also holds evmon's own state (.evmon: run log, locks, logs) whatever stores the
    snapshots: evmon.storage.postgres.PostgresWorkspace keeps them in the UI's database instead.
    """

    stores_files = True  # snapshots and dashboards are files of this folder (the UI reads them)

    @property
    def storage(self) -> str:
        """Where the UI's snapshots live, in words: `files`, or the UI's database."""
        return "files"

    def __init__(self, root: str | Path, staging: str | Path | None = None) -> None:
        self.root = Path(root).absolute()
        env_staging = os.environ.get("EVMON_STAGING")
        chosen = staging if staging is not None else env_staging
        self.staging = Path(chosen).absolute() if chosen else default_staging(self.root)
        if self.staging == self.root or self.root in self.staging.parents:
            raise WorkspaceError(
                f"staging folder {self.staging} is inside the workspace {self.root}; the Evidently UI ignores "
                "files renamed within its tree: put it beside the workspace, on the same file system"
            )

    # layout
    @property
    def evmon_dir(self) -> Path:
        return self.root / EVMON_DIR

    def project_dir(self, pid: uuid.UUID) -> Path:
        return self.root / str(pid)

    def snapshot_path(self, pid: uuid.UUID, sid: uuid.UUID) -> Path:
        return self.root / str(pid) / SNAPSHOTS / f"{sid}.json"

    def dashboard_path(self, pid: uuid.UUID) -> Path:
        return self.root / str(pid) / DASHBOARD

    @property
    def archive(self) -> Path:
        env_archive = os.environ.get("EVMON_ARCHIVE")
        return Path(env_archive).absolute() if env_archive else default_archive(self.root)

    @property
    def quarantine(self) -> Path:
        """The quarantine folder (env EVMON_QUARANTINE overrides); never inside the workspace."""
        env_quarantine = os.environ.get("EVMON_QUARANTINE")
        folder = Path(env_quarantine).absolute() if env_quarantine else default_quarantine(self.root)
        if folder == self.root or self.root in folder.parents:
            raise WorkspaceError(
                f"quarantine folder {folder} is inside the workspace {self.root}: the Evidently UI would still "
                "load what is moved there; set EVMON_QUARANTINE to a folder beside the workspace"
            )
        return folder

    @property
    def ui_log(self) -> Path:
        """The Evidently UI's own output (evmon ui, evmon demo)."""
        return self.evmon_dir / "ui.log"

    def archive_path(self, pid: uuid.UUID, sid: uuid.UUID) -> Path:
        return self.archive / str(pid) / f"{sid}.json.gz"

    def write_archive(self, pid: uuid.UUID, sid: uuid.UUID, payload: bytes) -> Path:
        """Store a snapshot's full original, gzip-compressed, atomically (temp file + rename)."""
        path = self.archive_path(pid, sid)
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path.parent, path, snapshot.archived(payload))
        return path

    def archived_bytes(self, pid: uuid.UUID, sid: uuid.UUID) -> bytes:
        """The full original of a compacted snapshot, as it was written (decompressed)."""
        path = self.archive_path(pid, sid)
        try:
            return snapshot.unarchived(path.read_bytes())
        except FileNotFoundError as exc:
            raise WorkspaceError(f"snapshot {sid} was compacted but its original is missing from {path}") from exc
        except (OSError, EOFError) as exc:
            raise WorkspaceError(f"{path}: not a readable archived snapshot ({exc})") from exc

    def read_full_snapshot(self, pid: uuid.UUID, sid: uuid.UUID) -> dict[str, Any]:
        """A snapshot with all its results and widgets: the archived original if it was compacted."""
        data = self.read_snapshot(pid, sid)
        if not snapshot.meta_of(data).compacted:
            return data
        try:
            original = snapshot.loads_exact(self.archived_bytes(pid, sid))
        except ValueError as exc:
            raise WorkspaceError(f"{self.archive_path(pid, sid)}: not a readable archived snapshot ({exc})") from exc
        if not isinstance(original, dict):
            raise WorkspaceError(f"{self.archive_path(pid, sid)}: not a snapshot (expected a JSON object)")
        return original

    # set-up
    def prepare(self) -> None:
        """Create the workspace and staging folders; check they share a file system."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.evmon_dir.mkdir(exist_ok=True)
            self.staging.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"cannot create the workspace at {self.root}: {exc.strerror}") from exc
        _ = self.quarantine  # a misplaced EVMON_QUARANTINE is refused here, before any file is moved
        if self.root.stat().st_dev != self.staging.stat().st_dev:
            raise WorkspaceError(
                f"staging folder {self.staging} is on another file system than the workspace {self.root}; "
                "atomic renames need one file system (set EVMON_STAGING to a folder beside the workspace)"
            )

    def ensure_project(self, name: str, description: str = "") -> uuid.UUID:
        """Create or update the project's folder and metadata.json; return its id."""
        pid = project_id(name)
        (self.project_dir(pid) / SNAPSHOTS).mkdir(parents=True, exist_ok=True)
        meta_path = self.project_dir(pid) / METADATA
        wanted = {"id": str(pid), "name": name, "description": description, "org_id": None, "version": "2"}
        current = self._read_json_or_none(meta_path)
        if current is None or any(current.get(k) != v for k, v in wanted.items()):
            merged = {**(current or {}), **wanted}
            self.write_file(meta_path, orjson.dumps(merged, option=orjson.OPT_INDENT_2))
        return pid

    # listing (metadata and stat only)
    def list_projects(self) -> list[ProjectEntry]:
        entries: list[ProjectEntry] = []
        if not self.root.is_dir():
            return entries
        for child in sorted(self.root.iterdir()):
            if not _UUID.match(child.name):
                continue
            meta = self._read_json_or_none(child / METADATA)
            if meta is None or not isinstance(meta.get("name"), str):
                continue
            entries.append(ProjectEntry(uuid.UUID(child.name), meta["name"], meta.get("description") or ""))
        return entries

    def find_project(self, name: str) -> ProjectEntry | None:
        pid = project_id(name)
        meta = self._read_json_or_none(self.project_dir(pid) / METADATA)
        if meta is None:
            return None
        return ProjectEntry(pid, str(meta.get("name", name)), meta.get("description") or "")

    def list_snapshots(self, pid: uuid.UUID) -> list[SnapshotFile]:
        folder = self.project_dir(pid) / SNAPSHOTS
        files: list[SnapshotFile] = []
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return files
        for entry in entries:
            stem = entry.name[:-5]
            if not entry.name.endswith(".json") or not _UUID.match(stem):
                continue
            try:
                st = entry.stat()
            except FileNotFoundError:  # deleted between listing and stat
                continue
            files.append(SnapshotFile(pid, uuid.UUID(stem), Path(entry.path), st.st_size, st.st_mtime_ns))
        return files

    def read_listed(self, file: SnapshotFile) -> tuple[bytes, int, int]:
        """A listed snapshot's bytes and the (size, version) they were read at; SnapshotInProgress if it changed."""
        with open(file.path, "rb") as handle:
            before = os.fstat(handle.fileno())
            data = handle.read()
            after = os.fstat(handle.fileno())
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or len(data) != after.st_size:
            raise SnapshotInProgress(str(file.path))
        return data, after.st_size, after.st_mtime_ns

    def snapshot_exists(self, pid: uuid.UUID, sid: uuid.UUID) -> bool:
        return self.snapshot_path(pid, sid).is_file()

    # reading and writing
    def read_snapshot(self, pid: uuid.UUID, sid: uuid.UUID) -> dict[str, Any]:
        path = self.snapshot_path(pid, sid)
        try:
            data = snapshot.loads_exact(path.read_bytes())
        except FileNotFoundError as exc:
            raise WorkspaceError(f"snapshot {sid} of project {pid} not found at {path}") from exc
        except ValueError as exc:
            raise WorkspaceError(f"{path}: not a readable snapshot (invalid JSON: {exc})") from exc
        if not isinstance(data, dict):
            raise WorkspaceError(f"{path}: not a snapshot (expected a JSON object)")
        return data

    def read_snapshot_header(self, pid: uuid.UUID, sid: uuid.UUID) -> dict[str, Any]:
        """A snapshot's name, timestamp, metadata and tags, without parsing its results (evmon.snapshot.contract)."""
        path = self.snapshot_path(pid, sid)
        try:
            return snapshot.read_header(path)
        except FileNotFoundError as exc:
            raise WorkspaceError(f"snapshot {sid} of project {pid} not found at {path}") from exc
        except ValueError as exc:
            raise WorkspaceError(f"{path}: not a readable snapshot (invalid JSON: {exc})") from exc

    def write_snapshot(self, pid: uuid.UUID, sid: uuid.UUID, payload: bytes) -> SnapshotFile:
        """Atomically create or replace one snapshot file."""
        path = self.snapshot_path(pid, sid)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.write_file(path, payload)
        st = path.stat()
        return SnapshotFile(pid, sid, path, st.st_size, st.st_mtime_ns)

    def write_dashboard(self, pid: uuid.UUID, payload: bytes) -> bool:
        """Atomically write the project's dashboard.json; False if it already held these bytes.

        The UI reads dashboard.json on every dashboard request, so a new one shows at once.
        """
        path = self.dashboard_path(pid)
        try:
            if path.read_bytes() == payload:
                return False
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise WorkspaceError(f"cannot read {path}: {exc.strerror}") from exc
        path.parent.mkdir(parents=True, exist_ok=True)
        self.write_file(path, payload)
        return True

    def read_dashboard(self, pid: uuid.UUID) -> dict[str, Any] | None:
        """The project's dashboard.json, parsed; None if it has none (or an unreadable one)."""
        data = self._read_json_or_none(self.dashboard_path(pid))
        return data if isinstance(data, dict) else None

    def delete_snapshot(self, pid: uuid.UUID, sid: uuid.UUID) -> bool:
        try:
            self.snapshot_path(pid, sid).unlink()
        except FileNotFoundError:
            return False
        return True

    def write_file(self, path: Path, payload: bytes) -> None:
        """Write `payload` to `path` through the staging folder: all or nothing, seen by the UI."""
        self.staging.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.staging, path, payload)

    def clean_staging(self) -> int:
        """Remove temp files left by killed writers (their process is gone); return how many."""
        removed = 0
        if not self.staging.is_dir():
            return removed
        for entry in os.scandir(self.staging):
            parts = entry.name.split(".")
            if len(parts) < 4 or parts[-1] != "tmp" or not parts[-3].isdigit():
                continue
            if process_alive(int(parts[-3])):
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed += 1
        return removed

    @contextlib.contextmanager
    def day_lock(self, project: str, day: date) -> Iterator[bool]:
        """Hold the lock of a project-day if no other process does; yields whether it was taken.

        A kernel file lock: released when its holder exits or is killed, so nothing stays stuck.
        """
        lock_dir = self.evmon_dir / "locks" / project
        lock_dir.mkdir(parents=True, exist_ok=True)
        with open(lock_dir / f"{day.isoformat()}.lock", "a+b") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    @staticmethod
    def _read_json_or_none(path: Path) -> Any:
        try:
            return orjson.loads(path.read_bytes())
        except (FileNotFoundError, NotADirectoryError, orjson.JSONDecodeError):
            return None


def _atomic_write(tmp_dir: Path, path: Path, payload: bytes) -> None:
    """Write and fsync a temp file in tmp_dir, then rename it to path: all or nothing."""
    tmp = tmp_dir / f"{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if exc.errno == errno.EXDEV:
            raise WorkspaceError(f"cannot move {tmp} to {path}: the staging folder is on another file system") from exc
        raise WorkspaceError(f"cannot write {path}: {exc.strerror}") from exc
