"""The app in a real browser: `streamlit run` (as `evmon app` starts it) driven by Playwright + Chromium.

Debian's Chromium (/usr/bin/chromium) is driven by Playwright without a browser download; the
tests skip with a reason when it is absent. One app server, one Evidently UI and one page serve
the module's tests in order (pick a project, compare, what-if and save, re-run); each flow
leaves a screenshot (in the test's tmp folder; set EVMON_SCREENSHOTS=docs/screenshots to refresh those
of docs/app.md). No request may leave 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from evmon.compare.values import snapshot_values
from evmon.processes import free_port, stop, wait_ready
from evmon.services.ui import start_ui
from evmon.snapshot.flatten import flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from tests.app.browser import choose, days_page, set_date, settled, view
from tests.app.conftest import CREDIT, TAXI
from tests.browser import launch_chromium, needs_chromium
from tests.conftest import DEMO_END

SCREENSHOTS = Path(os.environ.get("EVMON_SCREENSHOTS") or tempfile.mkdtemp(prefix="evmon-screenshots-"))
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")

pytestmark = [
    needs_chromium,
    pytest.mark.xdist_group("app_browser"),
]


@pytest.fixture(scope="module")
def browser_workspace(shift_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser") / "workspace"
    shutil.copytree(shift_workspace, root)
    return root


@pytest.fixture(scope="module")
def servers(browser_workspace: Path, demo_dir: Path) -> Iterator[dict[str, str]]:
    """The Evidently UI and the app (started the way `evmon app` starts it) on the workspace."""
    from evmon.app.launch import health_url, start_app

    logs = browser_workspace.parent
    ui_port, app_port = free_port(), free_port()
    ui_url = f"http://127.0.0.1:{ui_port}"
    ui = start_ui(browser_workspace, "127.0.0.1", ui_port, log_path=logs / "ui.log")
    app = start_app(
        demo_dir / "projects.yaml",
        port=app_port,
        ui_url=ui_url,
        workspace=browser_workspace,
        log_path=logs / "app.log",
    )
    try:
        wait_ready(health_url("127.0.0.1", app_port), app, timeout=120)
        wait_ready(ui_url + "/api/projects", ui, timeout=180)
        yield {"app": f"http://127.0.0.1:{app_port}", "ui": ui_url}
    finally:
        stop(app)
        stop(ui)


@pytest.fixture(scope="module")
def outside() -> list[str]:
    """Every request the browser made to anything but 127.0.0.1 (checked after each test)."""
    return []


@pytest.fixture(scope="module")
def page(servers: dict[str, str], outside: list[str]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.on("request", lambda r: None if r.url.startswith(LOCAL) else outside.append(r.url))
            tab = context.new_page()
            tab.set_default_timeout(60_000)
            tab.goto(days_page(servers["app"]))
            tab.get_by_text("daily snapshots").first.wait_for(timeout=120_000)
            yield tab
        finally:
            browser.close()


@pytest.fixture(autouse=True)
def offline(outside: list[str]) -> Iterator[None]:
    yield
    assert outside == [], f"requests left 127.0.0.1: {outside[:5]}"


def _shoot(page: Any, name: str, height: int) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    settled(page)
    page.set_viewport_size({"width": 1400, "height": height})
    page.wait_for_timeout(1500)  # let the data grids and charts paint
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})


def test_pick_a_project_and_see_its_days(page: Any) -> None:
    choose(page, "Project", TAXI)
    page.get_by_role("heading", name=f"{TAXI}: Days").wait_for()
    page.get_by_text("5 daily snapshots, 2026-03-27 to 2026-03-31.").wait_for()
    choose(page, "Project", CREDIT)
    page.get_by_role("heading", name=f"{CREDIT}: Days").wait_for()
    page.get_by_text("7 daily snapshots, 2026-03-10 to 2026-03-31.").wait_for()
    _shoot(page, "days", 1000)


def test_compare_a_shifted_day_with_the_week_before(
    page: Any, servers: dict[str, str], shift_days: tuple[date, date]
) -> None:
    clean, shifted = shift_days
    view(page, "Compare two days")
    choose(page, "Day B", f"{shifted.isoformat()} ({shifted:%a})")
    page.get_by_text("Day A: the same weekday a week before B").click()
    page.get_by_text(f"Day A: {clean.isoformat()} ({clean:%a})").first.wait_for()
    settled(page)
    flipped = page.locator('[data-testid="stAlert"]').filter(has_text="Verdict flipped")
    assert "ExternalRiskEstimate not drifted → drifted" in flipped.inner_text()
    _shoot(page, "compare", 2300)
    link = page.get_by_role("link", name="Open day B in the Evidently UI").get_attribute("href")
    sid = daily_snapshot_id(CREDIT, shifted)
    assert link == f"{servers['ui']}/projects/{project_id(CREDIT)}/reports/{sid}"
    ui_page = page.context.new_page()
    try:
        ui_page.goto(link)
        ui_page.get_by_text("Dataset Drift").first.wait_for(timeout=120_000)  # Evidently's own report view
        ui_page.get_by_text(str(sid)).first.wait_for()
    finally:
        ui_page.close()


def test_compare_shows_the_estimate_of_an_unlabelled_day_and_its_record(page: Any, browser_workspace: Path) -> None:
    """Day B without labels shows its ROC AUC estimated, with its band, and the estimate's record beside it."""
    labelled = DEMO_END - timedelta(days=3)
    view(page, "Compare two days")
    week = page.locator('[data-testid="stCheckbox"]').filter(has_text="Day A: the same weekday a week before B")
    if week.locator("input").is_checked():  # the toggle the previous test turned on
        page.get_by_text("Day A: the same weekday a week before B").click()
        settled(page)
    choose(page, "Day B", f"{DEMO_END.isoformat()} ({DEMO_END:%a})")
    settled(page)
    choose(page, "Day A", f"{labelled.isoformat()} ({labelled:%a})")
    settled(page)
    snapshot = FilesWorkspace(browser_workspace).read_snapshot(project_id(CREDIT), daily_snapshot_id(CREDIT, DEMO_END))
    auc = {
        r.value_kind: r.value
        for r in flatten(snapshot)
        if r.metric_type == "EstimatedQuality" and (r.label, r.segment) == ("roc_auc", "default")
    }
    assert set(auc) == {"estimate", "lower", "upper", "empirical_lower", "empirical_upper", "level"}  # no labels yet
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="ROC AUC, day B (estimated)")
    metric.wait_for()  # the band shown is the empirical one
    assert f"{auc['estimate']:.3f} [{auc['empirical_lower']:.3f}, {auc['empirical_upper']:.3f}]" in metric.inner_text()
    page.locator('[data-testid="stMetric"]').filter(has_text="ROC AUC, day A (realized)").wait_for()
    record = re.compile(r"estimate's record: median gap 0\.\d{3} over 4 labelled days, \d{1,3}% inside the band")
    page.get_by_text(record).first.wait_for()
    page.get_by_text("mixed: A realized, B estimated").first.wait_for()
    _shoot(page, "compare_estimated", 2300)


def test_whatif_with_a_lower_threshold_then_save(
    page: Any, browser_workspace: Path, shift_days: tuple[date, date]
) -> None:
    shifted = shift_days[1]
    workspace = FilesWorkspace(browser_workspace)
    pid = project_id(CREDIT)
    stored = snapshot_values(workspace.read_snapshot(pid, daily_snapshot_id(CREDIT, shifted)))
    view(page, "What-if")
    set_date(page, "First day", shifted)
    settled(page)
    set_date(page, "Last day", shifted)
    settled(page)
    threshold = page.get_by_label(re.compile(r"^Threshold"))
    threshold.fill("0.03")
    threshold.press("Enter")
    page.wait_for_timeout(500)
    settled(page)
    page.get_by_role("button", name="Run what-if").click()
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Drifted columns (what-if)")
    metric.wait_for(timeout=180_000)
    page.get_by_text(f"What-if {shifted}..{shifted} against project reference").wait_for()
    count = int(re.search(r"(\d+) of 9", metric.inner_text()).group(1))  # type: ignore[union-attr]
    assert stored.evidently_drifted_count == 2
    assert count > stored.evidently_drifted_count  # the lower threshold flags more columns
    expected = sum(1 for c in stored.columns.values() if c.drift_score is not None and c.drift_score >= 0.03)
    assert count == expected  # the same scores, under Evidently's rule with the new threshold
    report = page.frame_locator("iframe").first
    report.get_by_text("Dataset Drift").first.wait_for(timeout=60_000)  # the full report, inline
    before = {f.snapshot_id for f in workspace.list_snapshots(pid)}
    page.get_by_role("button", name="Save as what-if").click()
    saved = page.locator('[data-testid="stAlert"]').filter(has_text="Saved as what-if snapshot")
    saved.wait_for()
    sid = uuid.UUID(re.search(r"snapshot ([0-9a-f-]{36})", saved.inner_text()).group(1))  # type: ignore[union-attr]
    assert {f.snapshot_id for f in workspace.list_snapshots(pid)} == {*before, sid}
    header = workspace.read_snapshot_header(pid, sid)
    assert header["tags"] == ["whatif"]
    assert header["metadata"]["evmon_kind"] == "whatif" and header["metadata"]["window"] == f"{shifted}..{shifted}"
    _shoot(page, "whatif", 2700)


def test_rerun_two_scheduled_days(page: Any, browser_workspace: Path) -> None:
    workspace = FilesWorkspace(browser_workspace)
    pid = project_id(TAXI)
    days = [DEMO_END - timedelta(days=1), DEMO_END]
    before = {f.snapshot_id: f.mtime_ns for f in workspace.list_snapshots(pid)}
    originals = {f.snapshot_id: f.path.read_bytes() for f in workspace.list_snapshots(pid)}
    choose(page, "Project", TAXI)
    view(page, "Re-run days")
    page.get_by_text("2 day(s); 2 of them have a daily snapshot now").wait_for()
    page.get_by_role("button", name="Re-run 2 day(s)").click()
    page.get_by_text(f"{TAXI}: 2 days: 2 ok").wait_for(timeout=240_000)
    after = {f.snapshot_id: f.mtime_ns for f in workspace.list_snapshots(pid)}
    assert set(after) == set(before)  # still one snapshot per day
    for day in days:
        sid = daily_snapshot_id(TAXI, day)
        assert after[sid] > before[sid]
        assert workspace.read_snapshot_header(pid, sid)["metadata"]["day"] == day.isoformat()
    # the other days were not re-run, only compacted after it (old by the real clock): originals archived
    others = set(before) - {daily_snapshot_id(TAXI, d) for d in days}
    assert all(workspace.archived_bytes(pid, s) == originals[s] for s in others)
    _shoot(page, "rerun", 1000)
