"""The bridge and the quarantine: a settled file the UI cannot load leaves the workspace; Postgres lists it."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from evmon.bridge.sync import Bridge
from evmon.storage.base import Workspace
from evmon.storage.quarantine import list_quarantined
from tests.bridge.helpers import all_files, assert_in_step, copy_workspace, count


@pytest.fixture()
def ws(demo_workspace: Path, tmp_path: Path) -> Workspace:
    return copy_workspace(demo_workspace, tmp_path / "workspace")


def quarantined_rows(dsn: str) -> list[tuple[str, str, str, str, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """SELECT project, original_path, quarantine_path, reason, found_by
               FROM evmon.quarantined_files ORDER BY quarantined_at"""
        ).fetchall()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_a_settled_corrupt_file_is_quarantined_and_listed(
    ws: Workspace, pg_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    files = list(all_files(ws).values())
    Bridge(ws, pg_dsn).sync_once()
    victim = files[0]
    data = victim.path.read_bytes()
    victim.path.write_bytes(data[: len(data) // 2])  # a foreign writer, half way through
    bridge = Bridge(ws, pg_dsn, settle_s=30)

    young = bridge.sync_once()
    assert young.pending == [str(victim.path)] and young.quarantined == [] and victim.path.exists()

    past = time.time() - 60
    os.utime(victim.path, (past, past))  # it never finished: settled, still unreadable
    with caplog.at_level(logging.ERROR):
        settled = bridge.sync_once()
    assert len(settled.quarantined) == 1 and settled.failed == [] and not settled.ok
    assert settled.quarantined[0].startswith(f"moved unreadable snapshot {victim.path} to ")
    assert "quarantined" in settled.line()
    assert any(str(victim.path) in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert not victim.path.exists()
    [record] = list_quarantined(ws)
    assert Path(record.quarantine_path).read_bytes() == data[: len(data) // 2]
    assert record.found_by == "bridge" and record.reason.startswith("not valid JSON")

    # Postgres: the service-health table lists it; its old rows left with the file; nothing reported twice
    project = next(p.name for p in ws.list_projects() if p.id == victim.project_id)
    assert quarantined_rows(pg_dsn) == [
        (project, str(victim.path), record.quarantine_path, record.reason, "bridge"),
    ]
    assert count(pg_dsn, "SELECT count(*) FROM evmon.ingest_errors") == 0
    assert_in_step(ws, pg_dsn)
    quiet = bridge.sync_once()
    assert (quiet.quarantined, quiet.failed, quiet.ok, quiet.changed) == ([], [], True, False)

    # the operator repairs it: the day is back in the workspace and in Postgres, the record leaves the table
    victim.path.write_bytes(data)
    shutil.rmtree(Path(record.quarantine_path).parent)
    healed = bridge.sync_once()
    assert healed.ingested == 1 and healed.quarantine_exported == 0
    assert quarantined_rows(pg_dsn) == []
    assert_in_step(ws, pg_dsn)
    bridge.close()


def test_a_file_the_ui_loads_stays_and_is_reported(ws: Workspace, pg_dsn: str) -> None:
    """Quarantine is for what the UI cannot load; a snapshot only the bridge refuses stays where it is."""
    source = next(iter(all_files(ws).values()))
    doc = json.loads(source.path.read_bytes())
    doc["timestamp"] = 1774915200  # the UI's pydantic takes epoch seconds; the bridge wants ISO 8601
    odd = ws.write_snapshot(source.project_id, uuid.uuid4(), json.dumps(doc).encode())
    past = time.time() - 60
    os.utime(odd.path, (past, past))

    bridge = Bridge(ws, pg_dsn)
    result = bridge.sync_once()
    assert result.quarantined == [] and len(result.failed) == 1 and "timestamp" in result.failed[0]
    assert odd.path.exists() and list_quarantined(ws) == []
    assert count(pg_dsn, "SELECT count(*) FROM evmon.ingest_errors") == 1
    quiet = bridge.sync_once()  # reported once, skipped until it changes
    assert (quiet.failed, quiet.known_bad) == ([], 1)
    odd.path.unlink()  # a deleted bad file leaves evmon.ingest_errors
    bridge.sync_once()
    assert count(pg_dsn, "SELECT count(*) FROM evmon.ingest_errors") == 0
    bridge.close()


def test_files_quarantined_by_others_are_listed(ws: Workspace, pg_dsn: str) -> None:
    """`evmon ui` or the scheduler moved a file: the bridge mirrors the whole quarantine folder."""
    from evmon.storage.quarantine import check_and_quarantine

    file = next(iter(all_files(ws).values()))
    file.path.write_bytes(b"[]")
    past = time.time() - 60
    os.utime(file.path, (past, past))
    [record] = check_and_quarantine(ws, "evmon ui").quarantined

    result = Bridge(ws, pg_dsn).sync_once()
    assert result.quarantine_exported == 1 and result.quarantined == []
    [row] = quarantined_rows(pg_dsn)
    assert row[1:] == (str(file.path), record.quarantine_path, record.reason, "evmon ui")
