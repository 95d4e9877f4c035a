"""The dashboards' series from the UI's Postgres through evmon's storage component
(evmon.evidently.fast_series): the same answers as Evidently's own SQLDataStorage, from `evmon ui`, in
Chromium, and evmon's indexes added to a database Evidently alone created."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from evidently.ui.service.base import SeriesFilter
from evidently.ui.service.storage.sql.data import SQLDataStorage
from evidently.ui.service.storage.sql.utils import run_migrations

from evmon.cli import cli
from evmon.evidently import ui_migrations
from evmon.evidently.fast_series import COMPONENT, FastSQLDataStorage
from evmon.processes import free_port, wait_ready
from evmon.snapshot.compacted import HEADLINE_TYPES
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.postgres import PostgresWorkspace
from tests.browser import launch_chromium, needs_chromium
from tests.conftest import DEMO_END
from tests.postgres import throwaway_database
from tests.storage.test_postgres import config_with_ui

pytestmark = pytest.mark.xdist_group("ui_storage")

TAXI, CREDIT = "taxi_duration", "credit_scorecard"


@dataclass
class Served:
    base: str
    dsn: str
    workspace: PostgresWorkspace
    dashboards: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def served(
    pg_server: str, demo_dir: Path, demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """The demo workspace moved into a fresh UI database (`evmon migrate-ui`), its two oldest days of each
    project compacted to two metric types (so panels have gaps), served by `evmon ui`."""
    folder = tmp_path_factory.mktemp("series")
    with throwaway_database(pg_server, "evmon_ui_series_") as dsn:
        root = folder / "workspace"
        shutil.copytree(demo_workspace, root)
        config = config_with_ui(demo_dir, folder, dsn)
        env = {k: v for k, v in os.environ.items() if not k.startswith("EVMON_")}
        env.update(EVMON_WORKSPACE=str(root), DO_NOT_TRACK="1")
        done = CliRunner().invoke(cli, ["migrate-ui", "-c", str(config), "--to", "postgres"], env=env)
        assert done.exit_code == 0, done.output
        ws = PostgresWorkspace(root, dsn)
        for name in (TAXI, CREDIT):
            for back in (3, 4):
                ws.compact(project_id(name), daily_snapshot_id(name, DEMO_END - timedelta(days=back)), ["RowCount"])
        port = free_port()
        log = folder / "ui.err"
        with open(log, "wb") as err:
            process = subprocess.Popen(
                [sys.executable, "-m", "evmon.cli", "ui", "-c", str(config), "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base + "/api/projects", process, timeout=240)
            dashboards = {name: ws.read_dashboard(project_id(name)) or {} for name in (TAXI, CREDIT)}
            yield Served(base, dsn, ws, dashboards)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
            ws.db.close()


def panel_filters(panel: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: v[k] for k in ("metric", "tags", "metadata", "metric_labels")} for v in panel["values"]]


def cases(dashboards: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    """(project, what, filters): every panel of every dashboard, and filters that exercise Evidently's
    edge rules (every metric, labels no point has, a metadata filter, tags)."""
    for name, dashboard in dashboards.items():
        for panel in dashboard["panels"]:
            if panel["values"]:
                yield name, panel["title"], panel_filters(panel)
        yield (
            name,
            "all headline types",
            [
                {"metric": f"evidently:metric_v2:{t}", "tags": [], "metadata": {}, "metric_labels": {}}
                for t in sorted(HEADLINE_TYPES)
            ],
        )
        yield name, "every metric", [{"metric": "*", "tags": [], "metadata": {}, "metric_labels": {}}]
        one = {"tags": [], "metadata": {}, "metric_labels": {"column": "no_such_column"}}
        yield name, "labels no point has", [{**one, "metric": "evidently:metric_v2:ValueDrift"}]
        meta = {"project": name}
        yield (
            name,
            "metadata and labels",
            [
                {"metric": "evidently:metric_v2:RowCount", "tags": [], "metadata": meta, "metric_labels": {}},
                {**one, "metric": "*", "metric_labels": {"value_type": "share"}},
            ],
        )


def answer(storage: Any, name: str, filters: list[dict[str, Any]], start: Any = None, end: Any = None) -> Any:
    parsed = [SeriesFilter(**f) for f in filters]
    return asyncio.run(storage.get_data_series(project_id(name), parsed, start, end)).dict()


def shaped(response: dict[str, Any]) -> dict[str, Any]:
    """The response with its series list in one order: Evidently's own order of the series (not of the
    sources, nor of a series' values) follows the rows' order inside a snapshot, which its query leaves
    to Postgres's plan (ORDER BY timestamp, id only), so it changes from one query to the next."""
    key = lambda s: (s["metric_type"], json.dumps(s["params"], sort_keys=True))  # noqa: E731
    return {"sources": response["sources"], "series": sorted(response["series"], key=key)}


def test_every_panel_of_every_demo_dashboard_gets_evidentlys_own_series_value_for_value(served: Served) -> None:
    evidently_own = SQLDataStorage(served.workspace.db.engine)
    fast = FastSQLDataStorage(served.workspace.db.engine)
    checked, with_points = 0, 0
    ranges = [(None, None), (datetime(2026, 3, 28), datetime(2026, 3, 30)), (datetime(2026, 3, 30), None)]
    for name, what, filters in cases(served.dashboards):
        for start, end in ranges:
            expected = answer(evidently_own, name, filters, start, end)
            got = answer(fast, name, filters, start, end)
            assert shaped(got) == shaped(expected), (name, what, start, end)  # sources and values in order
            checked += 1
            with_points += bool(expected["series"])
    assert checked >= 30 and with_points >= checked // 2
    # the compacted days (RowCount only) are gaps, None, in the drift series asked with RowCount
    name, _, drift = next(c for c in cases(served.dashboards) if c[1] == "Drift score per column")
    row_count = {"metric": "evidently:metric_v2:RowCount", "tags": [], "metadata": {}, "metric_labels": {}}
    got = answer(fast, name, [*drift, row_count])
    assert shaped(got) == shaped(answer(evidently_own, name, [*drift, row_count]))
    first_values = [s["values"][:2] for s in got["series"] if s["metric_type"].endswith("ValueDrift")]
    assert first_values and all(v == [None, None] for v in first_values)


def test_the_panel_editors_lists_answer_and_match_evidentlys_own(served: Served) -> None:
    """Metrics and a label's values: Evidently's own queries, run off the event loop. A metric's label names:
    Evidently's own query fails on Postgres (DISTINCT of a json column), evmon's gives every params key."""
    evidently_own = SQLDataStorage(served.workspace.db.engine)
    fast = FastSQLDataStorage(served.workspace.db.engine)
    drift = "evidently:metric_v2:ValueDrift"

    async def lists(storage: Any, pid: Any) -> tuple[Any, ...]:
        metrics = sorted(await storage.get_metrics(pid, [], {}))
        values = sorted(await storage.get_metric_label_values(pid, [], {}, drift, "column"))
        return metrics, values

    for name in served.dashboards:
        pid = project_id(name)
        got = asyncio.run(lists(fast, pid))
        assert got == asyncio.run(lists(evidently_own, pid))
        assert "evidently:metric_v2:RowCount" in got[0] and len(got[1]) >= 3
        with pytest.raises(Exception, match="could not identify an equality operator for type json"):
            asyncio.run(evidently_own.get_metric_labels(pid, [], {}, drift))
        with psycopg.connect(served.dsn) as conn:
            params = conn.execute(
                "SELECT params::text FROM points WHERE project_id = %s AND metric_type = %s", (pid, drift)
            )
            keys = {key for (raw,) in params for key in json.loads(raw)} - {"type"}
        assert sorted(asyncio.run(fast.get_metric_labels(pid, [], {}, drift))) == sorted(keys)
        assert "column" in keys


def post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_evmon_ui_on_postgres_serves_the_series_from_evmons_storage(served: Served) -> None:
    conf = (served.workspace.evmon_dir / "evidently-ui.yaml").read_text()
    assert f"type: {COMPONENT}" in conf
    evidently_own = SQLDataStorage(served.workspace.db.engine)
    for name, what, filters in cases(served.dashboards):
        got = post(f"{served.base}/api/v2/snapshots/{project_id(name)}/data_series_batch", {"series_filter": filters})
        expected = json.loads(json.dumps(answer(evidently_own, name, filters), default=str))
        for source in expected["sources"]:
            source["timestamp"] = source["timestamp"].replace(" ", "T")
        assert shaped(got) == shaped(expected), (name, what)
    log = served.workspace.ui_log.read_text()
    assert "evmon: the dashboards' series come from evmon.evidently.fast_series" in log


def test_migration_adds_evmons_indexes_to_a_database_evidently_alone_created(pg_server: str, tmp_path: Path) -> None:
    with throwaway_database(pg_server, "evmon_ui_up_") as dsn:
        ws = PostgresWorkspace(tmp_path / "workspace", dsn)
        run_migrations(ws.db.url, "head", False, False, None)  # today's UI database: Evidently's tables only
        pid = ws.ensure_project(TAXI, "")
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT to_regclass('evmon_points_series_idx')").fetchone() == (None,)
        assert ws.db.migrate() == [v for v, _, _ in ui_migrations.MIGRATIONS]
        assert ws.db.migrate() == []  # once only
        with psycopg.connect(dsn) as conn:
            indexes = {
                r[0]
                for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename IN ('points', 'snapshots')")
            }
            assert {"evmon_points_series_idx", "evmon_snapshots_time_idx"} <= indexes
            assert conn.execute("SELECT version_num FROM alembic_version").fetchone() is not None
        assert [p.id for p in ws.list_projects()] == [pid]  # what was there is still there
        ws.db.close()


@needs_chromium
def test_chromium_renders_the_demo_dashboards_from_postgres(served: Served) -> None:
    """Each demo dashboard in the browser: every line and bar panel with as many legend entries as the series
    evmon's storage answers for it (and at least one panel plotted), and the "Rows, last day" counter at
    the last day's row count."""
    from playwright.sync_api import sync_playwright

    failed: list[str] = []
    fast = FastSQLDataStorage(served.workspace.db.engine)
    row_count = {"metric": "evidently:metric_v2:RowCount", "tags": [], "metadata": {}, "metric_labels": {}}
    last_rows = {name: answer(fast, name, [row_count])["series"][0]["values"][-1] for name in served.dashboards}
    wanted = {
        name: {
            p["title"]: len(answer(fast, name, panel_filters(p))["series"])
            for p in dashboard["panels"]
            if p["plot_params"].get("plot_type") in ("line", "bar")
        }
        for name, dashboard in served.dashboards.items()
    }
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            for name, panels in wanted.items():
                page.goto(f"{served.base}/projects/{project_id(name)}")
                page.get_by_text("Rows, last day").first.wait_for()
                shown: dict[str, int] = {}
                deadline = time.monotonic() + 90
                while shown != panels and time.monotonic() < deadline:
                    page.wait_for_timeout(500)
                    for title in panels:
                        card = page.locator(".MuiCard-root", has=page.get_by_text(title, exact=True)).first
                        card.scroll_into_view_if_needed()
                        shown[title] = card.locator(".MuiChartsLegend-series").count()
                assert shown == panels, name
                assert sum(panels.values()) >= 5, name
                counter = page.locator(".MuiCard-root", has=page.get_by_text("Rows, last day", exact=True)).first
                assert f"{last_rows[name]:.0f}" in counter.inner_text(), name
        finally:
            browser.close()
    assert failed == []
