"""The scheduler service with real Evidently reports, a real APScheduler and real processes.

Clocks are injected (the service's `now`, the CLI's --today); APScheduler runs for real, with
seconds-level cron triggers where a test waits for fires. The data runs on past the shared
demo data's end, so "the next day" always has rows.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.cron import CronTrigger

from evmon.config.loader import load_config
from evmon.config.model import Project
from evmon.demo.data import ensure_demo_data
from evmon.errors import ConfigError
from evmon.processes import process_alive
from evmon.run.day import run_day
from evmon.scheduler.service import SchedulerService, still_due
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from evmon.storage.runlog import RunLog
from tests.conftest import DEMO_END, DEMO_TODAY, REPO, write_config

LOG_PREFIX = re.compile(r"^\S+ \S+ [A-Z]+ [\w.]+: ")  # evmon.logs.FORMAT: date, time, level, logger

DATA_END = date(2026, 4, 10)
CREDIT, TAXI = "credit_scorecard", "taxi_duration"


class Clock:
    """A settable clock: noon UTC of `today` (the same calendar day in every demo timezone)."""

    def __init__(self, today: date) -> None:
        self.today = today

    def __call__(self) -> datetime:
        return datetime.combine(self.today, dtime(12), tzinfo=UTC)


def every_two_seconds(project: Project) -> CronTrigger:
    return CronTrigger(second="*/2", timezone=project.timezone)


@pytest.fixture(scope="module")
def data_dir(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo data, extended (clean days, same episodes) to DATA_END."""
    folder = tmp_path_factory.mktemp("scheduler_data")
    shutil.copytree(demo_dir / "demo_data", folder / "demo_data")
    ensure_demo_data(folder / "demo_data", end=DATA_END)
    return folder


def copy_workspace(demo_workspace: Path, tmp_path: Path) -> FilesWorkspace:
    """A writable copy of the shared demo workspace (days DEMO_END-4..DEMO_END, made on DEMO_TODAY)."""
    root = tmp_path / "workspace"
    shutil.copytree(demo_workspace, root)
    return FilesWorkspace(root)


def ok_runs(workspace: FilesWorkspace) -> Counter[tuple[str, date]]:
    return Counter((r.project, r.day) for r in RunLog(workspace.evmon_dir).records() if r.status == "ok")


def scheduler_days(workspace: FilesWorkspace, project: str) -> list[date]:
    records = RunLog(workspace.evmon_dir).records(project)
    return sorted(r.day for r in records if r.status == "ok" and r.trigger == "scheduler")


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def no_day_running(workspace: FilesWorkspace, project: str, planned: list[date]) -> bool:
    """No process holds the lock of a planned day (a duplicate run would hold one)."""
    for day in planned:
        with workspace.day_lock(project, day) as locked:
            if not locked:
                return False
    return True


def assert_complete_snapshots(workspace: FilesWorkspace) -> int:
    """Every snapshot file parses as a whole snapshot; no temp file is left in the tree."""
    count = 0
    for project in workspace.list_projects():
        for file in workspace.list_snapshots(project.id):
            data = json.loads(file.path.read_bytes())
            assert {"metric_results", "timestamp", "tags", "metadata"} <= data.keys(), file.path
            count += 1
    leftovers = [p for p in workspace.root.rglob("*") if p.suffix == ".tmp"]
    assert leftovers == []
    return count


@pytest.fixture()
def service_factory() -> Iterator[Callable[..., SchedulerService]]:
    """Services made here are stopped at the end of the test, whatever happens."""
    made: list[SchedulerService] = []

    def make(*args: Any, **kwargs: Any) -> SchedulerService:
        service = SchedulerService(*args, **kwargs)
        made.append(service)
        return service

    yield make
    for service in made:
        service.stop()


# --- in-process ----------------------------------------------------------------------------------


def test_catch_up_on_start_then_the_due_day_on_the_next_fire(
    data_dir: Path, demo_workspace: Path, tmp_path: Path, service_factory: Callable[..., SchedulerService]
) -> None:
    ws = copy_workspace(demo_workspace, tmp_path)  # newest taxi snapshot: 2026-03-31
    config = write_config(tmp_path / "projects.yaml", data_dir, taxi_duration={})
    clock = Clock(date(2026, 4, 6))  # yesterday is 04-05: five days of downtime
    lines: list[str] = []
    service = service_factory(config, workspace=ws, now=clock, trigger_for=every_two_seconds, echo=lines.append)
    assert service.due(TAXI) == days(date(2026, 4, 1), date(2026, 4, 5))

    service.start()
    wait_for(lambda: len(service.results) >= 5, 90, "the catch-up")
    assert scheduler_days(ws, TAXI) == days(date(2026, 4, 1), date(2026, 4, 5))
    assert all(r.outcome == "ok" and r.labels_included for r in service.results)

    (warm,) = service.warm_pids()  # the catch-up's process, kept for the next fire
    clock.today = date(2026, 4, 7)  # the next day: its due day is 04-06
    wait_for(lambda: len(service.results) >= 6, 30, "the next fire")
    assert service.warm_pids() == [warm]  # which computed it: no new process, no import again
    time.sleep(2.5)  # another fire: nothing left to do
    assert [(r.day, r.outcome) for r in service.results] == [
        (d, "ok") for d in days(date(2026, 4, 1), date(2026, 4, 6))
    ]
    assert scheduler_days(ws, TAXI) == days(date(2026, 4, 1), date(2026, 4, 6))
    day_lines = [line for line in lines if line.startswith(f"{TAXI} 2026-")]
    assert day_lines == [r.line() for r in service.results]  # one line per project-day
    assert ws.dashboard_path(project_id(TAXI)).is_file()
    service.stop()
    assert lines[-1] == "scheduler stopped"
    assert service.warm_pids() == [] and not process_alive(warm)
    assert assert_complete_snapshots(ws) == 2 * 5 + 6


def test_late_labels_rerun_a_day_once_with_quality_metrics(
    data_dir: Path, demo_workspace: Path, tmp_path: Path, service_factory: Callable[..., SchedulerService]
) -> None:
    # the shared workspace was made on 04-01: with a 3-day lag, 03-29..03-31 have no labels yet
    ws = copy_workspace(demo_workspace, tmp_path)
    config = write_config(tmp_path / "projects.yaml", data_dir, credit_scorecard={"max_catchup_days": 3})
    clock = Clock(date(2026, 4, 2))  # 03-29's labels are complete now
    service = service_factory(config, workspace=ws, now=clock, echo=lambda line: None)
    day = date(2026, 3, 29)
    assert service.due(CREDIT) == [day, date(2026, 4, 1)]
    pid, sid = project_id(CREDIT), daily_snapshot_id(CREDIT, day)
    assert "labelled" not in ws.read_snapshot(pid, sid)["tags"]

    results = service.fire(CREDIT)  # the job function, called directly
    assert [(r.day, r.outcome, r.labels_included) for r in results] == [
        (day, "ok", True),
        (date(2026, 4, 1), "ok", False),
    ]
    snapshot = ws.read_snapshot(pid, sid)
    assert snapshot["tags"] == ["daily", "labelled"] and snapshot["metadata"]["labels"] == "yes"
    names = {
        (
            r["metric_value_location"]["metric"]["params"]["type"],
            r["metric_value_location"]["metric"]["params"].get("classification_name"),
        )
        for r in snapshot["metric_results"].values()
    }
    assert ("evidently:metric_v2:Accuracy", "default") in names
    assert ("evidently:metric_v2:F1Score", "region=north") in names  # per segment too

    assert service.fire(CREDIT) == []  # re-run only once
    clock.today = date(2026, 4, 3)
    assert service.due(CREDIT) == [date(2026, 3, 30), date(2026, 4, 2)]  # the next day's labels; not 03-29 again
    assert ok_runs(ws)[(CREDIT, day)] == 2  # the original run and the one with labels


def test_without_a_run_log_the_snapshot_metadata_tells_the_labels(
    data_dir: Path, demo_workspace: Path, tmp_path: Path, service_factory: Callable[..., SchedulerService]
) -> None:
    ws = copy_workspace(demo_workspace, tmp_path)
    (ws.evmon_dir / "runs.sqlite3").unlink()
    config = write_config(
        tmp_path / "projects.yaml", data_dir, credit_scorecard={"max_catchup_days": 3}, taxi_duration={}
    )
    service = service_factory(config, workspace=ws, now=Clock(date(2026, 4, 2)), echo=lambda line: None)
    assert service.due(CREDIT) == [date(2026, 3, 29), date(2026, 4, 1)]
    assert service.due(TAXI) == [date(2026, 4, 1)]  # lag 0: every day already had its labels


def test_a_day_done_meanwhile_by_another_scheduler_is_not_run_again(
    data_dir: Path, demo_workspace: Path, tmp_path: Path
) -> None:
    ws = copy_workspace(demo_workspace, tmp_path)
    config = load_config(write_config(tmp_path / "projects.yaml", data_dir, taxi_duration={}))
    project = config.project(TAXI)
    before = ok_runs(ws)
    stat = ws.snapshot_path(project_id(TAXI), daily_snapshot_id(TAXI, DEMO_END)).stat()
    check = partial(still_due, ws, project, DEMO_END, DEMO_TODAY)  # planned when the day was still missing
    result = run_day(config, project, DEMO_END, workspace=ws, today=DEMO_TODAY, trigger="scheduler", still_due=check)
    assert result.outcome == "exists"
    assert ok_runs(ws) == before
    assert ws.snapshot_path(project_id(TAXI), daily_snapshot_id(TAXI, DEMO_END)).stat().st_mtime_ns == stat.st_mtime_ns


def test_a_reload_says_a_new_ui_storage_waits_for_a_restart(
    data_dir: Path, demo_workspace: Path, tmp_path: Path, service_factory: Callable[..., SchedulerService]
) -> None:
    """Switching ui.storage in a running scheduler's projects.yaml is reported, not silently half-applied."""
    ws = copy_workspace(demo_workspace, tmp_path)
    path = write_config(tmp_path / "projects.yaml", data_dir, taxi_duration={})
    lines: list[str] = []
    service = service_factory(path, workspace=ws, now=Clock(DEMO_TODAY), poll_seconds=0.2, echo=lines.append)
    service.start()
    with path.open("a") as handle:
        handle.write("ui: {storage: postgres, dsn: 'postgresql://evmon@127.0.0.1:5432/evmon_ui'}\n")
    wait_for(lambda: any(line.startswith("config reloaded") for line in lines), 10, "the reload")
    line = next(line for line in lines if line.startswith("config reloaded"))
    assert line == (
        "config reloaded (projects.yaml changed): "
        "UI storage postgres 127.0.0.1:5432/evmon_ui takes effect on restart (still files)"
    )
    assert service.workspace.storage == "files"  # the days go on where they went


def test_config_reload_adds_breaks_and_fixes(
    data_dir: Path, demo_workspace: Path, tmp_path: Path, service_factory: Callable[..., SchedulerService]
) -> None:
    ws = copy_workspace(demo_workspace, tmp_path)  # up to date on DEMO_TODAY: no report runs here
    path = write_config(tmp_path / "projects.yaml", data_dir, taxi_duration={})
    credit_dashboard = ws.dashboard_path(project_id(CREDIT))
    credit_dashboard.unlink()  # the backfill that built the copied workspace wrote it
    lines: list[str] = []
    service = service_factory(path, workspace=ws, now=Clock(DEMO_TODAY), poll_seconds=0.2, echo=lines.append)
    service.start()
    assert set(service.jobs()) == {TAXI}
    assert not credit_dashboard.exists()  # credit is not in this config

    def reloaded(prefix: str) -> Callable[[], bool]:
        return lambda: any(line.startswith(prefix) for line in lines)

    # add a project
    write_config(path, data_dir, taxi_duration={}, credit_scorecard={})
    wait_for(reloaded("config reloaded (projects.yaml changed): added credit_scorecard"), 10, "the new project")
    assert set(service.jobs()) == {TAXI, CREDIT}
    assert credit_dashboard.is_file()

    # break the file: reported with the loader's message, the running config kept
    write_config(path, data_dir, taxi_duration={}, credit_scorecard={"schedule": "every day"})
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "projects[1].schedule" in str(error.value) and "every day" in str(error.value)
    wait_for(reloaded("config not reloaded"), 10, "the error report")
    report = next(line for line in lines if line.startswith("config not reloaded"))
    assert report == f"config not reloaded (projects.yaml changed), keeping the running one: {error.value}"
    assert service.last_config_error == str(error.value)
    assert set(service.jobs()) == {TAXI, CREDIT}
    assert [p.name for p in service.config.projects] == [TAXI, CREDIT]
    time.sleep(0.6)
    assert sum(line.startswith("config not reloaded") for line in lines) == 1  # reported once, not every poll

    # fix it differently: credit removed, taxi re-armed and its dashboard rewritten
    taxi_dashboard = ws.dashboard_path(project_id(TAXI))
    old_dashboard = taxi_dashboard.read_bytes()
    write_config(
        path,
        data_dir,
        taxi_duration={"schedule": "15 4 * * *", "presets": {"data_drift": {"drift_share": 0.3}, "regression": True}},
    )
    wait_for(reloaded("config reloaded (projects.yaml changed): removed"), 10, "the fixed config")
    line = next(line for line in lines if line.startswith("config reloaded (projects.yaml changed): removed"))
    assert line.endswith(": removed credit_scorecard; re-armed taxi_duration (15 4 * * * America/New_York)")
    assert service.jobs() == {TAXI: "cron[month='*', day='*', day_of_week='*', hour='4', minute='15']"}
    assert service.last_config_error is None
    wait_for(lambda: taxi_dashboard.read_bytes() != old_dashboard, 5, "the rewritten dashboard")
    assert b"dataset drift when above 0.3" in taxi_dashboard.read_bytes()
    assert b"RowCount" not in taxi_dashboard.read_bytes()  # data_summary is off now

    service.request_reload()  # what SIGHUP does
    wait_for(reloaded("config reloaded (SIGHUP): no schedule changes"), 10, "the SIGHUP reload")
    assert service.results == []  # nothing was due at any point


def test_the_cli_maps_an_invalid_config_to_exit_2(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from evmon.cli import cli

    missing = tmp_path / "nope.yaml"
    result = CliRunner().invoke(cli, ["scheduler", "-c", str(missing)])
    with pytest.raises(ConfigError) as error:
        load_config(missing)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"Error: {error.value}\n")


# --- real processes ---------------------------------------------------------------------------------


class SchedulerProcess:
    """`evmon scheduler` in a subprocess, its output collected line by line."""

    def __init__(self, config: Path, workspace: Path, today: date) -> None:
        env = {**os.environ, "EVMON_WORKSPACE": str(workspace), "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "evmon.cli", "scheduler", "-c", str(config), "--today", str(today), "--poll", "1"]
        self.process = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(LOG_PREFIX.sub("", line.rstrip("\n")))  # without time, level and logger

    def has(self, prefix: str) -> bool:
        return any(line.startswith(prefix) for line in self.lines)

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 30) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture()
def processes() -> Iterator[Callable[..., SchedulerProcess]]:
    started: list[SchedulerProcess] = []

    def start(*args: Any) -> SchedulerProcess:
        process = SchedulerProcess(*args)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


def test_two_scheduler_processes_run_every_project_day_exactly_once(
    data_dir: Path, tmp_path: Path, processes: Callable[..., SchedulerProcess]
) -> None:
    ws = FilesWorkspace(tmp_path / "workspace")
    config = write_config(tmp_path / "projects.yaml", data_dir, taxi_duration={"max_catchup_days": 3})
    expected = {(TAXI, d) for d in days(date(2026, 3, 29), date(2026, 3, 31))}
    first = processes(config, ws.root, DEMO_TODAY)
    second = processes(config, ws.root, DEMO_TODAY)
    wait_for(lambda: set(ok_runs(ws)) >= expected, 120, "the three days")
    wait_for(lambda: first.has("scheduler started") and second.has("scheduler started"), 30, "both to start")
    wait_for(lambda: no_day_running(ws, TAXI, [d for _, d in expected]), 30, "no run in progress")
    first.signal(signal.SIGHUP)
    wait_for(lambda: first.has("config reloaded (SIGHUP)"), 15, "the SIGHUP reload")
    for process in (first, second):
        process.signal(signal.SIGTERM)
    assert [first.wait(), second.wait()] == [0, 0]
    assert ok_runs(ws) == Counter(expected)  # exactly once each
    outcomes = Counter(
        line.split()[2].rstrip(":") for p in (first, second) for line in p.lines if line.startswith(f"{TAXI} 2026-")
    )
    assert outcomes["ok"] == 3 and set(outcomes) <= {"ok", "busy", "exists"}, outcomes
    assert assert_complete_snapshots(ws) == 3


def test_sigterm_during_a_run_then_restart_leaves_nothing_partial_or_missing(
    data_dir: Path, tmp_path: Path, processes: Callable[..., SchedulerProcess]
) -> None:
    ws = FilesWorkspace(tmp_path / "workspace")
    config = write_config(tmp_path / "projects.yaml", data_dir, taxi_duration={"max_catchup_days": 4})
    wanted = days(date(2026, 3, 28), date(2026, 3, 31))

    run = processes(config, ws.root, DEMO_TODAY)
    wait_for(lambda: run.has(f"{TAXI} 2026-03-28 ok"), 90, "the first day")
    run.signal(signal.SIGTERM)  # the next day's report is running now
    assert run.wait() == 0
    assert run.has("SIGTERM: stopping after the day in progress") and run.lines[-1] == "scheduler stopped"
    assert run.has(f"{TAXI} 2026-03-29 ok")  # the run in progress finished
    assert not run.has(f"{TAXI} 2026-03-30")  # and no other started
    assert assert_complete_snapshots(ws) == 2

    killed = processes(config, ws.root, DEMO_TODAY)  # restart, and this time kill it hard mid-run
    wait_for(lambda: killed.has("scheduler started"), 60, "the restart")
    time.sleep(1.5)
    killed.kill()
    assert assert_complete_snapshots(ws) in (2, 3)
    ws.clean_staging()

    final = processes(config, ws.root, DEMO_TODAY)
    wait_for(lambda: set(scheduler_days(ws, TAXI)) == set(wanted), 90, "the remaining days")
    final.signal(signal.SIGTERM)
    assert final.wait() == 0
    assert ok_runs(ws) == Counter({(TAXI, d): 1 for d in wanted})
    assert assert_complete_snapshots(ws) == 4
