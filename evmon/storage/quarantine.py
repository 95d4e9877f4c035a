"""Unreadable snapshot files, moved out of the Evidently UI's tree: the quarantine.

`evidently ui` parses every snapshot at start-up, and one file its loader rejects makes
/api/projects answer HTTP 500 for every project. So no such file may stay in the workspace:
it is MOVED (never deleted) to the quarantine folder beside the workspace (Workspace.quarantine,
env EVMON_QUARANTINE), with a record of why, when, by whom and from where:

    <quarantine>/<project-id>/<UTC time>-<snapshot-id>/<snapshot-id>.json   the file, as it was
    <quarantine>/<project-id>/<UTC time>-<snapshot-id>/record.json          the QuarantineRecord

Each incident has its own folder, so a second bad copy of the same id never meets the first.
"Unreadable" is exactly what the UI's loader rejects (evidently/ui/service/storage/local/base.py):
not UTF-8 JSON, or not a valid `SnapshotModel`. A file still being written is never moved: one
that changes while it is read, or is younger than `settle_s`, is left for a later check (evmon's
own writes are atomic renames; other writers may not be). A file is moved only if it is still
the very file that was checked (inode, size, mtime); should a writer replace it in the instant
between that check and the rename, the new file is put back.

Checking every file is a full parse (about 60 ms for a 3.6 MB snapshot), so files found
readable are remembered by (id, size, mtime) in ``.evmon/checked_snapshots.sqlite3``: a start
on years of unchanged snapshots parses none of them again.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import sqlite3
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from evmon.errors import WorkspaceError
from evmon.storage.base import SnapshotFile, Workspace

RECORD = "record.json"
CHECKED_FILE = "checked_snapshots.sqlite3"
DEFAULT_SETTLE_S = 2.0
_INCIDENT = re.compile(r"^(\d{8}T\d{12}Z)(?:-\d+)?-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


def loader_problem(data: bytes) -> str | None:
    """Why the Evidently UI's loader would reject a snapshot file's bytes; None if it loads it."""
    try:
        doc = json.loads(data.decode("utf-8"))  # the UI's loader: stdlib json (NaN literals allowed)
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    except json.JSONDecodeError as exc:
        return f"not valid JSON ({exc.msg}: line {exc.lineno} column {exc.colno}; {len(data)} bytes)"
    if not isinstance(doc, dict):
        return f"not an Evidently snapshot (a JSON {type(doc).__name__}, expected an object)"
    from evmon.evidently.loader import snapshot_problem

    return snapshot_problem(doc)


@dataclass(frozen=True)
class QuarantineRecord:
    """One file moved to the quarantine, and why."""

    snapshot_id: str
    project_id: str
    project: str | None
    original_path: str
    quarantine_path: str
    reason: str
    found_by: str
    quarantined_at: str  # ISO 8601, UTC
    size: int
    mtime_ns: int

    def line(self) -> str:
        return f"moved unreadable snapshot {self.original_path} to {self.quarantine_path}: {self.reason}"


@dataclass(frozen=True)
class _Identity:
    """The file a check read: a rename may only move this very file."""

    inode: int
    size: int
    mtime_ns: int


@dataclass
class SweepResult:
    """What a check of snapshot files found and did."""

    quarantined: list[QuarantineRecord] = field(default_factory=list)
    pending: list[SnapshotFile] = field(default_factory=list)  # unreadable but perhaps still being written
    parsed: int = 0
    known_good: int = 0  # skipped: checked before, unchanged


@dataclass(frozen=True)
class _Verdict:
    problem: str | None
    identity: _Identity | None  # None: the file is gone or changed while read (in progress)


def _check(file: SnapshotFile) -> _Verdict:
    try:
        with open(file.path, "rb") as handle:
            before = os.fstat(handle.fileno())
            data = handle.read()
            after = os.fstat(handle.fileno())
    except FileNotFoundError:
        return _Verdict(None, None)
    except OSError as exc:
        return _Verdict(f"cannot be read ({exc.strerror})", _identity_of(file.path))
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or len(data) != after.st_size:
        return _Verdict("changed while it was read", None)
    return _Verdict(loader_problem(data), _Identity(after.st_ino, after.st_size, after.st_mtime_ns))


def _identity_of(path: Path) -> _Identity | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return _Identity(st.st_ino, st.st_size, st.st_mtime_ns)


def check_and_quarantine(
    workspace: Workspace,
    found_by: str,
    files: Iterable[SnapshotFile] | None = None,
    *,
    settle_s: float = DEFAULT_SETTLE_S,
) -> SweepResult:
    """Check snapshot files (all of the workspace by default) and quarantine the unreadable ones.

    Files remembered as readable with the same size and mtime are not parsed again. A workspace
    whose snapshots live in the UI's database has no files to quarantine: the UI reads each
    snapshot when asked for it, so a bad one fails only its own report.
    """
    if not workspace.stores_files:
        return SweepResult()
    projects = workspace.list_projects()
    names = {p.id: p.name for p in projects}
    everything = files is None
    if files is None:
        files = [f for p in projects for f in workspace.list_snapshots(p.id)]
    checked = CheckedFiles(workspace)
    known = checked.known()
    result = SweepResult()
    good: dict[str, tuple[int, int]] = {}
    for file in files:
        key = _key(file)
        if known.get(key) == (file.size, file.mtime_ns):
            result.known_good += 1
            good[key] = known[key]
            continue
        verdict = _check(file)
        result.parsed += 1
        if verdict.identity is None:
            if verdict.problem is not None:
                result.pending.append(file)  # changed while read: a writer is at it
            continue
        if verdict.problem is None:
            good[key] = (verdict.identity.size, verdict.identity.mtime_ns)
        elif time.time() - verdict.identity.mtime_ns / 1e9 < settle_s:
            result.pending.append(file)
        else:
            seen = (verdict.identity.size, verdict.identity.mtime_ns)
            project = names.get(file.project_id)
            record = quarantine_file(workspace, file, verdict.problem, found_by, project=project, seen=seen)
            if record is not None:
                result.quarantined.append(record)
    checked.remember(good, prune=everything)
    return result


def quarantine_file(
    workspace: Workspace,
    file: SnapshotFile,
    reason: str,
    found_by: str,
    *,
    project: str | None = None,
    seen: tuple[int, int] | None = None,
) -> QuarantineRecord | None:
    """Move one unreadable snapshot file to the quarantine, with its record; None if it is gone or was replaced.

    `seen` is the (size, mtime_ns) the file was checked at: a file that changed since is left alone.
    """
    identity = _identity_of(file.path)
    if identity is None or (seen is not None and (identity.size, identity.mtime_ns) != seen):
        return None
    now = datetime.now(UTC)
    incident = _new_incident(workspace.quarantine / str(file.project_id), now, file.snapshot_id)
    target = incident / file.path.name
    try:
        os.rename(file.path, target)
    except FileNotFoundError:
        incident.rmdir()
        return None
    except OSError as exc:
        with contextlib.suppress(OSError):
            incident.rmdir()
        if exc.errno == errno.EXDEV:
            raise WorkspaceError(
                f"cannot move {file.path} to the quarantine {workspace.quarantine}: another file system; "
                "set EVMON_QUARANTINE to a folder beside the workspace"
            ) from exc
        raise WorkspaceError(f"cannot move {file.path} to the quarantine: {exc.strerror}") from exc
    moved = _identity_of(target)
    if moved is not None and moved.inode != identity.inode:
        # a writer replaced the file between the check and the rename: that new file belongs in the workspace
        try:
            os.link(target, file.path)
        except FileExistsError:
            reason = "replaced while being quarantined: this is a readable older version, superseded (kept)"
        else:
            target.unlink()
            incident.rmdir()
            return None
    record = QuarantineRecord(
        snapshot_id=str(file.snapshot_id),
        project_id=str(file.project_id),
        project=project,
        original_path=str(file.path),
        quarantine_path=str(target),
        reason=reason,
        found_by=found_by,
        quarantined_at=now.isoformat(),
        size=identity.size,
        mtime_ns=identity.mtime_ns,
    )
    _write_record(incident / RECORD, record)
    return record


def _new_incident(folder: Path, now: datetime, sid: uuid.UUID) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    for n in range(1, 1000):
        incident = folder / (f"{stamp}-{sid}" if n == 1 else f"{stamp}-{n}-{sid}")
        try:
            incident.mkdir()
        except FileExistsError:
            continue
        return incident
    raise WorkspaceError(f"cannot create a quarantine folder in {folder}")


def _write_record(path: Path, record: QuarantineRecord) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(asdict(record), handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def list_quarantined(workspace: Workspace) -> list[QuarantineRecord]:
    """Every file in the quarantine, oldest first (a file whose record was never written gets one made up)."""
    records: list[QuarantineRecord] = []
    for incident, pid, sid in _incidents(workspace.quarantine):
        try:
            raw = json.loads((incident / RECORD).read_text(encoding="utf-8"))
            records.append(QuarantineRecord(**raw))
            continue
        except (OSError, ValueError, TypeError):
            pass
        moved = incident / f"{sid}.json"
        try:
            st = moved.stat()
        except OSError:
            continue  # an empty incident folder: the move never happened
        when = datetime.strptime(incident.name[:22], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
        records.append(
            QuarantineRecord(
                snapshot_id=str(sid),
                project_id=str(pid),
                project=None,
                original_path="",
                quarantine_path=str(moved),
                reason="record missing (the move to the quarantine was interrupted)",
                found_by="unknown",
                quarantined_at=when.isoformat(),
                size=st.st_size,
                mtime_ns=st.st_mtime_ns,
            )
        )
    return sorted(records, key=lambda r: r.quarantined_at)


def quarantined_ids(workspace: Workspace, pid: uuid.UUID) -> set[uuid.UUID]:
    """The snapshot ids of a project that have a file in the quarantine (from folder names alone)."""
    return {sid for _, folder_pid, sid in _incidents(workspace.quarantine, pid) if folder_pid == pid}


def fingerprint(workspace: Workspace) -> list[str]:
    """What changes when files enter or leave the quarantine (folder names alone)."""
    return sorted(f"{pid}/{incident.name}" for incident, pid, _ in _incidents(workspace.quarantine))


def _incidents(root: Path, only: uuid.UUID | None = None) -> list[tuple[Path, uuid.UUID, uuid.UUID]]:
    out: list[tuple[Path, uuid.UUID, uuid.UUID]] = []
    try:
        project_dirs = [root / str(only)] if only is not None else list(root.iterdir())
    except FileNotFoundError:
        return out
    for project_dir in project_dirs:
        try:
            pid = uuid.UUID(project_dir.name)
            children = list(project_dir.iterdir())
        except (ValueError, NotADirectoryError, FileNotFoundError):
            continue
        for incident in children:
            match = _INCIDENT.match(incident.name)
            if match is not None and incident.is_dir():
                out.append((incident, pid, uuid.UUID(match.group(2))))
    return out


def _key(file: SnapshotFile) -> str:
    return f"{file.project_id}/{file.snapshot_id}"


class CheckedFiles:
    """Snapshot files found readable, by (id, size, mtime): a cache, so any trouble only means checking again."""

    def __init__(self, workspace: Workspace) -> None:
        self.path = workspace.evmon_dir / CHECKED_FILE

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS checked (key TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER)")
        return conn

    def known(self) -> dict[str, tuple[int, int]]:
        try:
            with contextlib.closing(self._connect()) as conn:
                return {k: (s, m) for k, s, m in conn.execute("SELECT key, size, mtime_ns FROM checked")}
        except sqlite3.Error:
            return {}

    def remember(self, good: dict[str, tuple[int, int]], *, prune: bool) -> None:
        """Record readable files; `prune`: forget every file not in `good` (after a check of all files)."""
        with contextlib.suppress(sqlite3.Error), contextlib.closing(self._connect()) as conn, conn:
            if prune:
                conn.execute("DELETE FROM checked")
            conn.executemany(
                "INSERT OR REPLACE INTO checked (key, size, mtime_ns) VALUES (?, ?, ?)",
                [(k, s, m) for k, (s, m) in good.items()],
            )


def clear_for_ui(
    workspace: Workspace, found_by: str, *, settle_s: float = DEFAULT_SETTLE_S, rounds: int = 3
) -> SweepResult:
    """Before the UI starts: every snapshot file checked, the unreadable ones quarantined.

    Files caught while being written are checked again once they have settled (a few rounds);
    those still changing after that are left in `pending`.
    """
    result = check_and_quarantine(workspace, found_by, settle_s=settle_s)
    for _ in range(rounds):
        if not result.pending:
            break
        time.sleep(settle_s)
        again = check_and_quarantine(workspace, found_by, _restat(workspace, result.pending), settle_s=settle_s)
        result.quarantined.extend(again.quarantined)
        result.parsed += again.parsed
        result.pending = again.pending
    return result


def _restat(workspace: Workspace, files: list[SnapshotFile]) -> list[SnapshotFile]:
    wanted = {(f.project_id, f.snapshot_id) for f in files}
    projects = {f.project_id for f in files}
    return [f for pid in projects for f in workspace.list_snapshots(pid) if (f.project_id, f.snapshot_id) in wanted]
