"""The scheduler and unreadable snapshot files: checked before each fire, quarantined, reported, their day re-run."""

from __future__ import annotations

import os
import shutil
import time
from datetime import date, timedelta
from pathlib import Path

from evmon.config.loader import load_config
from evmon.scheduler.service import SchedulerService, fixed_clock, plan
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from evmon.storage.quarantine import check_and_quarantine, list_quarantined, loader_problem
from tests.conftest import DEMO_END, DEMO_TODAY

TAXI = "taxi_duration"


def truncate(ws: FilesWorkspace, day: date) -> Path:
    """A daily snapshot cut short by a foreign writer, a while ago."""
    path = ws.snapshot_path(project_id(TAXI), daily_snapshot_id(TAXI, day))
    path.write_bytes(path.read_bytes()[:5000])
    past = time.time() - 600
    os.utime(path, (past, past))
    return path


def test_a_quarantined_day_is_due_again(demo_workspace: Path, demo_config_path: Path, tmp_path: Path) -> None:
    shutil.copytree(demo_workspace, tmp_path / "workspace")
    ws = FilesWorkspace(tmp_path / "workspace")
    project = load_config(demo_config_path).project(TAXI)
    middle = DEMO_END - timedelta(days=2)
    assert plan(ws, project, DEMO_TODAY) == []
    truncate(ws, middle)
    assert len(check_and_quarantine(ws, "evmon ui").quarantined) == 1  # whoever found it
    assert plan(ws, project, DEMO_TODAY) == [middle]  # not only the days after the newest snapshot


def test_a_fire_quarantines_reports_and_reruns_the_day(
    demo_workspace: Path, demo_config_path: Path, tmp_path: Path
) -> None:
    shutil.copytree(demo_workspace, tmp_path / "workspace")
    ws = FilesWorkspace(tmp_path / "workspace")
    middle = DEMO_END - timedelta(days=2)
    path = truncate(ws, middle)
    lines: list[str] = []
    service = SchedulerService(
        demo_config_path, workspace=ws, now=fixed_clock(DEMO_TODAY), echo=lines.append, dashboards=False
    )

    results = service.fire(TAXI)

    [moved] = [line for line in lines if "moved unreadable snapshot" in line]
    assert moved.startswith(f"{TAXI}: moved unreadable snapshot {path} to ")
    assert moved.endswith("not valid JSON (Expecting ',' delimiter: line 1 column 5001; 5000 bytes)")
    assert [(r.day, r.outcome) for r in results] == [(middle, "ok")]
    assert loader_problem(path.read_bytes()) is None  # the day is back, readable
    [record] = list_quarantined(ws)
    assert record.found_by == "scheduler" and record.original_path == str(path)
    assert plan(ws, service.config.project(TAXI), DEMO_TODAY) == []

    started: list[str] = []  # a later start says what the quarantine holds
    later = SchedulerService(demo_config_path, workspace=ws, now=fixed_clock(DEMO_TODAY), echo=started.append)
    later.start()
    later.stop()
    assert f"1 unreadable snapshot file(s) in the quarantine {ws.quarantine}" in started
