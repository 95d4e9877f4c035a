"""The workspace interface: a folder for evmon's own state, and a store of the UI's projects and snapshots.

Every workspace is a folder (``<root>/.evmon``: the run log, the day locks, the logs; a staging
folder and a quarantine beside it) whatever stores the Evidently UI's projects, dashboards and
snapshots. Two backends store them, each in its own module and chosen once from the config by
evmon.storage.registry: files of the folder itself, the way `evidently ui --workspace` reads
them (evmon.storage.files), or the UI's own database (evmon.storage.postgres). Everything that
writes or reads snapshots (the runner, the backfill, the scheduler, the app, dashboards,
compaction, the bridge) goes through this interface, so none of them knows which backend it has.

Snapshot ids are derived, never stored (evmon.snapshot.ids): a project-day has exactly one
possible snapshot, a re-run replaces it, and two processes can never create two for one day.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

from evmon.errors import WorkspaceError
from evmon.processes import process_alive

if TYPE_CHECKING:
    from evmon.config.model import EvmonConfig

EVMON_DIR = ".evmon"


@dataclass(frozen=True)
class ProjectEntry:
    """A project of the workspace, as its stored metadata describes it."""

    id: uuid.UUID
    name: str
    description: str


class SnapshotInProgress(Exception):
    """The snapshot changed while it was read: a writer is still at it."""


@dataclass(frozen=True)
class SnapshotFile:
    """A snapshot, known from a listing alone (not parsed): where it is, its size and its version.

    For files, `path` is the file and `mtime_ns` its mtime; in the UI's database `path` names
    the row and `mtime_ns` is the row's version.
    """

    project_id: uuid.UUID
    snapshot_id: uuid.UUID
    path: Path
    size: int
    mtime_ns: int


def default_staging(root: Path) -> Path:
    """A sibling of the workspace: outside its tree (so renames are seen), same file system."""
    return root.parent / f".{root.name}.staging"


def default_quarantine(root: Path) -> Path:
    """Where unreadable snapshot files are moved: beside the workspace (same file system, outside the UI's tree)."""
    return root.parent / f".{root.name}.quarantine"


class Workspace(ABC):
    """evmon's workspace: its folder (evmon's own state) and the backend that stores the UI's snapshots."""

    name: ClassVar[str]  # the backend's name in projects.yaml's ui.storage
    # snapshots are files of the folder: the UI loads every one at start (so an unreadable one is
    # quarantined), and a folder's mtime marks every change of a project's listing (listing_mark)
    stores_files: ClassVar[bool]

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

    @classmethod
    @abstractmethod
    def from_config(cls, root: Path, config: EvmonConfig, dsn: str | None = None) -> Self:
        """The backend for a config's workspace folder (`dsn`: another database than the config's, if it has one)."""

    # --- the folder: evmon's own state ---------------------------------------------------------

    @property
    def evmon_dir(self) -> Path:
        return self.root / EVMON_DIR

    @property
    def ui_log(self) -> Path:
        """The Evidently UI's own output (evmon ui, evmon demo)."""
        return self.evmon_dir / "ui.log"

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

    def write_file(self, path: Path, payload: bytes) -> None:
        """Write `payload` to `path` through the staging folder: all or nothing, seen by the UI."""
        self.staging.mkdir(parents=True, exist_ok=True)
        atomic_write(self.staging, path, payload)

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
        WorkspaceError if its file cannot be created (a full or read-only disk).
        """
        lock_dir = self.evmon_dir / "locks" / project
        try:
            lock_dir.mkdir(parents=True, exist_ok=True)
            handle = open(lock_dir / f"{day.isoformat()}.lock", "a+b")  # noqa: SIM115 (closed below)
        except OSError as exc:  # a full disk, a read-only one: this day cannot run here
            raise WorkspaceError(f"cannot take the lock of {project} {day} in {lock_dir}: {exc.strerror}") from exc
        with handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    # --- the backend: the UI's projects, dashboards and snapshots -------------------------------

    @property
    @abstractmethod
    def storage(self) -> str:
        """Where the UI's snapshots live, in a word or two: `files`, or `postgres HOST:PORT/DB`."""

    @abstractmethod
    def describe(self) -> str:
        """Where the UI's snapshots live, as a user reads it in a message."""

    @abstractmethod
    def ui_arguments(self) -> list[str]:
        """The `evidently ui` arguments that serve this workspace (its storage made ready first)."""

    def ui_environment(self) -> dict[str, str]:
        """What `evidently ui` needs in its environment to serve this workspace (beyond evmon's own)."""
        return {}

    @abstractmethod
    def ensure_project(self, name: str, description: str = "") -> uuid.UUID:
        """Create or update the project; return its id."""

    @abstractmethod
    def list_projects(self) -> list[ProjectEntry]: ...

    @abstractmethod
    def find_project(self, name: str) -> ProjectEntry | None: ...

    @abstractmethod
    def write_dashboard(self, pid: uuid.UUID, payload: bytes) -> bool:
        """Store the project's UI dashboard; False if it already held these bytes."""

    @abstractmethod
    def read_dashboard(self, pid: uuid.UUID) -> dict[str, Any] | None:
        """The project's UI dashboard, parsed; None if it has none (or an unreadable one)."""

    @abstractmethod
    def list_snapshots(self, pid: uuid.UUID) -> list[SnapshotFile]:
        """The project's snapshots, from a listing alone."""

    def listing_mark(self, pid: uuid.UUID) -> int | None:
        """A number that changes whenever the project's listing does; None when there is none to read."""
        return None

    @abstractmethod
    def snapshot_exists(self, pid: uuid.UUID, sid: uuid.UUID) -> bool: ...

    @abstractmethod
    def read_snapshot(self, pid: uuid.UUID, sid: uuid.UUID) -> dict[str, Any]:
        """The snapshot as stored (a compacted one without its plots); WorkspaceError if missing or unreadable."""

    @abstractmethod
    def read_full_snapshot(self, pid: uuid.UUID, sid: uuid.UUID) -> dict[str, Any]:
        """The snapshot with all its results and widgets, compacted or not."""

    @abstractmethod
    def read_snapshot_header(self, pid: uuid.UUID, sid: uuid.UUID) -> dict[str, Any]:
        """A snapshot's name, timestamp, metadata and tags, without parsing its results."""

    @abstractmethod
    def read_listed(self, file: SnapshotFile) -> tuple[bytes, int, int]:
        """A listed snapshot's bytes and the (size, version) they were read at; SnapshotInProgress if it changed."""

    @abstractmethod
    def archived_bytes(self, pid: uuid.UUID, sid: uuid.UUID) -> bytes:
        """The full original bytes of a compacted snapshot."""

    @abstractmethod
    def written_at(self, pid: uuid.UUID, sid: uuid.UUID) -> datetime:
        """When the snapshot was written, as far as the storage knows (now, if it does not)."""

    @abstractmethod
    def write_snapshot(self, pid: uuid.UUID, sid: uuid.UUID, payload: bytes) -> SnapshotFile:
        """Create or replace one snapshot, atomically: a reader sees the old one or the new one."""

    @abstractmethod
    def delete_snapshot(self, pid: uuid.UUID, sid: uuid.UUID) -> bool: ...

    @abstractmethod
    def compact(self, pid: uuid.UUID, sid: uuid.UUID, keep_types: Iterable[str]) -> None:
        """Compact one old daily snapshot: keep what the dashboards plot (`keep_types`), its whole original kept."""


def atomic_write(tmp_dir: Path, path: Path, payload: bytes) -> None:
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
