"""The workspace layout: ids, atomic writes through staging, listing without parsing, locks."""

from __future__ import annotations

import json
import multiprocessing
import os
import uuid
from datetime import date
from pathlib import Path

import pytest

from evmon.errors import WorkspaceError
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.base import default_staging
from evmon.storage.files import FilesWorkspace


def test_ids_are_stable_and_distinct() -> None:
    assert project_id("credit") == project_id("credit")
    assert project_id("credit") != project_id("taxi")
    assert daily_snapshot_id("credit", date(2026, 3, 1)) == daily_snapshot_id("credit", date(2026, 3, 1))
    assert daily_snapshot_id("credit", date(2026, 3, 1)) != daily_snapshot_id("credit", date(2026, 3, 2))
    assert daily_snapshot_id("credit", date(2026, 3, 1)) != daily_snapshot_id("taxi", date(2026, 3, 1))


def test_staging_sits_beside_the_workspace(tmp_path: Path) -> None:
    ws = FilesWorkspace(tmp_path / "workspace")
    assert ws.staging == tmp_path / ".workspace.staging"
    assert default_staging(tmp_path / "ws") == tmp_path / ".ws.staging"


def test_staging_inside_the_workspace_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError) as info:
        FilesWorkspace(tmp_path / "ws", staging=tmp_path / "ws" / ".tmp")
    assert str(info.value) == (
        f"staging folder {tmp_path}/ws/.tmp is inside the workspace {tmp_path}/ws; the Evidently UI ignores files "
        "renamed within its tree: put it beside the workspace, on the same file system"
    )


def test_project_metadata_is_evidentlys_format(tmp_path: Path) -> None:
    ws = FilesWorkspace(tmp_path / "ws")
    ws.prepare()
    pid = ws.ensure_project("credit", "a scorecard")
    meta = json.loads((tmp_path / "ws" / str(pid) / "metadata.json").read_text())
    assert meta == {"id": str(pid), "name": "credit", "description": "a scorecard", "org_id": None, "version": "2"}
    assert (tmp_path / "ws" / str(pid) / "snapshots").is_dir()
    before = (tmp_path / "ws" / str(pid) / "metadata.json").stat().st_mtime_ns
    ws.ensure_project("credit", "a scorecard")  # unchanged: not rewritten
    assert (tmp_path / "ws" / str(pid) / "metadata.json").stat().st_mtime_ns == before
    assert [(p.id, p.name, p.description) for p in ws.list_projects()] == [(pid, "credit", "a scorecard")]
    assert ws.find_project("credit") is not None
    assert ws.find_project("nope") is None


def test_write_replace_list_read_delete(tmp_path: Path) -> None:
    ws = FilesWorkspace(tmp_path / "ws")
    ws.prepare()
    pid = ws.ensure_project("credit")
    sid = daily_snapshot_id("credit", date(2026, 3, 1))
    first = ws.write_snapshot(pid, sid, b'{"name": "one", "value": NaN}')
    second = ws.write_snapshot(pid, sid, b'{"name": "two"}')
    assert first.path == second.path
    listed = ws.list_snapshots(pid)
    assert [(f.snapshot_id, f.size) for f in listed] == [(sid, len(b'{"name": "two"}'))]
    assert ws.read_snapshot(pid, sid) == {"name": "two"}
    assert os.listdir(ws.staging) == []  # nothing left behind
    assert ws.delete_snapshot(pid, sid) is True
    assert ws.delete_snapshot(pid, sid) is False
    assert ws.list_snapshots(pid) == []


def test_reading_a_truncated_file_names_it(tmp_path: Path) -> None:
    ws = FilesWorkspace(tmp_path / "ws")
    ws.prepare()
    pid = ws.ensure_project("credit")
    sid = uuid.uuid4()
    path = ws.snapshot_path(pid, sid)
    path.write_text('{"metric_results": {"a": ')
    with pytest.raises(WorkspaceError) as info:
        ws.read_snapshot(pid, sid)
    assert str(info.value).startswith(f"{path}: not a readable snapshot (invalid JSON: ")


def test_listing_ignores_foreign_files(tmp_path: Path) -> None:
    ws = FilesWorkspace(tmp_path / "ws")
    ws.prepare()
    pid = ws.ensure_project("credit")
    (ws.project_dir(pid) / "snapshots" / "notes.txt").write_text("x")
    (ws.project_dir(pid) / "snapshots" / "not-a-uuid.json").write_text("{}")
    (tmp_path / "ws" / "random-folder").mkdir()
    assert ws.list_snapshots(pid) == []
    assert [p.name for p in ws.list_projects()] == ["credit"]


def test_clean_staging_removes_only_dead_writers_files(tmp_path: Path) -> None:
    ws = FilesWorkspace(tmp_path / "ws")
    ws.prepare()
    dead = ws.staging / "x.json.999999999.abcd1234.tmp"
    alive = ws.staging / f"y.json.{os.getpid()}.abcd1234.tmp"
    dead.write_text("partial")
    alive.write_text("in progress")
    assert ws.clean_staging() == 1
    assert not dead.exists() and alive.exists()


def _hold_lock(root: str, ready: multiprocessing.synchronize.Event, release: multiprocessing.synchronize.Event) -> None:
    ws = FilesWorkspace(root)
    with ws.day_lock("credit", date(2026, 3, 1)) as taken:
        assert taken
        ready.set()
        release.wait(10)


def test_day_lock_excludes_other_processes_and_frees_on_exit(tmp_path: Path) -> None:
    ws = FilesWorkspace(tmp_path / "ws")
    ws.prepare()
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(tmp_path / "ws"), ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        with ws.day_lock("credit", date(2026, 3, 1)) as taken:
            assert taken is False
        with ws.day_lock("credit", date(2026, 3, 2)) as taken:
            assert taken is True  # another day is free
    finally:
        release.set()
        holder.join(30)
    with ws.day_lock("credit", date(2026, 3, 1)) as taken:
        assert taken is True
