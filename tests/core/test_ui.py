"""The real `evidently ui` on an evmon workspace: lists projects and snapshots, sees new ones live."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from evmon.ui_process import free_port, start_ui, stop, wait_ready
from evmon.workspace import Workspace, daily_snapshot_id, project_id
from tests.conftest import DEMO_END, DEMO_WORKSPACE_DAYS


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return json.loads(response.read())


@pytest.fixture()
def served(demo_workspace: Path, tmp_path: Path) -> Iterator[tuple[str, Workspace]]:
    root = tmp_path / "workspace"
    shutil.copytree(demo_workspace, root)
    port = free_port()
    process = start_ui(root, port=port, log_path=tmp_path / "ui.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + "/api/projects", process, timeout=180)
        yield base, Workspace(root)
    finally:
        stop(process)


def snapshot_names(base: str, pid: uuid.UUID) -> set[str]:
    return {s["name"] for s in get(f"{base}/api/projects/{pid}/snapshots")}


def wait_for(predicate, timeout: float = 15.0) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not seen within {timeout}s")


def restamped(ws: Workspace, project: str, source_day: date, new_day: date) -> bytes:
    """A real snapshot of `source_day`, re-dated to `new_day`."""
    data = ws.read_snapshot(project_id(project), daily_snapshot_id(project, source_day))
    data["timestamp"] = datetime.combine(new_day, datetime.min.time()).isoformat()
    data["name"] = f"{project} {new_day}"
    data["metadata"] = {**data["metadata"], "day": new_day.isoformat()}
    return json.dumps(data).encode()


def test_the_ui_lists_projects_and_snapshots(served: tuple[str, Workspace]) -> None:
    base, _ = served
    projects = {p["name"]: p for p in get(base + "/api/projects")}
    assert set(projects) == {"credit_scorecard", "taxi_duration"}
    assert projects["credit_scorecard"]["id"] == str(project_id("credit_scorecard"))
    snapshots = get(f"{base}/api/projects/{project_id('credit_scorecard')}/snapshots")
    assert len(snapshots) == DEMO_WORKSPACE_DAYS
    newest = max(snapshots, key=lambda s: s["timestamp"])
    assert newest["timestamp"] == f"{DEMO_END}T00:00:00"
    assert newest["id"] == str(daily_snapshot_id("credit_scorecard", DEMO_END))
    assert newest["metadata"]["day"] == str(DEMO_END)


def test_a_new_snapshot_appears_without_a_reload(served: tuple[str, Workspace]) -> None:
    base, ws = served
    pid = project_id("taxi_duration")
    new_day = date(2026, 4, 1)
    ws.write_snapshot(
        pid, daily_snapshot_id("taxi_duration", new_day), restamped(ws, "taxi_duration", DEMO_END, new_day)
    )
    seconds = wait_for(lambda: f"taxi_duration {new_day}" in snapshot_names(base, pid))
    assert seconds < 15


def test_a_replaced_snapshot_is_seen_and_stays_one(served: tuple[str, Workspace]) -> None:
    base, ws = served
    pid, sid = project_id("taxi_duration"), daily_snapshot_id("taxi_duration", DEMO_END)
    data = ws.read_snapshot(pid, sid)
    data["metadata"]["rows"] = "123456"
    ws.write_snapshot(pid, sid, json.dumps(data).encode())

    def replaced() -> bool:
        listed = [s for s in get(f"{base}/api/projects/{pid}/snapshots") if s["id"] == str(sid)]
        return len(listed) == 1 and listed[0]["metadata"]["rows"] == "123456"

    wait_for(replaced)
    assert len(get(f"{base}/api/projects/{pid}/snapshots")) == DEMO_WORKSPACE_DAYS


def test_a_new_project_appears_with_its_snapshot(served: tuple[str, Workspace]) -> None:
    base, ws = served
    pid = ws.ensure_project("fresh_model", "created while the UI runs")
    ws.write_snapshot(
        pid, daily_snapshot_id("fresh_model", DEMO_END), restamped(ws, "taxi_duration", DEMO_END, DEMO_END)
    )
    wait_for(lambda: "fresh_model" in {p["name"] for p in get(base + "/api/projects")})
    wait_for(lambda: len(get(f"{base}/api/projects/{pid}/snapshots")) == 1)


def test_control_a_rename_inside_the_tree_is_not_seen(served: tuple[str, Workspace]) -> None:
    """Why evmon stages outside the workspace: Evidently's watcher ignores in-tree renames."""
    base, ws = served
    pid = project_id("taxi_duration")
    new_day = date(2026, 4, 2)
    final = ws.snapshot_path(pid, daily_snapshot_id("taxi_duration", new_day))
    tmp = final.parent / ".partial.tmp"
    tmp.write_bytes(restamped(ws, "taxi_duration", DEMO_END, new_day))
    tmp.rename(final)
    time.sleep(3)
    assert f"taxi_duration {new_day}" not in snapshot_names(base, pid)
