"""Compaction: same dashboard series and bridged values, archived originals load back whole."""

from __future__ import annotations

import gzip
import json
import shutil
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from evmon.config.loader import load_config
from evmon.processes import free_port, stop, wait_ready
from evmon.services.ui import start_ui
from evmon.snapshot.compacted import HEADLINE_TYPES, compacted_snapshot, dashboard_metric_types
from evmon.snapshot.contract import COMPACTED_KEY
from evmon.snapshot.flatten import flatten
from evmon.snapshot.ids import project_id
from evmon.storage.compaction import compact_all, compact_project
from evmon.storage.files import FilesWorkspace
from tests.conftest import DEMO_END, DEMO_LIVE, DEMO_WORKSPACE_DAYS

LATER = DEMO_END + timedelta(days=400)  # every demo day is older than retention.full_days


@pytest.fixture()
def workspace(demo_workspace: Path, tmp_path: Path) -> FilesWorkspace:
    root = tmp_path / "workspace"
    shutil.copytree(demo_workspace, root)
    return FilesWorkspace(root)


def originals(ws: FilesWorkspace, project: str) -> dict[str, bytes]:
    pid = project_id(project)
    return {str(f.snapshot_id): f.path.read_bytes() for f in ws.list_snapshots(pid)}


def test_compact_snapshot_keeps_the_chosen_values_and_drops_plots(workspace: FilesWorkspace) -> None:
    pid = project_id("credit_scorecard")
    sid = workspace.list_snapshots(pid)[0].snapshot_id
    full = workspace.read_snapshot(pid, sid)
    small = compacted_snapshot(full, frozenset({"ValueDrift", "RowCount"}))
    assert small["widgets"] == [] and small["tests_widgets"] == []
    assert small["metadata"] == {**full["metadata"], COMPACTED_KEY: "yes"}
    assert {r.metric_type for r in flatten(small)} == {"ValueDrift", "RowCount"}
    assert flatten(small) == [r for r in flatten(full) if r.metric_type in {"ValueDrift", "RowCount"}]
    assert '"widget": [{' not in json.dumps(small)
    assert len(json.dumps(small)) < len(json.dumps(full)) / 20


def test_dashboard_metric_types() -> None:
    assert dashboard_metric_types(None) == HEADLINE_TYPES
    dashboard = {"panels": [{"values": [{"metric": "evidently:metric_v2:ValueDrift"}, {"metric": "RowCount"}]}]}
    assert dashboard_metric_types(dashboard) == {"ValueDrift", "RowCount"}


def test_compaction_is_idempotent_and_archives_exact_originals(workspace: FilesWorkspace, demo_dir: Path) -> None:
    config = load_config(demo_dir / "projects.yaml")
    filled = [p for p in config.projects if p.name != DEMO_LIVE]  # the live project has no snapshot here
    before = {p.name: originals(workspace, p.name) for p in filled}
    first = compact_all(config, workspace, today=LATER)
    assert [r.line() for r in first] == [
        *(f"{p.name}: {DEMO_WORKSPACE_DAYS} compacted, 0 already compacted, 0 kept full" for p in filled),
        f"{DEMO_LIVE}: 0 compacted, 0 already compacted, 0 kept full",
    ]
    second = compact_all(config, workspace, today=LATER)
    assert [(r.compacted, r.already) for r in second] == [(0, DEMO_WORKSPACE_DAYS)] * 2 + [(0, 0)]
    for project in filled:
        pid = project_id(project.name)
        for sid_text, raw in before[project.name].items():
            sid = next(f.snapshot_id for f in workspace.list_snapshots(pid) if str(f.snapshot_id) == sid_text)
            assert gzip.decompress(workspace.archive_path(pid, sid).read_bytes()) == raw  # whole, byte for byte
            full = workspace.read_full_snapshot(pid, sid)
            assert flatten(full) == flatten(json.loads(raw))  # what the bridge ingests is unchanged
            compacted = workspace.read_snapshot(pid, sid)
            assert compacted["metadata"][COMPACTED_KEY] == "yes"
            kept = {r.metric_type for r in flatten(compacted)}
            assert kept and kept <= HEADLINE_TYPES
            assert workspace.archive.parent == workspace.root.parent  # outside the UI's tree


def test_recent_days_stay_full(workspace: FilesWorkspace, demo_dir: Path) -> None:
    config = load_config(demo_dir / "projects.yaml")
    project = config.project("taxi_duration")
    full_days = project.retention.full_days
    today = DEMO_END + timedelta(days=full_days)  # the last full_days days before today stay full: DEMO_END only
    result = compact_project(config, project, workspace, today=today)
    assert (result.compacted, result.kept_full) == (DEMO_WORKSPACE_DAYS - 1, 1)


def test_a_crash_between_archive_and_replace_is_finished_next_time(workspace: FilesWorkspace, demo_dir: Path) -> None:
    config = load_config(demo_dir / "projects.yaml")
    pid = project_id("taxi_duration")
    file = workspace.list_snapshots(pid)[0]
    raw = file.path.read_bytes()
    workspace.write_archive(pid, file.snapshot_id, raw)  # as if killed right after archiving
    assert workspace.read_full_snapshot(pid, file.snapshot_id) == json.loads(raw)  # still the full file
    compact_project(config, config.project("taxi_duration"), workspace, today=LATER)
    assert workspace.read_snapshot(pid, file.snapshot_id)["metadata"][COMPACTED_KEY] == "yes"
    assert gzip.decompress(workspace.archive_path(pid, file.snapshot_id).read_bytes()) == raw


def post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status in (200, 201)
        return json.loads(response.read())


@pytest.fixture()
def ui(workspace: FilesWorkspace, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = start_ui(workspace.root, port=port, log_path=tmp_path / "ui.log")
    try:
        wait_ready(f"http://127.0.0.1:{port}/api/projects", process, timeout=180)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def test_the_ui_serves_identical_series_after_compaction(ui: str, workspace: FilesWorkspace, demo_dir: Path) -> None:
    config = load_config(demo_dir / "projects.yaml")
    pid = project_id("credit_scorecard")
    plotted = dashboard_metric_types(json.loads(workspace.dashboard_path(pid).read_bytes()))
    assert {"MissingCellsShare", "ValueDrift", "F1Score"} <= plotted < HEADLINE_TYPES  # written by the backfill
    filters = [
        {"tags": [], "metadata": {}, "metric": f"evidently:metric_v2:{t}", "metric_labels": {}} for t in sorted(plotted)
    ]
    url = f"{ui}/api/v2/snapshots/{pid}/data_series_batch"
    before = post(url, {"series_filter": filters})
    assert len(before["sources"]) == DEMO_WORKSPACE_DAYS
    assert len(before["series"]) > 20

    compact_all(config, workspace, today=LATER)
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listed = json.loads(urllib.request.urlopen(f"{ui}/api/projects/{pid}/snapshots", timeout=30).read())
        if all(s["metadata"].get(COMPACTED_KEY) == "yes" for s in listed):
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the UI did not pick up the compacted files")
    after = post(url, {"series_filter": filters})

    def canonical(response: dict[str, Any]) -> Any:
        return sorted(
            (s["metric_type"], json.dumps(s["params"], sort_keys=True), json.dumps(s["values"]))
            for s in response["series"]
        ), sorted(src["timestamp"] for src in response["sources"])

    assert canonical(after) == canonical(before)


def test_the_compact_command(
    workspace: FilesWorkspace, demo_config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from evmon.cli import cli

    monkeypatch.setenv("EVMON_WORKSPACE", str(workspace.root))
    args = ["compact", "-c", str(demo_config_path), "--today", str(LATER)]
    first = CliRunner().invoke(cli, args)
    assert (first.exit_code, first.stdout) == (
        0,
        f"credit_scorecard: {DEMO_WORKSPACE_DAYS} compacted, 0 already compacted, 0 kept full\n"
        f"taxi_duration: {DEMO_WORKSPACE_DAYS} compacted, 0 already compacted, 0 kept full\n"
        f"{DEMO_LIVE}: 0 compacted, 0 already compacted, 0 kept full\n",
    )
    again = CliRunner().invoke(cli, [*args[:3], "taxi_duration", *args[3:]])
    assert (again.exit_code, again.stdout) == (
        0,
        f"taxi_duration: 0 compacted, {DEMO_WORKSPACE_DAYS} already compacted, 0 kept full\n",
    )


def test_a_scheduler_fire_compacts_old_days(workspace: FilesWorkspace, demo_config_path: Path) -> None:
    from evmon.scheduler.service import SchedulerService, fixed_clock

    lines: list[str] = []
    service = SchedulerService(
        demo_config_path, workspace=workspace, now=fixed_clock(LATER), echo=lines.append, dashboards=False
    )
    results = service.fire("taxi_duration")
    assert {r.outcome for r in results} == {"skipped"}  # the catch-up days have no data
    assert f"taxi_duration: {DEMO_WORKSPACE_DAYS} compacted, 0 already compacted, 0 kept full" in lines
    pid = project_id("taxi_duration")
    assert all(
        workspace.read_snapshot(pid, f.snapshot_id)["metadata"][COMPACTED_KEY] == "yes"
        for f in workspace.list_snapshots(pid)
    )


def test_bridged_rows_are_unchanged_by_compaction(workspace: FilesWorkspace, demo_dir: Path, pg_dsn: str) -> None:
    import psycopg

    from evmon.bridge.sync import Bridge

    def stored() -> list[tuple[Any, ...]]:
        with psycopg.connect(pg_dsn) as conn:
            return conn.execute(
                "SELECT snapshot_id, metric_id, value_kind, coalesce(label, ''), value::text, params::text,"
                " display_name, metric_type FROM evmon.metric_values ORDER BY 1, 2, 3, 4"
            ).fetchall()

    bridge = Bridge(workspace, pg_dsn)
    assert bridge.sync_once().ingested == 2 * DEMO_WORKSPACE_DAYS
    before = stored()
    compact_all(load_config(demo_dir / "projects.yaml"), workspace, today=LATER)
    second = bridge.sync_once()
    assert second.ingested == 2 * DEMO_WORKSPACE_DAYS and not second.failed  # the files changed...
    assert stored() == before  # ...their values did not
