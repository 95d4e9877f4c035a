"""Sync on a real Postgres with real snapshots: ingest, re-ingest, delete, re-run, bad input."""

from __future__ import annotations

import logging
import os
import time
import uuid
from datetime import date
from pathlib import Path

import orjson
import psycopg
import pytest

import evmon.snapshot.flatten as flatten_module
from evmon.bridge.sync import Bridge
from evmon.snapshot.codec import loads as parse_json
from evmon.snapshot.flatten import flatten
from evmon.snapshot.ids import project_id
from evmon.storage.base import Workspace
from evmon.storage.files import METADATA
from tests.bridge.helpers import all_files, assert_in_step, copy_workspace, count, stored_files
from tests.conftest import DEMO_END, DEMO_TODAY


@pytest.fixture()
def ws(demo_workspace: Path, tmp_path: Path) -> Workspace:
    return copy_workspace(demo_workspace, tmp_path / "workspace")


def _age(path: Path, seconds: float = 60.0) -> None:
    """Make a file look settled (written a while ago)."""
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_ingest_reingest_delete(ws: Workspace, pg_dsn: str) -> None:
    bridge = Bridge(ws, pg_dsn)
    files = all_files(ws)
    first = bridge.sync_once()
    assert (first.ingested, first.unchanged, first.failed) == (len(files), 0, [])
    assert first.runs_exported == 10  # the demo workspace's run log: 5 days x 2 projects
    assert_in_step(ws, pg_dsn)
    rows = count(pg_dsn, "SELECT count(*) FROM evmon.metric_values")

    again = bridge.sync_once()  # nothing changed: nothing parsed, nothing written
    assert (again.ingested, again.unchanged, again.deleted, again.runs_exported) == (0, len(files), 0, None)
    assert not again.changed

    # a re-ingest of everything (a new bridge on an emptied snapshots table is the same code path)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("UPDATE evmon.snapshots SET file_size = file_size + 1")
    assert bridge.sync_once().ingested == len(files)
    assert count(pg_dsn, "SELECT count(*) FROM evmon.metric_values") == rows
    assert_in_step(ws, pg_dsn)

    gone = next(iter(files.values()))
    assert ws.delete_snapshot(gone.project_id, gone.snapshot_id)
    result = bridge.sync_once()
    assert (result.deleted, result.ingested) == (1, 0)
    assert count(pg_dsn, "SELECT count(*) FROM evmon.metric_values WHERE snapshot_id = %s", (gone.snapshot_id,)) == 0
    assert count(pg_dsn, "SELECT count(*) FROM evmon.metric_values") < rows
    assert_in_step(ws, pg_dsn)
    bridge.close()


def test_rerun_day_replaces_rows(ws: Workspace, pg_dsn: str, demo_config_path: Path) -> None:
    from evmon.config.loader import load_config
    from evmon.run.day import run_day

    config = load_config(demo_config_path)
    assert Path(os.environ["EVMON_WORKSPACE"]) == ws.root
    bridge = Bridge(ws, pg_dsn)
    bridge.sync_once()
    project = config.project("credit_scorecard")
    # the last demo day ran without labels (3-day lag); re-run it as if its labels had arrived
    day = DEMO_END
    before = stored_files(pg_dsn)
    with psycopg.connect(pg_dsn) as conn:
        old_labels = conn.execute(
            "SELECT labels FROM evmon.snapshots WHERE project = %s AND day = %s", (project.name, day)
        ).fetchone()
    assert old_labels == (False,)
    result = run_day(config, project, day, workspace=ws, today=date(2026, 12, 31), force=True)
    assert result.outcome == "ok" and result.labels_included
    rerun = uuid.UUID(result.snapshot_id or "")
    assert rerun in before  # same id, new file
    after = all_files(ws)[rerun]
    assert (after.size, after.mtime_ns) != before[rerun]
    sync = bridge.sync_once()
    assert sync.ingested == 1
    assert_in_step(ws, pg_dsn)
    with psycopg.connect(pg_dsn) as conn:
        labels, tags = conn.execute(
            "SELECT labels, tags FROM evmon.snapshots WHERE snapshot_id = %s", (rerun,)
        ).fetchone()
        quality = conn.execute("SELECT count(*) FROM evmon.model_quality WHERE snapshot_id = %s", (rerun,)).fetchone()
        segments = conn.execute(
            "SELECT DISTINCT segment_value FROM evmon.segment_quality WHERE snapshot_id = %s", (rerun,)
        ).fetchall()
    assert labels is True and tags == ["daily", "labelled"]
    assert quality is not None and quality[0] > 5
    assert {s[0] for s in segments} == {"north", "south", "east", "west"}
    assert all(f.project_id == project_id(project.name) for f in [after])
    bridge.close()


def test_truncated_unknown_and_hostile_inputs(ws: Workspace, pg_dsn: str, caplog: pytest.LogCaptureFixture) -> None:
    files = list(all_files(ws).values())
    # 1. a truncated snapshot (settled: a writer died) -> quarantined (the UI cannot load it), others ingested
    truncated = files[0]
    data = truncated.path.read_bytes()
    truncated.path.write_bytes(data[: len(data) // 2])
    _age(truncated.path)
    # 2. a snapshot of an unknown shape: a result type evmon does not know, next to known ones
    odd = files[1]
    doc = parse_json(odd.path.read_bytes())
    doc["metric_results"]["f" * 32] = {"type": "evidently:metric_result_v2:HistogramValue", "bins": [1, 2]}
    odd.path.write_bytes(orjson.dumps(doc))
    known_rows = len(flatten(doc))
    # 3. a project whose name is an injection attempt, with a copy of a real snapshot
    hostile = "x'; drop table x; --"
    hostile_id = uuid.uuid4()
    ws.root.joinpath(str(hostile_id), "snapshots").mkdir(parents=True)
    meta = {"id": str(hostile_id), "name": hostile, "description": "'); DELETE FROM evmon.snapshots; --"}
    ws.write_file(ws.project_dir(hostile_id) / METADATA, orjson.dumps(meta))
    hostile_sid = uuid.uuid4()
    ws.write_snapshot(hostile_id, hostile_sid, files[2].path.read_bytes())
    # 4. a file that is not a snapshot at all, and one of a valid JSON but wrong shape
    not_json = ws.write_snapshot(files[3].project_id, uuid.uuid4(), b"\x00\x01 not json")
    _age(not_json.path)
    wrong = ws.write_snapshot(
        files[3].project_id,
        uuid.uuid4(),
        b'{"metric_results": {"m": {"type": '
        b'"evidently:metric_result_v2:SingleValue", "value": 1}}, "timestamp": "2026-01-01"}',
    )
    _age(wrong.path)

    bridge = Bridge(ws, pg_dsn)
    flatten_module._warned_types.discard("HistogramValue")  # logged once per process: forget the calls above
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        result = bridge.sync_once()
    assert len(result.quarantined) == 3 and result.failed == []  # none of them would load in the UI either
    assert any(str(truncated.path) in m and "not valid JSON" in m for m in result.quarantined)
    assert any(str(not_json.path) in m for m in result.quarantined)
    assert any(str(wrong.path) in m and "not an Evidently snapshot" in m for m in result.quarantined)
    assert result.ingested == len(files) - 1 + 1  # all but the truncated one, plus the hostile project's
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 3 and all("moved unreadable snapshot" in r.getMessage() for r in errors)
    unknown = [r for r in caplog.records if "HistogramValue" in r.getMessage()]
    assert len(unknown) == 1
    assert (
        count(pg_dsn, "SELECT count(*) FROM evmon.metric_values WHERE snapshot_id = %s", (odd.snapshot_id,))
        == known_rows
    )

    # reported once: the bad files are out of the workspace, the next syncs do not see them
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        quiet = bridge.sync_once()
    assert (quiet.failed, quiet.quarantined, quiet.ingested) == ([], [], 0)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    with psycopg.connect(pg_dsn) as conn:
        names = conn.execute("SELECT name, description FROM evmon.projects ORDER BY name").fetchall()
        hostile_rows = conn.execute(
            "SELECT count(*) FROM evmon.metric_values WHERE project = %s", (hostile,)
        ).fetchone()
        recorded = conn.execute("SELECT original_path FROM evmon.quarantined_files").fetchall()
    assert (hostile, meta["description"]) in names
    assert hostile_rows is not None and hostile_rows[0] > 0
    assert {r[0] for r in recorded} == {str(truncated.path), str(not_json.path), str(wrong.path)}

    # a fixed file put back is picked up again
    truncated.path.write_bytes(data)
    healed = bridge.sync_once()
    assert healed.ingested == 1 and healed.failed == []

    # a project gone from the workspace takes its rows along
    import shutil

    shutil.rmtree(ws.project_dir(hostile_id))
    gone = bridge.sync_once()
    assert gone.projects_deleted == 1 and gone.deleted == 1
    assert count(pg_dsn, "SELECT count(*) FROM evmon.metric_values WHERE project = %s", (hostile,)) == 0
    bridge.close()


def test_file_being_written_is_retried_not_reported(ws: Workspace, pg_dsn: str) -> None:
    file = next(iter(all_files(ws).values()))
    data = file.path.read_bytes()
    fresh = ws.write_snapshot(file.project_id, uuid.uuid4(), b"")
    fresh.path.write_bytes(data[:1000])  # a writer (not evmon's atomic one) half way through
    bridge = Bridge(ws, pg_dsn, settle_s=30)
    result = bridge.sync_once()
    assert result.failed == [] and result.pending == [str(fresh.path)]
    fresh.path.write_bytes(data)  # the writer finishes
    done = bridge.sync_once()
    assert (done.ingested, done.pending, done.failed) == (1, [], [])
    assert_in_step(ws, pg_dsn)
    bridge.close()


def test_kind_tags_metadata_and_time(ws: Workspace, pg_dsn: str) -> None:
    bridge = Bridge(ws, pg_dsn)
    bridge.sync_once()
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(
            """SELECT project, kind, day, "timestamp", rows, labels, config_hash, 'daily' = ANY(tags),
                      metadata->>'evmon_kind' FROM evmon.snapshots"""
        ).fetchall()
        days = conn.execute(
            """SELECT count(*) FROM evmon.metric_values v JOIN evmon.snapshots s USING (snapshot_id)
               WHERE v."timestamp" <> s."timestamp" OR v.project <> s.project OR v.kind <> s.kind"""
        ).fetchone()
    assert len(rows) == 10
    for project, kind, day, ts, n, labels, config_hash, daily, meta_kind in rows:
        assert project in {"credit_scorecard", "taxi_duration"}
        assert kind == meta_kind == "daily" and daily
        assert ts.date() == day and ts.utcoffset().total_seconds() == 0
        assert n > 0 and labels in (True, False) and config_hash
    assert days == (0,)
    assert max(r[2] for r in rows) < DEMO_TODAY
    bridge.close()
