"""The quarantine: what the Evidently UI cannot load is moved out of its tree, with a record, never lost."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from evmon.errors import WorkspaceError
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.base import SnapshotFile
from evmon.storage.files import FilesWorkspace
from evmon.storage.quarantine import (
    CHECKED_FILE,
    RECORD,
    check_and_quarantine,
    clear_for_ui,
    list_quarantined,
    loader_problem,
    quarantine_file,
    quarantined_ids,
)
from tests.conftest import DEMO_END

TAXI = "taxi_duration"
TAXI_ID = project_id(TAXI)
SETTLED_NS = time.time_ns() - 3600 * 10**9  # an mtime well past the settle time


def copy_of(demo_workspace: Path, tmp_path: Path) -> FilesWorkspace:
    root = tmp_path / "workspace"
    shutil.copytree(demo_workspace, root)
    return FilesWorkspace(root)


def snapshot_file(ws: FilesWorkspace, pid: uuid.UUID, sid: uuid.UUID) -> SnapshotFile:
    return next(f for f in ws.list_snapshots(pid) if f.snapshot_id == sid)


def corrupt(
    ws: FilesWorkspace, pid: uuid.UUID, sid: uuid.UUID, payload: bytes | None = None, *, settled: bool = True
) -> bytes:
    """Overwrite a snapshot file in place (as a crashed foreign writer would), truncated by default."""
    path = ws.snapshot_path(pid, sid)
    data = payload if payload is not None else path.read_bytes()[:5000]
    path.write_bytes(data)
    if settled:
        os.utime(path, ns=(SETTLED_NS, SETTLED_NS))
    return data


def evidently_ui_loads(tmp_path: Path, data: bytes) -> bool:
    """Whether the UI's start-up loader (LocalState.load, skip_errors=False) accepts a workspace of this one file."""
    from evidently.ui.service.storage.local.base import LocalState

    root = tmp_path / f"oracle-{uuid.uuid4().hex[:8]}"
    pid = uuid.uuid4()
    (root / str(pid) / "snapshots").mkdir(parents=True)
    meta = {"id": str(pid), "name": "p", "description": "", "org_id": None, "version": "2"}
    (root / str(pid) / "metadata.json").write_text(json.dumps(meta))
    (root / str(pid) / "snapshots" / f"{uuid.uuid4()}.json").write_bytes(data)
    try:
        LocalState.load(str(root), None)
    except Exception:  # what makes /api/projects answer 500
        return False
    return True


def test_unreadable_means_what_the_evidently_ui_rejects(demo_workspace: Path, tmp_path: Path) -> None:
    ws = FilesWorkspace(demo_workspace)
    real = ws.snapshot_path(TAXI_ID, daily_snapshot_id(TAXI, DEMO_END)).read_bytes()
    doc = json.loads(real)
    numeric_time = json.dumps({**doc, "timestamp": 1774915200}).encode()  # pydantic takes epoch seconds
    cases = {
        "real": real,
        "epoch timestamp": numeric_time,
        "truncated": real[:5000],
        "empty": b"",
        "a list": b"[1, 2]",
        "an object, not a snapshot": b'{"name": "x"}',
        "results of the wrong type": json.dumps({**doc, "metric_results": [1]}).encode(),
        "not UTF-8": b'{"name": "\xff"}',
    }
    verdicts = {name: (loader_problem(data), evidently_ui_loads(tmp_path, data)) for name, data in cases.items()}
    for name, (problem, loads) in verdicts.items():
        assert (problem is None) == loads, f"{name}: evmon says {problem!r}, the UI loads it: {loads}"
    assert [name for name, (problem, _) in verdicts.items() if problem is None] == ["real", "epoch timestamp"]
    assert verdicts["truncated"][0] == "not valid JSON (Expecting ',' delimiter: line 1 column 5001; 5000 bytes)"
    assert verdicts["a list"][0] == "not an Evidently snapshot (a JSON list, expected an object)"
    assert verdicts["an object, not a snapshot"][0] == "not an Evidently snapshot (report: field required; and 7 more)"
    assert str(verdicts["not UTF-8"][0]).startswith("not UTF-8 text (invalid start byte at byte 10)")


def test_an_unreadable_file_is_moved_with_its_record(demo_workspace: Path, tmp_path: Path) -> None:
    ws = copy_of(demo_workspace, tmp_path)
    sid = daily_snapshot_id(TAXI, DEMO_END)
    bad = corrupt(ws, TAXI_ID, sid)
    before = {f.path: f.path.read_bytes() for p in ws.list_projects() for f in ws.list_snapshots(p.id)}

    result = check_and_quarantine(ws, "test")

    assert [r.snapshot_id for r in result.quarantined] == [str(sid)] and result.pending == []
    [record] = result.quarantined
    original = ws.snapshot_path(TAXI_ID, sid)
    assert not original.exists()
    moved = Path(record.quarantine_path)
    assert moved.read_bytes() == bad and moved.name == f"{sid}.json"
    assert moved.parent.parent == tmp_path / ".workspace.quarantine" / str(TAXI_ID)
    assert json.loads((moved.parent / RECORD).read_text()) == {
        "snapshot_id": str(sid),
        "project_id": str(TAXI_ID),
        "project": TAXI,
        "original_path": str(original),
        "quarantine_path": str(moved),
        "reason": "not valid JSON (Expecting ',' delimiter: line 1 column 5001; 5000 bytes)",
        "found_by": "test",
        "quarantined_at": record.quarantined_at,
        "size": 5000,
        "mtime_ns": SETTLED_NS,
    }
    assert abs(time.time() - datetime.fromisoformat(record.quarantined_at).timestamp()) < 60
    after = {f.path: f.path.read_bytes() for p in ws.list_projects() for f in ws.list_snapshots(p.id)}
    assert after == {path: data for path, data in before.items() if path != original}  # the others untouched
    assert list_quarantined(ws) == [record]
    assert quarantined_ids(ws, TAXI_ID) == {sid}


def test_quarantining_is_idempotent_and_keeps_every_copy(demo_workspace: Path, tmp_path: Path) -> None:
    ws = copy_of(demo_workspace, tmp_path)
    sid = daily_snapshot_id(TAXI, DEMO_END)
    first = corrupt(ws, TAXI_ID, sid)
    assert len(check_and_quarantine(ws, "test").quarantined) == 1
    assert check_and_quarantine(ws, "test").quarantined == []  # nothing left to move
    second = corrupt(ws, TAXI_ID, sid, b'{"name": "another bad copy"}')
    assert len(check_and_quarantine(ws, "test").quarantined) == 1
    records = list_quarantined(ws)
    assert [Path(r.quarantine_path).read_bytes() for r in records] == [first, second]
    assert len({Path(r.quarantine_path).parent for r in records}) == 2


def test_a_file_being_written_is_left_alone_until_it_settles(demo_workspace: Path, tmp_path: Path) -> None:
    ws = copy_of(demo_workspace, tmp_path)
    sid = daily_snapshot_id(TAXI, DEMO_END)
    corrupt(ws, TAXI_ID, sid, settled=False)  # just written, perhaps not finished

    young = check_and_quarantine(ws, "test", settle_s=60)
    assert young.quarantined == [] and [f.snapshot_id for f in young.pending] == [sid]
    assert ws.snapshot_exists(TAXI_ID, sid)

    settled = clear_for_ui(ws, "test", settle_s=0.5)  # waits for it, checks it again
    assert [r.snapshot_id for r in settled.quarantined] == [str(sid)] and settled.pending == []
    assert not ws.snapshot_exists(TAXI_ID, sid)


def test_readable_files_are_remembered_and_not_parsed_again(demo_workspace: Path, tmp_path: Path) -> None:
    ws = copy_of(demo_workspace, tmp_path)
    total = sum(len(ws.list_snapshots(p.id)) for p in ws.list_projects())
    first = check_and_quarantine(ws, "test")
    assert (first.parsed, first.known_good) == (total, 0)
    assert (ws.evmon_dir / CHECKED_FILE).is_file()
    again = check_and_quarantine(ws, "test")
    assert (again.parsed, again.known_good) == (0, total)

    sid = daily_snapshot_id(TAXI, DEMO_END)
    corrupt(ws, TAXI_ID, sid)  # changed since it was found readable: checked again
    third = check_and_quarantine(ws, "test")
    assert (third.parsed, third.known_good, len(third.quarantined)) == (1, total - 1, 1)


def test_a_file_replaced_since_its_check_is_not_moved(demo_workspace: Path, tmp_path: Path) -> None:
    ws = copy_of(demo_workspace, tmp_path)
    sid = daily_snapshot_id(TAXI, DEMO_END)
    good = ws.snapshot_path(TAXI_ID, sid).read_bytes()
    corrupt(ws, TAXI_ID, sid)
    checked = snapshot_file(ws, TAXI_ID, sid)
    ws.write_snapshot(TAXI_ID, sid, good)  # the scheduler re-ran the day meanwhile
    record = quarantine_file(ws, checked, "truncated", "test", seen=(checked.size, checked.mtime_ns))
    assert record is None
    assert ws.snapshot_path(TAXI_ID, sid).read_bytes() == good and list_quarantined(ws) == []


def test_the_quarantine_stays_outside_the_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = FilesWorkspace(tmp_path / "ws")
    assert ws.quarantine == tmp_path / ".ws.quarantine"
    monkeypatch.setenv("EVMON_QUARANTINE", str(tmp_path / "elsewhere"))
    assert ws.quarantine == tmp_path / "elsewhere"
    monkeypatch.setenv("EVMON_QUARANTINE", str(tmp_path / "ws" / ".quarantine"))
    with pytest.raises(WorkspaceError, match="is inside the workspace"):
        _ = ws.quarantine


def test_a_move_interrupted_before_its_record_is_still_listed(demo_workspace: Path, tmp_path: Path) -> None:
    ws = copy_of(demo_workspace, tmp_path)
    sid = daily_snapshot_id(TAXI, DEMO_END)
    corrupt(ws, TAXI_ID, sid)
    [record] = check_and_quarantine(ws, "test").quarantined
    (Path(record.quarantine_path).parent / RECORD).unlink()  # as if killed between the move and the record
    [listed] = list_quarantined(ws)
    assert listed.quarantine_path == record.quarantine_path and listed.snapshot_id == str(sid)
    assert listed.reason == "record missing (the move to the quarantine was interrupted)"
