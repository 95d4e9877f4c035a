"""The bridge's weekly and monthly rollups: each equals the aggregate of its daily rows, always.

Real snapshots of the demo spread over 16 days (crossing week and month ends), a real bridge,
a real Postgres; the expected rollups are computed here in Python from evmon.metric_values.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from evmon.bridge import rollups
from evmon.bridge.store import Store
from evmon.bridge.sync import Bridge
from evmon.storage.base import Workspace
from tests.bridge.helpers import all_files, copy_workspace, count, restamp

FIRST_DAY = date(2026, 1, 24)  # a Saturday: the days run over the end of January
SPREAD_DAYS = 16


@pytest.fixture()
def ws(demo_workspace: Path, tmp_path: Path) -> Workspace:
    """The demo's snapshots, each project's re-stamped onto SPREAD_DAYS days (one snapshot a day)."""
    ws = copy_workspace(demo_workspace, tmp_path / "workspace")
    by_project: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for file in all_files(ws).values():
        by_project[file.project_id].append(file)
    for files in by_project.values():
        for n in range(SPREAD_DAYS):
            source = files[n % len(files)]
            restamp(ws, source, uuid.uuid4(), (FIRST_DAY + timedelta(days=n)).isoformat())
        for file in files:
            ws.delete_snapshot(file.project_id, file.snapshot_id)
    return ws


def _period(grain: str, moment: datetime) -> datetime:
    day = moment.astimezone(UTC).date()
    start = day - timedelta(days=day.weekday()) if grain == "week" else day.replace(day=1)
    return datetime(start.year, start.month, start.day, tzinfo=UTC)


def expected(dsn: str) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """The rollups computed here from the daily rows: key -> (days, n, sum, min, max, drifted, judged, first, last)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            'SELECT project, kind, metric_type, "column", label, value_kind, segment, "timestamp", value, '
            "drift_detected FROM evmon.metric_values"
        ).fetchall()
    groups: dict[tuple[Any, ...], list[tuple[Any, ...]]] = defaultdict(list)
    for project, kind, metric_type, column, label, value_kind, segment, ts, value, drift in rows:
        for grain in rollups.GRAINS:
            key = (grain, _period(grain, ts), project, kind, metric_type, column, label, value_kind, segment)
            groups[key].append((ts, value, drift))
    out = {}
    for key, members in groups.items():
        numbers = [v for _, v, _ in members if v is not None and not math.isnan(v)]
        stamps = [ts for ts, _, _ in members]
        out[key] = (
            len(members),
            len(numbers),
            math.fsum(numbers) if numbers else None,
            min(numbers) if numbers else None,
            max(numbers) if numbers else None,
            sum(1 for _, _, d in members if d),
            sum(1 for _, _, d in members if d is not None),
            min(stamps),
            max(stamps),
        )
    return out


def stored(dsn: str) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            'SELECT grain, period_start, project, kind, metric_type, "column", label, value_kind, segment, '
            "days, n, sum, min, max, drifted, judged, first_ts, last_ts FROM evmon.metric_rollups"
        ).fetchall()
    return {r[:9]: tuple(r[9:]) for r in rows}


def _same(got: tuple[Any, ...], want: tuple[Any, ...]) -> bool:
    """Equal, the sum to float rounding (Postgres adds in another order)."""
    sums = (got[2] is None and want[2] is None) or (
        got[2] is not None and want[2] is not None and math.isclose(got[2], want[2], rel_tol=1e-12, abs_tol=1e-12)
    )
    return sums and got[:2] == want[:2] and got[3:] == want[3:]


def assert_rollups_exact(dsn: str) -> None:
    want, got = expected(dsn), stored(dsn)
    assert set(got) == set(want), f"missing {len(set(want) - set(got))}, extra {len(set(got) - set(want))}"
    wrong = [key for key in want if not _same(got[key], want[key])]
    assert not wrong, f"{len(wrong)} rollups differ, e.g. {wrong[0]}: {got[wrong[0]]} != {want[wrong[0]]}"


def test_rollups_equal_their_daily_rows_through_ingest_rerun_and_delete(ws: Workspace, pg_dsn: str) -> None:
    bridge = Bridge(ws, pg_dsn)
    first = bridge.sync_once()
    assert first.ingested == 2 * SPREAD_DAYS and first.rolled_up == 2 * SPREAD_DAYS
    assert_rollups_exact(pg_dsn)
    weeks = count(pg_dsn, "SELECT count(DISTINCT period_start) FROM evmon.metric_rollups WHERE grain = 'week'")
    months = count(pg_dsn, "SELECT count(DISTINCT period_start) FROM evmon.metric_rollups WHERE grain = 'month'")
    assert (weeks, months) == (3, 2)  # 2026-01-24 .. 2026-02-08: the weeks of Mondays 01-19, 01-26, 02-02
    drifted = count(pg_dsn, "SELECT sum(drifted) FROM evmon.metric_rollups WHERE grain = 'month'")
    assert drifted == count(pg_dsn, "SELECT count(*) FROM evmon.metric_values WHERE drift_detected")
    assert drifted > 0

    assert bridge.sync_once().rolled_up == 0  # nothing written: nothing recomputed

    files = sorted(all_files(ws).values(), key=lambda f: f.path.name)
    moved = files[0]
    gone, content = [f for f in files[1:] if f.project_id == moved.project_id][:2]
    restamp(ws, content, moved.snapshot_id, "2026-04-02")  # a day re-run with another day's content, moved
    assert ws.delete_snapshot(gone.project_id, gone.snapshot_id)
    result = bridge.sync_once()
    assert (result.ingested, result.deleted) == (1, 1) and result.rolled_up >= 2
    assert_rollups_exact(pg_dsn)
    april = "SELECT count(*) FROM evmon.metric_rollups WHERE grain = 'month' AND period_start = '2026-04-01T00:00Z'"
    assert count(pg_dsn, april) > 0
    bridge.close()


def test_a_write_whose_refresh_never_ran_is_recomputed_by_the_next_sync(ws: Workspace, pg_dsn: str) -> None:
    bridge = Bridge(ws, pg_dsn)
    bridge.sync_once()
    bridge.close()
    victim = next(iter(all_files(ws).values()))
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        store = Store(conn)
        store.delete_snapshots([victim.snapshot_id])  # as a bridge killed right after this commit
    assert count(pg_dsn, "SELECT count(*) FROM evmon.rollup_dirty") == 1  # its project-day, marked in the delete
    with pytest.raises(AssertionError, match="rollups differ"):
        assert_rollups_exact(pg_dsn)
    again = Bridge(ws, pg_dsn).sync_once()  # the file is still in the workspace: re-ingested
    assert again.ingested == 1 and again.rolled_up >= 1
    assert_rollups_exact(pg_dsn)
    assert count(pg_dsn, "SELECT count(*) FROM evmon.rollup_dirty") == 0


def test_rebuild_after_a_bulk_load_and_the_grafana_role_reads_them(ws: Workspace, pg_dsn: str) -> None:
    Bridge(ws, pg_dsn).sync_once()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM evmon.metric_rollups")  # as rows loaded around the bridge (COPY): none rolled up
        rollups.rebuild(conn)
        grantee = conn.execute(
            "SELECT grantee FROM information_schema.role_table_grants "
            "WHERE table_schema = 'evmon' AND table_name = 'metric_rollups' AND privilege_type = 'SELECT'"
        ).fetchall()
    assert_rollups_exact(pg_dsn)
    assert any(g[0].startswith("evmon_grafana") for g in grantee), grantee
