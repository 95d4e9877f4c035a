"""Helpers of the bridge tests: private workspace copies, re-stamped snapshots, reading back."""

from __future__ import annotations

import json
import math
import shutil
import uuid
from pathlib import Path
from typing import Any

import psycopg

from evmon.snapshot.codec import loads as parse_json
from evmon.snapshot.flatten import flatten
from evmon.storage.base import SnapshotFile
from evmon.storage.files import FilesWorkspace


def copy_workspace(source: Path, target: Path) -> FilesWorkspace:
    """A private copy of a (read-only, session) workspace."""
    shutil.copytree(source, target)
    return FilesWorkspace(target)


def all_files(ws: FilesWorkspace) -> dict[uuid.UUID, SnapshotFile]:
    return {f.snapshot_id: f for p in ws.list_projects() for f in ws.list_snapshots(p.id)}


def clone_snapshot(ws: FilesWorkspace, file: SnapshotFile, new_id: uuid.UUID | None = None) -> SnapshotFile:
    """The same snapshot content under another id (Evidently's ids are random uuids)."""
    sid = new_id or uuid.uuid4()
    return ws.write_snapshot(file.project_id, sid, file.path.read_bytes())


def expected_rows(ws: FilesWorkspace) -> dict[uuid.UUID, list[tuple[Any, ...]]]:
    """What metric_values must hold for the workspace: per snapshot, sorted (metric_id, kind, label, value)."""
    out: dict[uuid.UUID, list[tuple[Any, ...]]] = {}
    for sid, file in all_files(ws).items():
        rows = flatten(parse_json(file.path.read_bytes()))
        out[sid] = sorted((r.metric_id, r.value_kind, r.label or "", _num(r.value)) for r in rows)
    return out


def stored_rows(dsn: str) -> dict[uuid.UUID, list[tuple[Any, ...]]]:
    out: dict[uuid.UUID, list[tuple[Any, ...]]] = {}
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT snapshot_id, metric_id, value_kind, coalesce(label, ''), value FROM evmon.metric_values"
        ).fetchall()
    for sid, metric_id, kind, label, value in rows:
        out.setdefault(sid, []).append((metric_id, kind, label, _num(value)))
    return {sid: sorted(v) for sid, v in out.items()}


def stored_files(dsn: str) -> dict[uuid.UUID, tuple[int, int]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT snapshot_id, file_size, file_mtime_ns FROM evmon.snapshots").fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def assert_in_step(ws: FilesWorkspace, dsn: str) -> None:
    """Postgres holds exactly the workspace's snapshots, with exactly their values."""
    files = all_files(ws)
    assert stored_files(dsn) == {sid: (f.size, f.mtime_ns) for sid, f in files.items()}
    assert stored_rows(dsn) == {sid: rows for sid, rows in expected_rows(ws).items() if rows}


def count(dsn: str, query: str, params: tuple[Any, ...] = ()) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query, params).fetchone()  # type: ignore[call-overload]
    assert row is not None
    return int(row[0])


def _num(value: float | None) -> Any:
    if value is not None and math.isnan(value):
        return "NaN"
    return value


def restamp(ws: FilesWorkspace, file: SnapshotFile, sid: uuid.UUID, day: str) -> SnapshotFile:
    """A copy of a snapshot as another day's (new id, timestamp and metadata day)."""
    doc = json.loads(file.path.read_bytes())
    doc["timestamp"] = f"{day}T00:00:00"
    doc["metadata"] = {**doc.get("metadata", {}), "day": day}
    return ws.write_snapshot(file.project_id, sid, json.dumps(doc).encode())
