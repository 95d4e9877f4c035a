"""The Fleet page in a real browser: the demo bridged into Postgres by the real bridge, the app started as
`evmon app` starts it with EVMON_PG_DSN, the real Evidently UI to link to. The page opens first, shows both
projects with their owner and figures, filters by owner and tag, and links each project to its Days view
and its Evidently UI dashboard. No request may leave 127.0.0.1."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from evmon.fleet.table import fleet_table
from evmon.processes import free_port, stop, wait_ready
from evmon.services.ui import start_ui
from evmon.snapshot.ids import project_id
from tests.app.browser import settled
from tests.app.conftest import CREDIT, TAXI
from tests.app.test_browser import LOCAL, SCREENSHOTS
from tests.browser import launch_chromium, needs_chromium
from tests.fleet.demo import BridgedDemo, bridged_demo

pytestmark = [needs_chromium, pytest.mark.xdist_group("app_browser")]


@pytest.fixture(scope="module")
def fleet_servers(
    pg_server: str, demo_workspace: Path, demo_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dict[str, str], BridgedDemo]]:
    from evmon.app.launch import health_url, start_app

    folder = tmp_path_factory.mktemp("fleet_browser")
    workspace = folder / "workspace"
    shutil.copytree(demo_workspace, workspace)
    with bridged_demo(pg_server, workspace, demo_dir, folder) as bridged:
        ui_port, app_port = free_port(), free_port()
        ui_url = f"http://127.0.0.1:{ui_port}"
        ui = start_ui(workspace, "127.0.0.1", ui_port, log_path=folder / "ui.log")
        os.environ["EVMON_PG_DSN"] = bridged.grafana_dsn  # the app reads as Grafana does: SELECT only
        try:
            app = start_app(
                bridged.config_path, port=app_port, ui_url=ui_url, workspace=workspace, log_path=folder / "app.log"
            )
        finally:
            del os.environ["EVMON_PG_DSN"]
        try:
            wait_ready(health_url("127.0.0.1", app_port), app, timeout=120)
            wait_ready(ui_url + "/api/projects", ui, timeout=180)
            yield {"app": f"http://127.0.0.1:{app_port}", "ui": ui_url}, bridged
        finally:
            stop(app)
            stop(ui)


@pytest.fixture(scope="module")
def page(fleet_servers: tuple[dict[str, str], BridgedDemo]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    servers, _ = fleet_servers
    outside: list[str] = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context(viewport={"width": 1600, "height": 900})
            context.on("request", lambda r: None if r.url.startswith(LOCAL) else outside.append(r.url))
            tab = context.new_page()
            tab.set_default_timeout(60_000)
            tab.goto(servers["app"])
            tab.get_by_role("heading", name="Fleet").wait_for(timeout=120_000)
            settled(tab)
            yield tab
        finally:
            browser.close()
    assert outside == [], f"requests left 127.0.0.1: {outside[:5]}"


def cells(page: Any) -> list[dict[str, str]]:
    """The fleet table's rows as the grid offers them to assistive technology (each cell's text, a link's URL)."""
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.locator('[role="gridcell"]').first.wait_for(state="attached")
    header = [t.strip() for t in grid.locator('[role="columnheader"]').all_text_contents()]
    rows = grid.locator('tbody [role="row"]')
    return [
        dict(
            zip(header, (t.strip() for t in rows.nth(i).locator('[role="gridcell"]').all_text_contents()), strict=True)
        )
        for i in range(rows.count())
    ]


def shown_projects(page: Any, expected: list[str]) -> None:
    """Wait until the grid lists `expected` (Streamlit replaces a rerun's table after its text)."""
    for _ in range(60):
        if [c["project"] for c in cells(page)] == expected:
            return
        page.wait_for_timeout(500)
    assert [c["project"] for c in cells(page)] == expected


def pick(page: Any, label: str, option: str) -> None:
    page.locator('[data-testid="stMultiSelect"]').filter(has_text=label).click()
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")
    settled(page)


def test_the_fleet_page_opens_first_with_every_project(
    page: Any, fleet_servers: tuple[dict[str, str], BridgedDemo]
) -> None:
    _, bridged = fleet_servers
    page.get_by_text("2 projects, ").wait_for()
    shown = cells(page)
    expected = fleet_table(bridged.grafana_dsn, as_of=datetime.now(UTC))
    assert [c["project"] for c in shown] == [r.project for r in expected]
    by_name = {c["project"]: c for c in shown}
    assert (by_name[CREDIT]["owner"], by_name[CREDIT]["tags"]) == ("risk", "tier=critical")
    assert by_name[TAXI]["tags"] == ""
    for row in expected:
        assert by_name[row.project]["days missing"] == str(row.days_missing)
        assert by_name[row.project]["last day"] == row.last_day.isoformat() if row.last_day else False
    page.set_viewport_size({"width": 1600, "height": 560})
    page.wait_for_timeout(1500)  # let the grid and its sparklines paint
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "fleet.png"))
    page.set_viewport_size({"width": 1600, "height": 900})


def test_the_owner_and_tag_filters(page: Any, fleet_servers: tuple[dict[str, str], BridgedDemo]) -> None:
    servers, _ = fleet_servers
    pick(page, "Owner", "risk")
    page.get_by_text("1 projects, ").wait_for()
    shown_projects(page, [CREDIT])
    pick(page, "Owner", "(no owner)")
    page.get_by_text("2 projects, ").wait_for()
    page.goto(servers["app"])
    page.get_by_role("heading", name="Fleet").wait_for()
    pick(page, "Tag", "tier=critical")
    page.get_by_text("1 projects, ").wait_for()
    shown_projects(page, [CREDIT])


def test_each_row_links_to_its_days_view_and_its_evidently_dashboard(
    page: Any, fleet_servers: tuple[dict[str, str], BridgedDemo]
) -> None:
    servers, _ = fleet_servers
    page.goto(servers["app"])
    page.get_by_text("2 projects, ").wait_for()
    row = next(c for c in cells(page) if c["project"] == TAXI)
    assert row["Days"] == f"?project={TAXI}&view=Days"
    assert row["Evidently UI"] == f"{servers['ui']}/projects/{project_id(TAXI)}"
    days = page.context.new_page()
    try:
        days.goto(servers["app"] + "/" + row["Days"])
        days.get_by_role("heading", name=f"{TAXI}: Days").wait_for(timeout=120_000)
        days.get_by_text("5 daily snapshots, 2026-03-27 to 2026-03-31.").wait_for()
        days.goto(row["Evidently UI"])
        days.get_by_text(TAXI).first.wait_for(timeout=120_000)  # the UI's own page of the project
    finally:
        days.close()
