"""The UI's Postgres going away in the middle of a backfill (`ui: {storage: postgres}`).

A real server (an embedded PostgreSQL started here) is stopped while `evmon backfill` runs
through the real CLI: each day fails or succeeds on its own, the run log holds every day, the
summary is printed, and once the server is back the same command does the rest.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.postgres import PostgresWorkspace
from evmon.storage.runlog import RUNLOG_FILE, RunLog
from tests.conftest import DEMO_END, DEMO_TODAY

TAXI = "taxi_duration"
START, END = DEMO_END - timedelta(days=5), DEMO_END
DAYS = [START + timedelta(days=i) for i in range(6)]


@pytest.fixture()
def server() -> Iterator[object]:
    """An embedded PostgreSQL of this test alone (stopped and started again by the test)."""
    from evmon.bridge.embedded import EmbeddedPostgres
    from evmon.processes import free_port

    parent = Path(tempfile.mkdtemp(prefix="evmon-outage-pg-"))
    parent.chmod(0o711)  # as root the server runs as its own account, which must reach its data
    embedded = EmbeddedPostgres(parent / "data", port=free_port())
    try:
        embedded.start()
        yield embedded
    finally:
        embedded.stop()
        shutil.rmtree(parent, ignore_errors=True)


def ok_runs(runlog: Path) -> int:
    if not runlog.exists():
        return 0
    try:
        with sqlite3.connect(runlog, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM runs WHERE status = 'ok'").fetchone()[0])
    except sqlite3.OperationalError:  # created, its table not yet
        return 0


def test_a_postgres_outage_fails_the_days_it_hits_and_a_rerun_does_the_rest(
    demo_dir: Path, tmp_path: Path, server: object, clean_env: None
) -> None:
    embedded = server
    ui_dsn = embedded.dsn("evmon_ui")  # type: ignore[attr-defined]
    text = (demo_dir / "projects.yaml").read_text().replace("demo_data/", f"{demo_dir}/demo_data/")
    config = tmp_path / "projects.yaml"
    config.write_text(text + f"\nui: {{storage: postgres, dsn: '{ui_dsn}'}}\n")
    workspace = tmp_path / "workspace"
    cmd = [sys.executable, "-m", "evmon.cli", "backfill", TAXI, "-c", str(config)]
    cmd += ["--start", str(START), "--end", str(END), "--workers", "2"]  # the default: days in worker processes
    cmd += ["--today", str(DEMO_TODAY)]  # every day within retention.full_days: nothing to compact once it is back
    env = {**os.environ, "EVMON_WORKSPACE": str(workspace), "DO_NOT_TRACK": "1"}
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runlog = workspace / ".evmon" / RUNLOG_FILE
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and ok_runs(runlog) < 1 and process.poll() is None:
        time.sleep(0.05)
    embedded.stop()  # type: ignore[attr-defined]  # the database goes away with days still to do
    out, err = process.communicate(timeout=300)

    port = embedded.port  # type: ignore[attr-defined]
    assert process.returncode == 1, (out, err)
    assert all(re.fullmatch(rf"\[[1-6]/6\] {TAXI} .+", line) for line in err.splitlines()), err  # progress only
    *failed, summary, compaction = out.splitlines()
    match = re.fullmatch(rf"{TAXI}: 6 days: (\d) ok, 0 already there, 0 skipped \(no rows\), (\d) failed", summary)
    assert match is not None, out
    assert re.fullmatch(  # the compaction after the days meets the outage too: said, the next run does it
        rf"{TAXI}: 0 compacted, 0 already compacted, 0 kept full, 1 failed: not compacted: "
        rf"the Evidently UI's database 127\.0\.0\.1:{port}/evmon_ui: .+",
        compaction,
    ), out
    ok, failed_count = int(match.group(1)), int(match.group(2))
    assert ok >= 1 and failed_count >= 1 and ok + failed_count == 6, out
    assert len(failed) == failed_count
    for line in failed:  # each day that met the outage says so, naming the database
        assert re.fullmatch(
            rf"{TAXI} \d{{4}}-\d\d-\d\d failed: the Evidently UI's database 127\.0\.0\.1:{port}/evmon_ui: .+", line
        ), line
    runs = RunLog(workspace / ".evmon").records(TAXI)
    assert sorted(r.day for r in runs) == DAYS  # every day logged: the ones done, and the ones the outage failed
    assert sorted(r.status for r in runs) == ["failed"] * failed_count + ["ok"] * ok
    failed_days = sorted(r.day for r in runs if r.status == "failed")
    assert [line.split()[1] for line in failed] == [str(day) for day in failed_days]

    embedded.start()  # type: ignore[attr-defined]  # the database is back: the same command does the rest
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert len(again.stderr.splitlines()) == failed_count  # a progress line per day computed, none for the rest
    assert again.stdout == (f"{TAXI}: 6 days: {failed_count} ok, {ok} already there, 0 skipped (no rows), 0 failed\n")
    ui = PostgresWorkspace(tmp_path / "check", ui_dsn)
    try:
        assert all(ui.snapshot_exists(project_id(TAXI), daily_snapshot_id(TAXI, day)) for day in DAYS)
    finally:
        ui.db.close()
    latest = RunLog(workspace / ".evmon").latest_ok(TAXI)
    assert sorted(latest) == DAYS


def test_a_database_down_from_the_start_fails_each_day_logged_with_the_summary(
    demo_dir: Path, tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listens where the UI's database should be: no day can run, each says why, all are logged."""
    from click.testing import CliRunner

    from evmon.cli import cli
    from evmon.processes import free_port

    port = free_port()
    text = (demo_dir / "projects.yaml").read_text().replace("demo_data/", f"{demo_dir}/demo_data/")
    config = tmp_path / "projects.yaml"
    config.write_text(text + f"\nui: {{storage: postgres, dsn: 'postgresql://postgres@127.0.0.1:{port}/evmon_ui'}}\n")
    monkeypatch.setenv("EVMON_WORKSPACE", str(tmp_path / "workspace"))
    args = ["backfill", TAXI, "-c", str(config), "--start", str(DAYS[0]), "--end", str(DAYS[1])]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"[{i}/2] {line}" for i, line in enumerate(result.stdout.splitlines()[:2], 1)]
    first, second, summary = result.stdout.splitlines()
    for line, day in ((first, DAYS[0]), (second, DAYS[1])):
        assert re.fullmatch(rf"{TAXI} {day} failed: .*127\.0\.0\.1:{port}.*", line), line
    assert summary == f"{TAXI}: 2 days: 0 ok, 0 already there, 0 skipped (no rows), 2 failed"
    runs = RunLog(tmp_path / "workspace" / ".evmon").records(TAXI)
    assert [(r.day, r.status, r.trigger) for r in runs] == [(day, "failed", "backfill") for day in DAYS[:2]]
    assert all(r.error and f"127.0.0.1:{port}" in r.error for r in runs)
