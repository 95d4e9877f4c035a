"""The run log: rows in, rows out, and an older file upgraded in place without losing a row."""

from __future__ import annotations

import logging
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from evmon.errors import RunLogError
from evmon.storage.runlog import RUNLOG_FILE, SCHEMA_VERSION, RunLog, RunRecord

# the run log's table as evmon 0.1.0 created it before schema version 2
V1_TABLE = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, project TEXT NOT NULL, day TEXT NOT NULL, kind TEXT NOT NULL,
    trigger TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('ok', 'skipped', 'failed')),
    started_at TEXT NOT NULL, duration_s REAL NOT NULL, rows INTEGER, labels_included INTEGER,
    snapshot_id TEXT, config_hash TEXT, evmon_version TEXT, error TEXT
);
CREATE INDEX runs_project_day ON runs (project, day);
"""


def record(status: str, day: date = date(2026, 3, 1), **fields: object) -> RunRecord:
    fields.setdefault("started_at", datetime(2026, 3, 2, 2, tzinfo=UTC))
    return RunRecord(project="credit", day=day, status=status, duration_s=1.5, **fields)  # type: ignore[arg-type]


def test_records_round_trip_with_busy_and_who_started_them(tmp_path: Path) -> None:
    log = RunLog(tmp_path)
    log.append(
        record("ok", rows=10, labels_included=True, snapshot_id="s1", trigger="app", started_by="ana@example.org")
    )
    log.append(record("busy", trigger="cli", started_at=datetime(2026, 3, 2, 3, tzinfo=UTC)))
    ok, busy = log.records("credit")
    assert (ok.status, ok.rows, ok.labels_included, ok.started_by, ok.trigger) == (
        "ok",
        10,
        True,
        "ana@example.org",
        "app",
    )
    assert (busy.status, busy.started_by, busy.rows) == ("busy", None, None)
    assert set(log.latest_ok("credit")) == {date(2026, 3, 1)}


def test_an_older_run_log_is_upgraded_in_place_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / RUNLOG_FILE
    with sqlite3.connect(path) as conn:
        conn.executescript(V1_TABLE)
        conn.execute(
            "INSERT INTO runs VALUES ('r1', 'credit', '2026-03-01', 'daily', 'scheduler', 'ok', "
            "'2026-03-02T02:00:00+00:00', 2.0, 99, 1, 'sid', 'hash', '0.1.0', NULL)"
        )
        with pytest.raises(sqlite3.IntegrityError):  # the old file refuses the new status
            conn.execute(
                "INSERT INTO runs VALUES ('r2', 'credit', '2026-03-01', 'daily', 'cli', 'busy', "
                "'2026-03-02T02:00:00+00:00', 0, NULL, NULL, NULL, NULL, NULL, NULL)"
            )
    log = RunLog(tmp_path)
    (old,) = log.records()
    assert (old.run_id, old.rows, old.labels_included, old.snapshot_id, old.started_by) == ("r1", 99, True, "sid", None)
    log.append(RunRecord("credit", date(2026, 3, 1), "busy", datetime(2026, 3, 3, tzinfo=UTC), 0.0))
    assert [r.status for r in log.records()] == ["ok", "busy"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"runs_project_day", "runs_started"} <= indexes


@pytest.fixture()
def read_only_view(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(a folder, the same folder seen through a read-only bind mount): as a container mounts a workspace `:ro`."""
    writable, seen = tmp_path / "rw", tmp_path / "ro"
    writable.mkdir()
    seen.mkdir()
    if subprocess.run(["mount", "--bind", str(writable), str(seen)], capture_output=True).returncode != 0:
        pytest.skip("cannot bind-mount here (needs root)")
    try:
        done = subprocess.run(["mount", "-o", "remount,ro,bind", str(seen)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {done.stderr.strip()}")
        yield writable, seen
    finally:
        subprocess.run(["umount", "-l", str(seen)], check=True)


def test_a_run_log_it_cannot_write_is_read_read_only_said_once_and_writes_name_the_disk(
    read_only_view: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    writable, seen = read_only_view
    RunLog(writable).append(record("ok", rows=10))
    with sqlite3.connect(writable / "old.sqlite3") as conn:  # a version 1 file: upgraded by writers only
        conn.executescript(V1_TABLE)
        conn.execute(
            "INSERT INTO runs VALUES ('r1', 'credit', '2026-03-01', 'daily', 'scheduler', 'ok', "
            "'2026-03-02T02:00:00+00:00', 2.0, 99, 1, 'sid', 'hash', '0.1.0', NULL)"
        )
    (writable / "old").mkdir()
    (writable / "old.sqlite3").rename(writable / "old" / RUNLOG_FILE)
    log = RunLog(seen)
    with caplog.at_level(logging.INFO, logger="evmon.storage.runlog"):
        for _ in range(2):
            assert [(r.status, r.rows) for r in log.records("credit")] == [("ok", 10)]
            assert set(log.latest_ok("credit")) == {date(2026, 3, 1)} and log.has_ok("credit", date(2026, 3, 1))
            assert [(run.status, run.rows) for run in log.appended()] == [("ok", 10)]
        (old,) = RunLog(seen / "old").records()
    cannot = rf"the run log {re.escape(str(seen / RUNLOG_FILE))} cannot be written: the disk at {re.escape(str(seen))} "
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2 and re.fullmatch(
        cannot + r"\([^)]+\) is mounted read-only; reading it read-only, runs are not recorded meanwhile", said[0]
    ), said
    assert said[1].startswith(f"the run log {seen / 'old' / RUNLOG_FILE} cannot be written")
    assert (old.rows, old.started_by) == (99, None)
    with pytest.raises(RunLogError) as refused:
        log.append(record("failed"))
    assert re.fullmatch(cannot + r"\([^)]+\) is mounted read-only", str(refused.value)), str(refused.value)
    assert [r.status for r in RunLog(writable).records()] == ["ok"]
