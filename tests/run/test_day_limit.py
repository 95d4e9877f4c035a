"""executor.day_timeout_s: a day that runs too long is stopped, fails with one line and frees its worker.

A day made slow for real: the project's source is a SQL query on Postgres that calls pg_sleep for
one day of the batch. On every executor (this machine's processes, one or several; a Dask
cluster) that day fails past the limit with the same line, in the run log too, the other days of
the batch complete, and a re-run with a limit that allows it completes it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import yaml

from evmon.config.loader import load_config
from evmon.config.sections import ExecutorSettings
from evmon.processes import process_alive
from evmon.run.batch import DayTask
from evmon.run.day import DayResult
from evmon.run.executors.dask import day_process_pids
from evmon.run.many import run_many
from evmon.snapshot.ids import project_id
from evmon.storage.files import FilesWorkspace
from evmon.storage.runlog import RunLog
from tests.dask_cluster import dask_cluster

pytestmark = pytest.mark.xdist_group("dask")

REFERENCE, FIRST = date(2026, 3, 1), date(2026, 3, 2)
DAYS = [FIRST + timedelta(days=i) for i in range(3)]  # 03-02, 03-03 (slow), 03-04
SLOW = DAYS[1]
SLEEP_S = 45  # how long the slow day's query sleeps
LIMIT_S = 15  # the limit it runs into; the other days take a few seconds
ROOMY_S = 150  # a limit the slow day fits in
QUERY = (
    "SELECT ts, x, c FROM events WHERE ts >= :start AND ts < :end AND "
    "(SELECT count(*) FROM (SELECT pg_sleep(coalesce((SELECT seconds FROM slow WHERE day = CAST(:start AS date)), 0)))"
    " AS slept) = 1"
)
STOPPED = (
    f"slow: stopped after {LIMIT_S}s, the time limit of one day (executor.day_timeout_s); "
    "its process was ended: raise the limit to compute this day"
)


@pytest.fixture()
def slow_project(pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """projects.yaml of one small project whose SQL source sleeps SLEEP_S on SLOW; its DSN in SLOW_DSN."""
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE events (ts timestamp, x double precision, c text)")
        conn.execute("CREATE TABLE slow (day date, seconds double precision)")
        conn.execute("INSERT INTO slow VALUES (%s, %s)", (SLOW, SLEEP_S))
        with conn.cursor() as cursor:
            rows = [
                (datetime(day.year, day.month, day.day) + timedelta(minutes=5 * i), float(i % 17), "abc"[i % 3])
                for day in [REFERENCE, *DAYS]
                for i in range(200)
            ]
            cursor.executemany("INSERT INTO events VALUES (%s, %s, %s)", rows)
    info = psycopg.conninfo.conninfo_to_dict(pg_dsn)
    url = f"postgresql+psycopg://{info.get('user', 'postgres')}@{info.get('host', '127.0.0.1')}:"
    monkeypatch.setenv("SLOW_DSN", f"{url}{info.get('port', 5432)}/{info['dbname']}")
    monkeypatch.delenv("EVMON_WORKSPACE", raising=False)
    raw = {
        "workspace": "workspace",
        "projects": [
            {
                "name": "slow",
                "source": {"type": "sql", "dsn_env": "SLOW_DSN", "query": QUERY, "timestamp_column": "ts"},
                "reference": {"start": str(REFERENCE), "end": str(REFERENCE)},
                "columns": {"numerical": ["x"], "categorical": ["c"]},
                "presets": {"data_drift": True},
            }
        ],
        "executor": {"day_timeout_s": LIMIT_S},
    }
    path = tmp_path / "projects.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    yield path


def check_the_slow_day_stopped_and_completed_on_rerun(config_path: Path, executor: ExecutorSettings | None) -> None:
    config = load_config(config_path)
    ws = FilesWorkspace(config_path.parent / "workspace")
    tasks = [DayTask(config.project("slow"), day) for day in DAYS]
    clock = time.monotonic()
    results = run_many(config, tasks, workspace=ws, workers=2, executor=executor)
    assert [(r.day, r.outcome) for r in results] == [(DAYS[0], "ok"), (SLOW, "failed"), (DAYS[2], "ok")], [
        r.line() for r in results
    ]
    slow = results[1]
    assert slow.line() == f"slow {SLOW} failed: {STOPPED}"
    assert slow.duration_s >= LIMIT_S  # from its submission here: on Dask, a wait in the queue too
    assert time.monotonic() - clock < 300
    runs = {(r.day, r.status): r for r in RunLog(ws.evmon_dir).records("slow")}
    assert set(runs) == {(DAYS[0], "ok"), (SLOW, "failed"), (DAYS[2], "ok")}
    assert runs[(SLOW, "failed")].error == STOPPED
    assert len(ws.list_snapshots(project_id("slow"))) == 2

    roomy = (executor or ExecutorSettings()).model_copy(update={"day_timeout_s": ROOMY_S})
    again = run_many(config, tasks, workspace=ws, workers=2, executor=roomy)
    assert [(r.day, r.outcome) for r in again] == [(DAYS[0], "exists"), (SLOW, "ok"), (DAYS[2], "exists")]
    assert again[1].duration_s >= SLEEP_S
    assert len(ws.list_snapshots(project_id("slow"))) == 3


@pytest.mark.parametrize("workers", [1, 2])
def test_a_day_past_its_limit_fails_alone_on_this_machine(slow_project: Path, workers: int) -> None:
    """workers=1: one process after another (the one-day path included); 2: two processes at once."""
    config = load_config(slow_project)
    assert config.executor.day_timeout_s == LIMIT_S
    local = ExecutorSettings(type="local")
    if workers == 1:
        ws = FilesWorkspace(slow_project.parent / "workspace")
        (one,) = run_many(config, [DayTask(config.project("slow"), SLOW)], workspace=ws, workers=1, executor=local)
        assert one.line() == f"slow {SLOW} failed: {STOPPED}"
        assert one.duration_s < SLEEP_S  # stopped at the limit (after its process started), not when the query ended
        assert [r.error for r in RunLog(ws.evmon_dir).records("slow")] == [STOPPED]
    check_the_slow_day_stopped_and_completed_on_rerun(slow_project, local)


def test_a_day_past_its_limit_fails_alone_on_a_dask_cluster_and_frees_its_worker(
    slow_project: Path, tmp_path: Path
) -> None:
    """One single-threaded worker: the day after the slow one runs only once the slow one's task gave up."""
    env = {"SLOW_DSN": os.environ["SLOW_DSN"]}
    with dask_cluster(tmp_path / "cluster", workers=1, worker_env=env) as cluster:
        pids_before = set(cluster.worker_pids().values())
        check_the_slow_day_stopped_and_completed_on_rerun(
            slow_project, ExecutorSettings(type="dask", address=cluster.address)
        )
        assert set(cluster.worker_pids().values()) == pids_before  # the worker was never restarted
        with cluster.client() as client:
            running = [pid for pids in client.run(day_process_pids).values() for pid in pids]
        assert len(running) == 1 and all(process_alive(pid) for pid in running)


def test_backfill_prints_the_line_of_the_stopped_day_and_exits_1(slow_project: Path) -> None:
    evmon = str(Path(sys.executable).with_name("evmon"))
    cmd = [evmon, "backfill", "slow", "-c", str(slow_project), "--start", str(DAYS[0]), "--end", str(DAYS[-1])]
    cmd += ["--today", str(DAYS[-1] + timedelta(days=1))]  # the days kept full: no compaction line
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "DO_NOT_TRACK": "1"})
    assert done.returncode == 1, done.stderr
    # as it happened (on stderr, numbered as it finished), then again at the end
    assert re.search(rf"^\[[1-3]/3\] slow {SLOW} failed: {re.escape(STOPPED)}$", done.stderr, re.M), done.stderr
    assert done.stdout == (
        f"slow {SLOW} failed: {STOPPED}\nslow: 3 days: 2 ok, 0 already there, 0 skipped (no rows), 1 failed\n"
    )


def test_a_days_process_killed_fails_that_day_alone(slow_project: Path, pg_dsn: str) -> None:
    """As the OOM killer would: the day in progress fails with one line, the next day gets a new process."""
    config = load_config(slow_project)
    ws = FilesWorkspace(slow_project.parent / "workspace")
    tasks = [DayTask(config.project("slow"), day) for day in (SLOW, DAYS[2])]
    roomy = ExecutorSettings(type="local", day_timeout_s=ROOMY_S)
    results: list[DayResult] = []
    runner = threading.Thread(
        target=lambda: results.extend(run_many(config, tasks, workspace=ws, workers=1, executor=roomy))
    )
    runner.start()
    deadline = time.monotonic() + 300  # a loaded machine starts the day slowly
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        while time.monotonic() < deadline and not _sleeping(conn):
            time.sleep(0.2)
    found = [(pid, _cmdline(pid)) for pid in _children(os.getpid())]
    days = [pid for pid, command in found if b"evmon.run.executors.process" in command]
    assert len(days) == 1, found
    os.kill(days[0], signal.SIGKILL)
    runner.join(timeout=300)
    assert [(r.day, r.outcome) for r in results] == [(SLOW, "failed"), (DAYS[2], "ok")]
    assert results[0].error == (
        "slow: its process died while computing the day (killed by signal 9; out of memory, or killed)"
    )
    assert [(r.day, r.status) for r in RunLog(ws.evmon_dir).records("slow")] == [(SLOW, "failed"), (DAYS[2], "ok")]


def _sleeping(conn: psycopg.Connection) -> bool:
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s AND pid <> pg_backend_pid()"
        " AND now() - query_start > interval '1 second'"
        # this test's database only: an earlier test's killed day leaves its pg_sleep running on the server
        " AND datname = current_database()"
    )
    row = conn.execute(query, ("%pg_sleep%",)).fetchone()
    return row is not None and row[0] > 0


def _children(pid: int) -> list[int]:
    """The child processes of `pid`, whichever of its threads started them."""
    return [int(p) for task in Path(f"/proc/{pid}/task").iterdir() for p in (task / "children").read_text().split()]


def _cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()
