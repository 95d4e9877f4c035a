"""`evmon status`: each project's last days from the run log, on the file workspace and the UI's database."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from evmon.cli import cli
from evmon.config.loader import load_config
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from evmon.storage.runlog import RunLog, RunRecord
from evmon.storage.status import DayStatus, workspace_status
from tests.conftest import DEMO_END, DEMO_TODAY
from tests.postgres import throwaway_database

TAXI = "taxi_duration"
BUSY, MISSING, OK, FAILED = (DEMO_END - timedelta(days=i) for i in (3, 2, 1, 0))  # the 4 days shown


@pytest.fixture(params=["files", "postgres"])
def storage(request: pytest.FixtureRequest) -> Iterator[str]:
    """The UI's storage line of projects.yaml: none (files), or a fresh database of the local server."""
    if request.param == "files":
        yield ""
        return
    with throwaway_database(request.getfixturevalue("pg_server"), "evmon_status_test_") as dsn:
        yield f"\nui: {{storage: postgres, dsn: '{dsn}'}}\n"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def configs(demo_dir: Path, tmp_path: Path, storage: str) -> tuple[Path, Path]:
    """The demo config (absolute data paths), and the same with taxi_duration's source matching no file."""
    text = (demo_dir / "projects.yaml").read_text().replace("demo_data/", f"{demo_dir}/demo_data/") + storage
    good, broken = tmp_path / "projects.yaml", tmp_path / "broken.yaml"
    good.write_text(text)
    broken.write_text(text.replace(f"{demo_dir}/demo_data/taxi_duration/daily/", f"{tmp_path}/missing/"))
    return good, broken


def test_status_shows_ok_failed_busy_and_missing_days(
    demo_dir: Path, demo_config_path: Path, workspace_path: Path, tmp_path: Path, storage: str
) -> None:
    good, broken = configs(demo_dir, tmp_path, storage)
    today = ("--today", str(DEMO_TODAY))
    assert invoke("run", TAXI, "-c", str(good), "--day", str(OK), *today)[0] == 0
    assert invoke("run", TAXI, "-c", str(broken), "--day", str(FAILED), *today)[0] == 1
    with FilesWorkspace(workspace_path).day_lock(TAXI, BUSY):  # day locks live in the folder on both backends
        assert invoke("run", TAXI, "-c", str(good), "--day", str(BUSY), *today)[0] == 3
    runs = {r.day: r for r in RunLog(workspace_path / ".evmon").records(TAXI)}
    assert sorted(runs) == [BUSY, OK, FAILED]
    error = (
        f"{TAXI}: source.path '{tmp_path}/missing/*.parquet' matches no file (looked for {tmp_path}/missing/*.parquet)"
    )
    assert runs[FAILED].error == error and len(error) > 70

    def at(record: RunRecord) -> str:
        return record.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    code, out, err = invoke("status", TAXI, "-c", str(good), "--days", "4", *today)
    assert (code, err) == (1, "")
    assert out == (
        f"{TAXI} (America/New_York) {BUSY}..{FAILED}: 1 ok, 1 failed, 1 busy, 0 skipped, 1 missing\n"
        "DAY         STATUS   LAST RUN (UTC)       BY         MESSAGE\n"
        f"{BUSY}  busy     {at(runs[BUSY])}  cli        another process was running this project-day\n"
        f"{MISSING}  missing  -                    -\n"
        f"{OK}  ok       {at(runs[OK])}  cli        {runs[OK].rows} rows, with labels\n"
        f"{FAILED}  failed   {at(runs[FAILED])}  cli        {error[:67]}...\n"
    )

    code, out, err = invoke("status", TAXI, "-c", str(good), "--days", "4", "--json", *today)
    assert (code, err) == (1, "")

    def day(d: Any, status: str, snapshot: bool, message: str, run: RunRecord | None) -> dict[str, Any]:
        last_run, trigger = (run.started_at.isoformat(), "cli") if run else (None, None)
        return {"day": str(d), "status": status, "snapshot": snapshot, "message": message} | {
            "last_run": last_run,
            "trigger": trigger,
            "runs": int(run is not None),
        }

    assert json.loads(out) == [
        {
            "project": TAXI,
            "timezone": "America/New_York",
            "first_day": str(BUSY),
            "last_day": str(FAILED),
            "counts": {"ok": 1, "failed": 1, "busy": 1, "skipped": 0, "missing": 1},
            "days": [
                day(BUSY, "busy", False, "another process was running this project-day", runs[BUSY]),
                day(MISSING, "missing", False, "", None),
                day(OK, "ok", True, f"{runs[OK].rows} rows, with labels", runs[OK]),
                day(FAILED, "failed", False, error, runs[FAILED]),  # the whole message
            ],
        }
    ]

    code, out, err = invoke("status", TAXI, "-c", str(good), "--days", "2", "--today", str(FAILED))  # no failure shown
    assert (code, err) == (0, "")
    assert (
        out.splitlines()[0]
        == f"{TAXI} (America/New_York) {MISSING}..{OK}: 1 ok, 0 failed, 0 busy, 0 skipped, 1 missing"
    )

    code, out, err = invoke("status", "nope", "-c", str(good))
    assert (code, out) == (2, "")
    names = "credit_scorecard, taxi_duration, credit_scorecard_live"
    assert err == f"Error: no project named 'nope' in {good}; projects: {names}\n"


def test_the_run_that_finished_last_decides_and_a_deleted_snapshot_is_missing(
    demo_workspace: Path, demo_config_path: Path, workspace_path: Path
) -> None:
    """A busy run logged while the run it met was going loses to it; one logged after it is the day's status."""
    shutil.copytree(demo_workspace, workspace_path)
    config, ws = load_config(demo_config_path), FilesWorkspace(workspace_path)
    log = RunLog(ws.evmon_dir)
    ok = log.latest_ok(TAXI)
    met = ok[DEMO_END]  # a busy run started while this one was computing
    log.append(
        replace(
            met,
            status="busy",
            started_at=met.started_at + timedelta(seconds=met.duration_s / 2),
            duration_s=0.0,
            trigger="backfill",
            error="another process was running this project-day",
            run_id="",
        )
    )
    later = ok[DEMO_END - timedelta(days=1)]  # a busy run started after this one had finished: being run now
    busy_at = later.started_at + timedelta(seconds=later.duration_s + 1)
    log.append(
        replace(later, status="busy", started_at=busy_at, duration_s=0.0, trigger="scheduler", error="held", run_id="")
    )
    gone = DEMO_END - timedelta(days=2)
    assert ws.delete_snapshot(project_id(TAXI), daily_snapshot_id(TAXI, gone))

    (credit, taxi, live) = workspace_status(config, ws, days=6, today=DEMO_TODAY)
    assert {d.status for d in live.days} == {"missing"}  # the live project: its service never ran here
    assert [(d.day, d.status, d.runs) for d in credit.days] == [(DEMO_END - timedelta(days=5), "missing", 0)] + [
        (DEMO_END - timedelta(days=i), "ok", 1) for i in range(4, -1, -1)
    ]
    assert not credit.failed
    rows = {d.day: d for d in taxi.days}
    assert rows[DEMO_END] == DayStatus(
        DEMO_END, "ok", True, f"{met.rows} rows, with labels", met.started_at, met.trigger, 2
    )
    assert rows[DEMO_END - timedelta(days=1)] == DayStatus(
        DEMO_END - timedelta(days=1), "busy", True, "held", busy_at, "scheduler", 2
    )
    assert (rows[gone].status, rows[gone].snapshot, rows[gone].message) == (
        "missing",
        False,
        "its snapshot is gone (deleted, or quarantined as unreadable)",
    )
    assert taxi.counts() == {"ok": 3, "failed": 0, "busy": 1, "skipped": 0, "missing": 2}
