"""The compare view's Fairness and Outliers sections in a real browser (Debian's Chromium, Playwright).

Three real days of a small generated project with fairness and outliers on (tests/compare/bias_days.py);
the app is started as `evmon app` starts it. Expected values come straight from the snapshot files'
flattened rows, not from evmon.compare.bias. The flow leaves a screenshot (EVMON_SCREENSHOTS, as
tests/app/test_browser.py).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evmon.processes import free_port, stop, wait_ready
from evmon.snapshot.flatten import flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from tests.app.browser import choose, days_page, settled, view
from tests.browser import launch_chromium, needs_chromium
from tests.compare.bias_days import DAY_A, DAY_B, bias_project, run_days

SCREENSHOTS = Path(os.environ.get("EVMON_SCREENSHOTS") or tempfile.mkdtemp(prefix="evmon-screenshots-"))

pytestmark = [needs_chromium, pytest.mark.xdist_group("app_browser_bias")]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    from evmon.app.launch import health_url, start_app

    folder = tmp_path_factory.mktemp("bias_app")
    config = bias_project(folder)
    run_days(config)
    port = free_port()
    process = start_app(
        folder / "projects.yaml",
        port=port,
        ui_url=f"http://127.0.0.1:{free_port()}",
        workspace=config.resolve(config.workspace),
        log_path=folder / "app.log",
    )
    try:
        wait_ready(health_url("127.0.0.1", port), process, timeout=120)
        yield f"http://127.0.0.1:{port}", config.resolve(config.workspace)
    finally:
        stop(process)


def stored(folder_ws: FilesWorkspace, day: Any) -> dict[tuple[str, str | None, str | None, str], float | None]:
    """(metric type, column, group, value kind) -> value, from the day's snapshot file."""
    snapshot = folder_ws.read_snapshot(project_id("synth"), daily_snapshot_id("synth", day))
    return {(r.metric_type, r.column, r.label, r.value_kind): r.value for r in flatten(snapshot)}


def row_text(page: Any, has_text: str, *expected: str) -> str:
    """The first table row holding `has_text`, once it holds every `expected` text (Streamlit replaces a
    rerun's tables one by one: a table below may still show the previous day for a moment), or after 30 s."""
    row = page.locator('[data-testid="stTable"] tr').filter(has_text=has_text).first
    deadline = time.monotonic() + 30
    while not all(text in row.inner_text() for text in expected) and time.monotonic() < deadline:
        time.sleep(0.2)
    return str(row.inner_text())


def test_the_compare_view_shows_fairness_and_outliers_with_deltas(app: tuple[str, Path]) -> None:
    from playwright.sync_api import sync_playwright

    url, root = app
    workspace = FilesWorkspace(root)
    a, b = stored(workspace, DAY_A), stored(workspace, DAY_B)
    ratio = ("FairnessValue", "channel", None, "demographic_parity_ratio")
    income = ("OutRangeValueCount", "income", None, "share")
    forest = next(k for k in b if k[0] == "MultivariateOutlierCount" and k[3] == "share")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.set_default_timeout(60_000)
            page.goto(days_page(url))
            page.get_by_text("daily snapshots").first.wait_for(timeout=120_000)
            view(page, "Compare two days")
            choose(page, "Day B", f"{DAY_B.isoformat()} ({DAY_B:%a})")
            settled(page)
            choose(page, "Day A", f"{DAY_A.isoformat()} ({DAY_A:%a})")
            settled(page)
            page.get_by_text(f"Day A: {DAY_A.isoformat()} ({DAY_A:%a})").first.wait_for()
            page.get_by_role("heading", name="Fairness, by largest change").wait_for()
            page.get_by_role("heading", name="Outliers, by largest change").wait_for()

            metric = page.locator('[data-testid="stMetric"]').filter(has_text="Disparate impact by channel (B)")
            assert a[ratio] is not None and b[ratio] is not None
            assert f"{b[ratio]:.4f}" in metric.inner_text()
            assert f"{abs(b[ratio] - a[ratio]):.4f}" in metric.inner_text()  # the size; the arrow gives the sign
            wanted = (f"{a[ratio]:.4f}", f"{b[ratio]:.4f}", f"{b[ratio] - a[ratio]:+.4f}", "between groups")
            row = row_text(page, "disparate impact", *wanted)
            for text in wanted:
                assert text in row, (text, row)
            partner = row_text(page, "partner")  # a group new on B, under min_rows
            assert "n/a" in partner and "not ranked" in partner
            assert a[income] is not None and b[income] is not None
            wanted = (f"{a[income]:.4f}", f"{b[income]:.4f}", f"{b[income] - a[income]:+.4f}")
            row = row_text(page, "income", *wanted)
            for text in wanted:
                assert text in row, (text, row)
            cost = ("OutlierQuality", None, "outliers", "accuracy")  # the model's accuracy on the outlier rows
            assert a[cost] is not None and b[cost] is not None
            wanted = (f"{a[cost]:.4f}", f"{b[cost]:.4f}", f"{b[cost] - a[cost]:+.4f}", "model accuracy")
            row = row_text(page, "outlier rows (IsolationForest)", *wanted)
            for text in wanted:
                assert text in row, (text, row)
            shares = page.locator('[data-testid="stMetric"]').filter(has_text="Multivariate outlier share (B)")
            assert f"{b[forest]:.4f}" in shares.inner_text()

            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.set_viewport_size({"width": 1400, "height": 1500})
            heading = page.get_by_role("heading", name="Fairness, by largest change")
            heading.evaluate("el => el.scrollIntoView({block: 'start'})")
            page.wait_for_timeout(1500)
            page.screenshot(path=str(SCREENSHOTS / "compare_bias_generated.png"))
        finally:
            browser.close()
