"""Evidence: a real Prometheus server scrapes a running `evmon scheduler` and `evmon bridge` (real processes on
127.0.0.1, --metrics-port) after real project-days, and its HTTP API (/api/v1/query) answers what the run log,
the workspace and Postgres say. The shipped rules are loaded too, and evaluate without an error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

import psycopg
import pytest

from evmon.processes import free_port
from evmon.snapshot.codec import loads as parse_json
from evmon.snapshot.flatten import flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.base import Workspace
from evmon.storage.runlog import RunLog
from tests.conftest import DEMO_TODAY, REPO, write_config
from tests.prometheus.conftest import TAXI, copy_workspace
from tests.prometheus.tools import RULES_DIR, needs_prometheus, prometheus_server

TODAY = DEMO_TODAY + timedelta(days=2)  # the copied workspace ends on 03-31: taxi's 04-01 and 04-02 are due
NEW_DAYS = [date(2026, 4, 1), date(2026, 4, 2)]
Service = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture()
def service(tmp_path: Path) -> Iterator[Service]:
    """`evmon <command>` processes, stopped (SIGTERM, then killed) at the end of the test."""
    started: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []

    def start(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"{args[0]}.log", "wb")  # noqa: SIM115 (closed at teardown)
        process = subprocess.Popen(
            [sys.executable, "-m", "evmon.cli", *args], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO
        )
        started.append((process, log))
        return process

    yield start
    for process, log in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        log.close()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.3)


def the(found: dict[tuple[tuple[str, str], ...], float]) -> float:
    """The value of a query answering one series."""
    assert len(found) == 1, found
    return next(iter(found.values()))


def newest_drift_in_the_file(ws: Workspace, day: date) -> float:
    rows = flatten(parse_json(ws.snapshot_path(project_id(TAXI), daily_snapshot_id(TAXI, day)).read_bytes()))
    [share] = [r.value for r in rows if r.metric_type == "DriftedColumnsCount" and r.value_kind == "share"]
    assert share is not None
    return share


@needs_prometheus
def test_prometheus_scrapes_the_scheduler_and_the_bridge(
    data_dir: Path, demo_workspace: Path, pg_dsn: str, tmp_path: Path, service: Service
) -> None:
    ws = copy_workspace(demo_workspace, tmp_path / "workspace")
    config = write_config(tmp_path / "projects.yaml", data_dir, taxi_duration={})
    env = {**os.environ, "EVMON_WORKSPACE": str(ws.root), "EVMON_PG_DSN": pg_dsn, "DO_NOT_TRACK": "1"}
    ports = {"evmon-scheduler": free_port(), "evmon-bridge": free_port()}
    scheduler = service(
        "scheduler", "-c", str(config), "--today", TODAY.isoformat(), "--poll", "1",
        "--metrics-port", str(ports["evmon-scheduler"]), env=env,
    )  # fmt: skip
    bridge = service(
        "bridge", "-c", str(config), "--interval", "0.5", "--metrics-port", str(ports["evmon-bridge"]), env=env
    )
    jobs = {job: f"127.0.0.1:{port}" for job, port in ports.items()}
    with prometheus_server(tmp_path / "prometheus", jobs, [RULES_DIR / "rules" / "evmon.yml"]) as prometheus:
        run_log = RunLog(ws.evmon_dir)

        def days_done() -> bool:
            done = {r.day for r in run_log.records(TAXI) if r.status == "ok" and r.trigger == "scheduler"}
            return set(NEW_DAYS) <= done

        wait_until(days_done, 120, "the scheduler's two project-days")
        assert scheduler.poll() is None and bridge.poll() is None

        # the runs counter: what the run log holds (the copied workspace's five days and the two new ones)
        ok_runs = sum(r.status == "ok" for r in run_log.records(TAXI))
        assert ok_runs == 7
        query = f'evmon_runs_total{{project="{TAXI}",status="ok"}}'
        found = prometheus.wait_for(query, lambda f: list(f.values()) == [ok_runs], 30)
        assert dict(next(iter(found))) == {
            "instance": jobs["evmon-scheduler"],
            "job": "evmon-scheduler",
            "project": TAXI,
            "status": "ok",
        }
        failed = sum(r.status == "failed" for r in run_log.records(TAXI))
        assert the(prometheus.query(f'evmon_runs_total{{project="{TAXI}",status="failed"}}')) == failed == 0

        # the last success's age: 04-02 ended at 04-03 00:00 in New York; the scheduler's clock (--today) says
        # noon UTC on 04-03, 08:00 there
        newest = max(r.day for r in run_log.records(TAXI) if r.status == "ok")
        ended = datetime.combine(newest + timedelta(days=1), datetime.min.time(), tzinfo=ZoneInfo("America/New_York"))
        expected_age = (
            datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC).timestamp() + 12 * 3600 - ended.timestamp()
        )
        assert expected_age == 8 * 3600
        age = f'evmon_project_last_success_age_seconds{{project="{TAXI}"}}'
        assert the(prometheus.wait_for(age, lambda f: list(f.values()) == [expected_age], 30)) == expected_age
        assert (
            the(
                prometheus.wait_for(
                    f'evmon_project_due_days{{project="{TAXI}"}}', lambda f: list(f.values()) == [0], 30
                )
            )
            == 0
        )

        # the drift share of the newest day, once the bridge has it: Postgres's, and the snapshot file's
        newest_ts = datetime.combine(newest, datetime.min.time(), tzinfo=UTC).timestamp()
        prometheus.wait_for(
            f'evmon_project_newest_day_timestamp_seconds{{project="{TAXI}"}}',
            lambda f: list(f.values()) == [newest_ts],
            60,
        )
        share = the(prometheus.query(f'evmon_project_drift_share{{project="{TAXI}"}}'))
        with psycopg.connect(pg_dsn) as conn:
            row = conn.execute(
                "SELECT drifted_share FROM evmon.dataset_drift WHERE project = %s AND kind = 'daily' AND day = %s",
                (TAXI, newest),
            ).fetchone()
        assert row is not None and share == row[0] == newest_drift_in_the_file(ws, newest)
        assert the(prometheus.query(f'evmon_bridge_lag_seconds{{project="{TAXI}"}}')) == 0
        assert the(prometheus.query("evmon_bridge_postgres_up")) == 1
        assert prometheus.query("up") == {(("instance", t), ("job", j)): 1.0 for j, t in jobs.items()}

        # the shipped rules run on these series: evaluated, none in error; the recording rule agrees
        def evaluated() -> bool:
            groups = prometheus.api("rules")["groups"]
            return all(r["lastEvaluation"] > "2000" for g in groups for r in g["rules"])

        wait_until(evaluated, 30, "the rules' first evaluation")
        rules = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
        assert len(rules) == 24 and [r["name"] for r in rules if r["health"] != "ok"] == []
        hours = f'project:evmon_last_success_age:hours{{project="{TAXI}"}}'
        assert the(prometheus.wait_for(hours, lambda f: list(f.values()) == [8], 30)) == 8
        firing = {a["labels"]["alertname"] for a in prometheus.api("alerts")["alerts"]}
        assert not firing & {"EvmonServiceDown", "EvmonProjectStale", "EvmonRunFailed", "EvmonBridgeLagging"}
        assert "EvmonColumnsWithoutValues" not in firing  # every column of the demo has values

    scheduler.send_signal(signal.SIGTERM)
    bridge.send_signal(signal.SIGTERM)
    assert (scheduler.wait(timeout=60), bridge.wait(timeout=30)) == (0, 0)
