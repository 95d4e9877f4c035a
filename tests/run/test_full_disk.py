"""A workspace on a disk that is 100% full: a real file system (tmpfs, mounted here), filled up.

Writers say in one line which run was not recorded and why, naming the disk; a snapshot that
cannot be written leaves nothing partial; readers (the bridge's export of the run log, the
scheduler's /metrics) keep reading the run log read-only and say so once.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from evmon.config.loader import load_config
from evmon.scheduler.metrics import scheduler_registry
from evmon.scheduler.service import SchedulerService, fixed_clock
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from evmon.storage.runlog import RunLog, RunRecord
from tests.conftest import DEMO_END, DEMO_TODAY, write_config

TAXI = "taxi_duration"
DONE, NEW = DEMO_END - timedelta(days=1), DEMO_END


@pytest.fixture()
def disk(tmp_path: Path) -> Iterator[Path]:
    """A small file system of this test alone (tmpfs): needs the right to mount (root in this sandbox)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(mount: Path) -> None:
    """Write until the file system refuses: 0 bytes left."""
    with open(mount / "filler", "wb") as handle:
        block = b"\0" * 65536
        try:
            while True:
                handle.write(block)
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    assert os.statvfs(mount).f_bfree == 0


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def seeded(disk: Path, config: Path) -> Path:
    """A workspace on `disk` with the project and one successful run (of DONE) logged, before the disk fills."""
    workspace = FilesWorkspace(disk / "workspace")
    workspace.prepare()
    workspace.ensure_project(TAXI, load_config(config).project(TAXI).description)
    RunLog(workspace.evmon_dir).append(
        RunRecord(project=TAXI, day=DONE, status="ok", started_at=datetime.now(UTC), duration_s=2.0, rows=476)
    )
    return workspace.root


def test_on_a_full_disk_evmon_run_says_in_one_line_what_was_not_recorded(
    demo_dir: Path, tmp_path: Path, disk: Path, clean_env: None
) -> None:
    config = write_config(tmp_path / "projects.yaml", demo_dir, taxi_duration={})
    workspace = seeded(disk, config)
    before = files_under(disk)
    fill(disk)

    env = {**os.environ, "EVMON_WORKSPACE": str(workspace), "DO_NOT_TRACK": "1"}
    cmd = [sys.executable, "-m", "evmon.cli", "run", TAXI, "-c", str(config), "--day", str(NEW)]
    ran = subprocess.run(cmd, env=env, capture_output=True, text=True)
    snapshot = workspace / str(project_id(TAXI)) / "snapshots" / f"{daily_snapshot_id(TAXI, NEW)}.json"
    runlog = workspace / ".evmon" / "runs.sqlite3"
    assert (ran.returncode, ran.stderr) == (1, "")
    assert ran.stdout == (
        f"{TAXI} {NEW} failed: cannot write {snapshot}: No space left on device (run not recorded: the run log "
        f"{runlog} cannot be written: the disk at {disk} (tmpfs) is full: 0 bytes free)\n"
    )
    # nothing partial: no snapshot, nothing in the staging folder; the day's lock, and SQLite's empty -wal, -shm
    new = files_under(disk) - before - {"filler"}
    evmon_dir = "workspace/.evmon"
    assert new <= {
        f"{evmon_dir}/locks/{TAXI}/{NEW}.lock",
        f"{evmon_dir}/runs.sqlite3-wal",
        f"{evmon_dir}/runs.sqlite3-shm",
    }
    assert not snapshot.exists() and list(FilesWorkspace(workspace).staging.iterdir()) == []
    assert [(r.day, r.status) for r in RunLog(workspace / ".evmon").records(TAXI)] == [(DONE, "ok")]


def test_on_a_full_disk_the_bridge_and_the_scheduler_metrics_read_the_run_log_read_only(
    demo_dir: Path, tmp_path: Path, disk: Path, pg_dsn: str, clean_env: None
) -> None:
    config = write_config(tmp_path / "projects.yaml", demo_dir, taxi_duration={})
    workspace = seeded(disk, config)
    fill(disk)
    runlog = workspace / ".evmon" / "runs.sqlite3"
    notice = (
        f"the run log {runlog} cannot be written: the disk at {disk} (tmpfs) is full: 0 bytes free; "
        "reading it read-only, runs are not recorded meanwhile"
    )

    # the bridge (`evmon bridge --once`): the run log exported, said once on stderr
    env = {**os.environ, "EVMON_WORKSPACE": str(workspace), "EVMON_PG_DSN": pg_dsn, "DO_NOT_TRACK": "1"}
    bridge = [sys.executable, "-m", "evmon.cli", "--log-level", "WARNING", "bridge", "--once", "-c", str(config)]
    bridged = subprocess.run(bridge, env=env, capture_output=True, text=True)
    assert bridged.returncode == 0, bridged.stderr
    assert re.fullmatch(
        rf"\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d WARNING evmon.storage.runlog: {re.escape(notice)}\n", bridged.stderr
    ), bridged.stderr
    with psycopg.connect(pg_dsn) as conn:
        exported = conn.execute("SELECT project, day::text, status, rows FROM evmon.runs").fetchall()
    assert exported == [(TAXI, str(DONE), "ok", 476)]

    # the scheduler's /metrics: the run log's tallies and the due days, collected twice, said once
    service = SchedulerService(config, workspace=FilesWorkspace(workspace), now=fixed_clock(DEMO_TODAY))
    registry, due = scheduler_registry(service)
    with _captured() as records:
        due.refresh()
        for _ in range(2):
            found = {
                (sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in registry.collect()
                for sample in family.samples
            }
            assert found[("evmon_runs_total", (("project", TAXI), ("status", "ok")))] == 1.0
            assert found[("evmon_run_rows_sum", ())] == 476.0
    assert [r.getMessage() for r in records if r.name == "evmon.storage.runlog"] == [notice]
    assert [r.levelname for r in records] == ["WARNING"]  # and no other complaint (the planner read it too)


class _captured:
    """The log records of evmon's loggers while the block runs (the CLI's logging set-up may hold the root's)."""

    def __enter__(self) -> list[logging.LogRecord]:
        self.records: list[logging.LogRecord] = []
        self.handler = logging.Handler()
        self.handler.emit = self.records.append  # type: ignore[method-assign]
        logging.getLogger("evmon").addHandler(self.handler)
        return self.records

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("evmon").removeHandler(self.handler)
