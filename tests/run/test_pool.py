"""evmon.run.executors.pool: the processes of one run kept warm for the next, never a dead or extra one."""

from __future__ import annotations

import os
import signal
from datetime import timedelta
from pathlib import Path

from evmon.config.loader import load_config
from evmon.processes import process_alive
from evmon.run.batch import DayTask
from evmon.run.executors.pool import DayProcessPool
from evmon.run.many import run_many
from evmon.storage.files import FilesWorkspace
from tests.conftest import DEMO_END, DEMO_TODAY

TAXI = "taxi_duration"


def _night(config_path: Path, workspace: FilesWorkspace, pool: DayProcessPool, back: int) -> str:
    config = load_config(config_path)
    day = DEMO_END - timedelta(days=back)
    (result,) = run_many(
        config, [DayTask(config.project(TAXI), day)], workspace=workspace, workers=1, today=DEMO_TODAY, pool=pool
    )
    return result.outcome


def test_the_next_run_computes_its_day_in_the_process_kept_from_the_last(
    demo_config_path: Path, workspace_path: Path
) -> None:
    workspace = FilesWorkspace(workspace_path)
    pool = DayProcessPool(1)
    try:
        assert _night(demo_config_path, workspace, pool, back=1) == "ok"
        (kept,) = pool.pids()
        assert _night(demo_config_path, workspace, pool, back=0) == "ok"
        assert pool.pids() == [kept]  # the same process took the second day and was kept again
        assert len(workspace.list_snapshots(workspace.list_projects()[0].id)) == 2
    finally:
        pool.close()
    assert pool.pids() == [] and not process_alive(kept)


def test_a_kept_process_that_died_is_not_handed_out(demo_config_path: Path, workspace_path: Path) -> None:
    workspace = FilesWorkspace(workspace_path)
    pool = DayProcessPool(1)
    try:
        assert _night(demo_config_path, workspace, pool, back=1) == "ok"
        (dead,) = pool.pids()
        os.kill(dead, signal.SIGKILL)  # the OOM killer, between two nights
        os.waitid(os.P_PID, dead, os.WEXITED | os.WNOWAIT)
        assert _night(demo_config_path, workspace, pool, back=0) == "ok"  # on a new process
        (fresh,) = pool.pids()
        assert fresh != dead
    finally:
        pool.close()


def test_at_most_size_processes_are_kept_and_close_ends_them(demo_config_path: Path, workspace_path: Path) -> None:
    config = load_config(demo_config_path)
    pool = DayProcessPool(1)
    tasks = [DayTask(config.project(TAXI), DEMO_END - timedelta(days=back)) for back in (1, 0)]
    try:
        results = run_many(
            config, tasks, workspace=FilesWorkspace(workspace_path), workers=2, today=DEMO_TODAY, pool=pool
        )
        assert [r.outcome for r in results] == ["ok", "ok"]
        assert _day_processes() == pool.pids() and len(pool.pids()) == 1  # two worked, one was kept
    finally:
        pool.close()
    assert _day_processes() == []


def _day_processes() -> list[int]:
    """This process's living children that compute days."""
    me = Path(f"/proc/{os.getpid()}/task")
    children = [int(pid) for task in me.iterdir() for pid in (task / "children").read_text().split()]
    return sorted(
        pid for pid in children if b"evmon.run.executors.process" in Path(f"/proc/{pid}/cmdline").read_bytes()
    )
