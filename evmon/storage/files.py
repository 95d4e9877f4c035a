"""The files backend: the one module that knows the Evidently workspace's on-disk layout.

    <root>/<project-id>/metadata.json            the project (Evidently's ProjectModel)
    <root>/<project-id>/dashboard.json           its UI dashboard
    <root>/<project-id>/snapshots/<id>.json      one snapshot per file; the file name is the id
    <root>/.evmon/                               evmon's own state (run log, locks, ui.log); the UI skips it
    <root>/../.<name>.archive/                   full originals of compacted snapshots, gzip-compressed
    <root>/../.<name>.quarantine/                unreadable snapshot files moved out of the UI's tree
                                                 (evmon/storage/quarantine.py owns what is inside)

Writes are atomic AND visible to a running `evidently ui`: a file is written and fsynced in
a staging folder OUTSIDE the workspace tree (same file system), then renamed into place. The
UI's watcher only looks at an event's source path, so a rename inside the tree is ignored,
while a rename from outside arrives as a "created" event for the final path and is loaded.
Readers never see a partial file: the final path only ever names a complete one.

Nothing here constructs Evidently's Workspace(), which parses every snapshot into memory.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import orjson

from evmon.errors import WorkspaceError
from evmon.snapshot import codec
from evmon.snapshot.compacted import compacted_snapshot
from evmon.snapshot.contract import meta_of
from evmon.snapshot.ids import project_id
from evmon.storage.base import ProjectEntry, SnapshotFile, SnapshotInProgress, Workspace, atomic_write

if TYPE_CHECKING:
    from evmon.config.model import EvmonConfig

SNAPSHOTS = "snapshots"
METADATA = "metadata.json"
DASHBOARD = "dashboard.json"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def default_archive(root: Path) -> Path:
    """Where full originals of compacted snapshots go: beside the workspace, so the UI never loads them."""
    return root.parent / f".{root.name}.archive"


class FilesWorkspace(Workspace):
    """The UI's projects, dashboards and snapshots as files of the workspace folder (`evidently ui --workspace`)."""

    name = "files"
    stores_files = True

    @classmethod
    def from_config(cls, root: Path, config: EvmonConfig, dsn: str | None = None) -> Self:
        return cls(root)

    @property
    def storage(self) -> str:
        return "files"

    def describe(self) -> str:
        return f"the files of {self.root}"

    def ui_arguments(self) -> list[str]:
        self.root.mkdir(parents=True, exist_ok=True)
        return ["--workspace", str(self.root)]

    # layout
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

    def archive_path(self, pid: uuid.UUID, sid: uuid.UUID) -> Path:
        return self.archive / str(pid) / f"{sid}.json.gz"

    def write_archive(self, pid: uuid.UUID, sid: uuid.UUID, payload: bytes) -> Path:
        """Store a snapshot's full original, gzip-compressed, atomically (temp file + rename)."""
        path = self.archive_path(pid, sid)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path.parent, path, codec.archived(payload))
        return path

    def archived_bytes(self, pid: uuid.UUID, sid: uuid.UUID) -> bytes:
        path = self.archive_path(pid, sid)
        try:
            return codec.unarchived(path.read_bytes())
        except FileNotFoundError as exc:
            raise WorkspaceError(f"snapshot {sid} was compacted but its original is missing from {path}") from exc
        except (OSError, EOFError) as exc:
            raise WorkspaceError(f"{path}: not a readable archived snapshot ({exc})") from exc

    def read_full_snapshot(self, pid: uuid.UUID, sid: uuid.UUID) -> dict[str, Any]:
        data = self.read_snapshot(pid, sid)
        if not meta_of(data).compacted:
            return data
        try:
            original = codec.loads_exact(self.archived_bytes(pid, sid))
        except ValueError as exc:
            raise WorkspaceError(f"{self.archive_path(pid, sid)}: not a readable archived snapshot ({exc})") from exc
        if not isinstance(original, dict):
            raise WorkspaceError(f"{self.archive_path(pid, sid)}: not a snapshot (expected a JSON object)")
        return original

    # projects and dashboards
    def ensure_project(self, name: str, description: str = "") -> uuid.UUID:
        """Create or update the project's folder and metadata.json; return its id."""
        pid = project_id(name)
        (self.project_dir(pid) / SNAPSHOTS).mkdir(parents=True, exist_ok=True)
        meta_path = self.project_dir(pid) / METADATA
        wanted = {"id": str(pid), "name": name, "description": description, "org_id": None, "version": "2"}
        current = _read_json_or_none(meta_path)
        if current is None or any(current.get(k) != v for k, v in wanted.items()):
            merged = {**(current or {}), **wanted}
            self.write_file(meta_path, orjson.dumps(merged, option=orjson.OPT_INDENT_2))
        return pid

    def list_projects(self) -> list[ProjectEntry]:
        entries: list[ProjectEntry] = []
        if not self.root.is_dir():
            return entries
        for child in sorted(self.root.iterdir()):
            if not _UUID.match(child.name):
                continue
            meta = _read_json_or_none(child / METADATA)
            if meta is None or not isinstance(meta.get("name"), str):
                continue
            entries.append(ProjectEntry(uuid.UUID(child.name), meta["name"], meta.get("description") or ""))
        return entries

    def find_project(self, name: str) -> ProjectEntry | None:
        pid = project_id(name)
        meta = _read_json_or_none(self.project_dir(pid) / METADATA)
        if meta is None:
            return None
        return ProjectEntry(pid, str(meta.get("name", name)), meta.get("description") or "")

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
        data = _read_json_or_none(self.dashboard_path(pid))
        return data if isinstance(data, dict) else None

    # snapshots: listing (stat only), reading, writing
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

    def listing_mark(self, pid: uuid.UUID) -> int | None:
        """The snapshot folder's mtime: every write, replacement and removal changes it (None: no folder)."""
        try:
            return (self.project_dir(pid) / SNAPSHOTS).stat().st_mtime_ns
        except OSError:
            return None

    def read_listed(self, file: SnapshotFile) -> tuple[bytes, int, int]:
        with open(file.path, "rb") as handle:
            before = os.fstat(handle.fileno())
            data = handle.read()
            after = os.fstat(handle.fileno())
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or len(data) != after.st_size:
            raise SnapshotInProgress(str(file.path))
        return data, after.st_size, after.st_mtime_ns

    def snapshot_exists(self, pid: uuid.UUID, sid: uuid.UUID) -> bool:
        return self.snapshot_path(pid, sid).is_file()

    def written_at(self, pid: uuid.UUID, sid: uuid.UUID) -> datetime:
        return datetime.fromtimestamp(self.snapshot_path(pid, sid).stat().st_mtime, UTC)

    def read_snapshot(self, pid: uuid.UUID, sid: uuid.UUID) -> dict[str, Any]:
        path = self.snapshot_path(pid, sid)
        try:
            data = codec.loads_exact(path.read_bytes())
        except FileNotFoundError as exc:
            raise WorkspaceError(f"snapshot {sid} of project {pid} not found at {path}") from exc
        except ValueError as exc:
            raise WorkspaceError(f"{path}: not a readable snapshot (invalid JSON: {exc})") from exc
        if not isinstance(data, dict):
            raise WorkspaceError(f"{path}: not a snapshot (expected a JSON object)")
        return data

    def read_snapshot_header(self, pid: uuid.UUID, sid: uuid.UUID) -> dict[str, Any]:
        path = self.snapshot_path(pid, sid)
        try:
            return codec.read_header(path)
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

    def delete_snapshot(self, pid: uuid.UUID, sid: uuid.UUID) -> bool:
        try:
            self.snapshot_path(pid, sid).unlink()
        except FileNotFoundError:
            return False
        return True

    def compact(self, pid: uuid.UUID, sid: uuid.UUID, keep_types: Iterable[str]) -> None:
        """Archive the full original (first, byte for byte), then replace the file with its compacted form.

        A compacted file is compacted again from its archived original (a dashboard that now plots more).
        """
        raw = self.snapshot_path(pid, sid).read_bytes()
        try:
            current = codec.loads_exact(raw)
        except ValueError as exc:
            raise WorkspaceError(f"not a readable snapshot ({exc})") from exc
        if meta_of(current).compacted:
            original = self.read_full_snapshot(pid, sid)
        else:
            self.write_archive(pid, sid, raw)
            original = current
        self.write_snapshot(pid, sid, codec.dumps(compacted_snapshot(original, frozenset(keep_types))))


def _read_json_or_none(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except (FileNotFoundError, NotADirectoryError, orjson.JSONDecodeError):
        return None
