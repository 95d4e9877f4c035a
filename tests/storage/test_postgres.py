"""The Evidently UI served from PostgreSQL (`ui: {storage: postgres}`): evmon writes Evidently's own
tables, the real `evidently ui` (two of them on one database) serves them, and the bridge, the app
and compaction read the same snapshots there."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from evmon.cli import cli
from evmon.config.loader import load_config
from evmon.processes import free_port, stop, wait_ready
from evmon.run.batch import DayTask
from evmon.run.many import run_many
from evmon.services.ui import start_ui
from evmon.snapshot.flatten import flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.compaction import compact_project
from evmon.storage.files import FilesWorkspace
from evmon.storage.postgres import PostgresWorkspace
from tests.conftest import DEMO_END, DEMO_TODAY, DEMO_WORKSPACE_DAYS
from tests.postgres import throwaway_database

pytestmark = pytest.mark.xdist_group("ui_storage")

TAXI, CREDIT = "taxi_duration", "credit_scorecard"


@pytest.fixture()
def ui_db(pg_server: str) -> Iterator[str]:
    """A fresh database for the UI's tables (Evidently's own), dropped afterwards."""
    with throwaway_database(pg_server, "evmon_ui_test_") as dsn:
        yield dsn


def config_with_ui(demo_dir: Path, tmp_path: Path, dsn: str) -> Path:
    """The demo projects.yaml (absolute data paths) with `ui: {storage: postgres, dsn: ...}`."""
    text = (demo_dir / "projects.yaml").read_text().replace("demo_data/", f"{demo_dir}/demo_data/")
    path = tmp_path / "projects.yaml"
    path.write_text(text + f"\nui: {{storage: postgres, dsn: '{dsn}'}}\n")
    return path


def get(url: str, method: str = "GET") -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=60) as response:
            body = response.read()
            return response.status, json.loads(body) if body else None
    except urllib.error.HTTPError as exc:
        return exc.code, None


def post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def values_of(doc: dict[str, Any]) -> dict[tuple[Any, ...], float | None]:
    return {(r.metric_id, r.column, r.label, r.value_kind): r.value for r in flatten(doc)}


def test_each_day_is_one_snapshot_in_the_uis_tables_however_often_it_runs(
    demo_dir: Path, tmp_path: Path, ui_db: str, clean_env: None
) -> None:
    config = load_config(config_with_ui(demo_dir, tmp_path, ui_db))
    ws = PostgresWorkspace(tmp_path / "workspace", ui_db)
    days = [DEMO_END, DEMO_END.replace(day=30)]
    tasks = [DayTask(config.project(TAXI), day) for day in days]
    assert {r.outcome for r in run_many(config, tasks, workspace=ws, today=DEMO_TODAY)} == {"ok"}
    pid = project_id(TAXI)
    docs = {day: ws.read_snapshot(pid, daily_snapshot_id(TAXI, day)) for day in days}
    points = sum(len(flatten(doc)) for doc in docs.values())
    assert ws.db.counts() == {"projects": 1, "snapshots": 2, "blobs": 2, "points": points}

    again = run_many(config, tasks, workspace=ws, today=DEMO_TODAY, force=True)  # a re-run replaces
    assert {r.outcome for r in again} == {"ok"}
    assert ws.db.counts() == {"projects": 1, "snapshots": 2, "blobs": 2, "points": points}  # no orphan

    assert ws.delete_snapshot(pid, daily_snapshot_id(TAXI, DEMO_END))
    left = len(flatten(docs[days[1]]))
    assert ws.db.counts() == {"projects": 1, "snapshots": 1, "blobs": 1, "points": left}
    assert ws.read_dashboard(pid) is not None  # run_many wrote the project's dashboard there too


def test_two_uis_on_one_database_see_what_evmon_writes_at_once(
    demo_dir: Path, tmp_path: Path, ui_db: str, clean_env: None
) -> None:
    config = load_config(config_with_ui(demo_dir, tmp_path, ui_db))
    ws = PostgresWorkspace(tmp_path / "workspace", ui_db)
    first = [DayTask(config.project(TAXI), DEMO_END.replace(day=29))]
    assert {r.outcome for r in run_many(config, first, workspace=ws, today=DEMO_TODAY)} == {"ok"}
    uis = [start_ui(ws, port=free_port(), log_path=tmp_path / f"ui{i}.log") for i in range(2)]
    try:
        bases = [f"http://127.0.0.1:{ui.args[-1]}" for ui in uis]
        for base, ui in zip(bases, uis, strict=True):
            wait_ready(base + "/api/projects", ui, timeout=120)
        pid = project_id(TAXI)
        for base in bases:
            status, projects = get(base + "/api/projects")
            assert status == 200 and [p["name"] for p in projects] == [TAXI]
            assert len(get(f"{base}/api/projects/{pid}/snapshots")[1]) == 1
        more = [DayTask(config.project(TAXI), DEMO_END)]
        assert {r.outcome for r in run_many(config, more, workspace=ws, today=DEMO_TODAY)} == {"ok"}
        for base in bases:  # no restart, no reload
            listed = get(f"{base}/api/projects/{pid}/snapshots")[1]
            assert sorted(s["id"] for s in listed) == sorted(
                str(daily_snapshot_id(TAXI, d)) for d in (DEMO_END.replace(day=29), DEMO_END)
            )
        sid = daily_snapshot_id(TAXI, DEMO_END)
        assert get(f"{bases[0]}/api/projects/{pid}/{sid}", method="DELETE")[0] == 403  # writes closed
        assert ws.snapshot_exists(pid, sid)
    finally:
        for ui in uis:
            stop(ui)


def test_migrate_ui_there_and_back_loses_nothing_and_the_dashboards_match(
    demo_dir: Path, demo_workspace: Path, tmp_path: Path, ui_db: str, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    files_root = tmp_path / "workspace"
    shutil.copytree(demo_workspace, files_root)
    config_path = config_with_ui(demo_dir, tmp_path, ui_db)
    monkeypatch.setenv("EVMON_WORKSPACE", str(files_root))
    done = CliRunner().invoke(cli, ["migrate-ui", "-c", str(config_path), "--to", "postgres"])
    assert done.exit_code == 0, done.output
    snapshots = 2 * DEMO_WORKSPACE_DAYS
    assert done.stdout.splitlines()[-1].startswith(
        f"migrate-ui: 2 projects, 2 dashboards, {snapshots} snapshots, "
    ) and done.stdout.splitlines()[-1].endswith("values checked, all equal")
    database = PostgresWorkspace(files_root, ui_db)
    files = FilesWorkspace(files_root)
    assert database.db.counts()["snapshots"] == database.db.counts()["blobs"] == snapshots

    ui_files = start_ui(files, port=free_port(), log_path=tmp_path / "files.log")
    ui_db_process = start_ui(database, port=free_port(), log_path=tmp_path / "db.log")
    try:
        bases = [f"http://127.0.0.1:{ui.args[-1]}" for ui in (ui_files, ui_db_process)]
        for base, ui in zip(bases, (ui_files, ui_db_process), strict=True):
            wait_ready(base + "/api/projects", ui, timeout=180)
        for name in (TAXI, CREDIT):
            pid = project_id(name)
            dashboard = get(f"{bases[0]}/api/v2/dashboards/{pid}")[1]
            assert get(f"{bases[1]}/api/v2/dashboards/{pid}")[1]["panels"] == dashboard["panels"]
            for panel in dashboard["panels"]:
                if not panel["values"]:
                    continue
                body = {
                    "series_filter": [
                        {k: v[k] for k in ("metric", "tags", "metadata", "metric_labels")} for v in panel["values"]
                    ]
                }
                series = [post(f"{base}/api/v2/snapshots/{pid}/data_series_batch", body) for base in bases]
                shaped = [
                    (
                        sorted(s["timestamp"] for s in one["sources"]),
                        sorted(
                            (s["metric_type"], json.dumps(s["params"], sort_keys=True), json.dumps(s["values"]))
                            for s in one["series"]
                        ),
                    )
                    for one in series
                ]
                assert shaped[0] == shaped[1], (name, panel["title"])
    finally:
        stop(ui_files)
        stop(ui_db_process)

    back = tmp_path / "back"
    monkeypatch.setenv("EVMON_WORKSPACE", str(back))
    done = CliRunner().invoke(cli, ["migrate-ui", "-c", str(config_path), "--to", "files"])
    assert done.exit_code == 0, done.output
    returned = FilesWorkspace(back)
    for name in (TAXI, CREDIT):
        pid = project_id(name)
        assert {f.snapshot_id for f in returned.list_snapshots(pid)} == {
            f.snapshot_id for f in files.list_snapshots(pid)
        }
        for file in files.list_snapshots(pid):
            original = files.read_full_snapshot(pid, file.snapshot_id)
            assert values_of(returned.read_snapshot(pid, file.snapshot_id)) == values_of(original)
        assert returned.read_dashboard(pid) == files.read_dashboard(pid)


def test_compaction_the_bridge_and_the_app_read_the_same_snapshots(
    demo_dir: Path, demo_workspace: Path, tmp_path: Path, ui_db: str, pg_dsn: str, clean_env: None
) -> None:
    from evmon.app.data import project_catalog
    from evmon.bridge.sync import Bridge
    from evmon.storage.migration import copy_workspace

    database = PostgresWorkspace(tmp_path / "workspace", ui_db)
    assert not copy_workspace(FilesWorkspace(demo_workspace), database).problems

    bridge = Bridge(database, pg_dsn, settle_s=0)
    try:
        result = bridge.sync_once()
        assert (result.ingested, result.failed) == (2 * DEMO_WORKSPACE_DAYS, [])
        assert bridge.sync_once().ingested == 0  # unchanged: nothing read again
    finally:
        bridge.close()
    catalog = project_catalog(database, CREDIT)
    assert len(catalog.daily) == DEMO_WORKSPACE_DAYS

    config = load_config(demo_dir / "projects.yaml")
    pid, sid = project_id(CREDIT), daily_snapshot_id(CREDIT, DEMO_END)
    blob = database.db.blob(pid, sid)
    before = database.db.counts()["points"]
    compacted = compact_project(config, config.project(CREDIT), database, today=DEMO_TODAY.replace(month=5))
    assert compacted.compacted == DEMO_WORKSPACE_DAYS and not compacted.failed
    assert database.db.counts()["points"] < before  # only what the dashboards plot is left
    assert database.db.blob(pid, sid) == blob  # the report stays whole
    assert database.read_snapshot_header(pid, sid)["metadata"]["evmon_compacted"] == "yes"


def test_writers_creating_one_project_at_once_make_it_once(tmp_path: Path, ui_db: str) -> None:
    """A backfill's workers reach a new project together: one project, one author, no unique-key error
    (CI once saw `duplicate key ... users_pkey` when two inserted Evidently's anonymous author)."""
    import threading

    PostgresWorkspace(tmp_path, ui_db).prepare()
    errors: list[Exception] = []
    start = threading.Barrier(8)

    def create() -> None:
        start.wait()
        try:
            PostgresWorkspace(tmp_path, ui_db).ensure_project(TAXI, "first")
        except Exception as exc:  # the test reports any failure, whatever its kind
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ws = PostgresWorkspace(tmp_path, ui_db)
    assert errors == [] and [(p.name, p.description) for p in ws.list_projects()] == [(TAXI, "first")]
    ws.ensure_project(TAXI, "renamed")  # an existing project keeps its id and takes the new description
    assert [(p.id, p.description) for p in ws.list_projects()] == [(project_id(TAXI), "renamed")]
