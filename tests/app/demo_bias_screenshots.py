"""The documentation's fairness and outlier screenshots, taken on the demo (not a test; run it by hand).

    .venv/bin/python -m tests.app.demo_bias_screenshots docs/screenshots

Computes credit_scorecard's days 2026-03-09 .. 2026-03-31 of the tests' demo data (E = 2026-03-31) into
a tmp workspace, starts the real `evidently ui` and the app, and writes ui_fairness.png and
ui_outliers.png (the dashboard's fairness and outlier panels) and compare_bias.png (Compare two days:
a clean day, 2026-03-13, against the first fairness-gap day, 2026-03-20).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

from evmon.config.loader import load_config
from evmon.demo.data import ensure_demo_data
from evmon.processes import free_port, stop, wait_ready
from evmon.run.batch import DayTask
from evmon.run.many import run_many
from evmon.services.ui import start_ui
from evmon.snapshot.ids import project_id
from evmon.storage.files import FilesWorkspace
from tests.app.browser import choose, settled, view
from tests.browser import launch_chromium
from tests.conftest import DEMO_END, DEMO_TODAY, REPO

FIRST, CLEAN, FAIRNESS_GAP = date(2026, 3, 9), date(2026, 3, 13), date(2026, 3, 20)


def build(folder: Path) -> Path:
    shutil.copy(REPO / "projects.yaml", folder / "projects.yaml")
    ensure_demo_data(folder / "demo_data", end=DEMO_END)
    config = load_config(folder / "projects.yaml")
    project = config.project("credit_scorecard")
    days = [FIRST + timedelta(days=i) for i in range((DEMO_END - FIRST).days + 1)]
    tasks = [DayTask(project, d) for d in days]
    results = run_many(config, tasks, workspace=FilesWorkspace(folder / "workspace"), workers=2, today=DEMO_TODAY)
    assert all(r.outcome == "ok" for r in results), [r.line() for r in results]
    return folder / "workspace"


def shoot(folder: Path, workspace: Path, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    from evmon.app.launch import health_url, start_app

    ui_port, app_port = free_port(), free_port()
    ui = start_ui(workspace, port=ui_port, log_path=folder / "ui.log")
    ui_url = f"http://127.0.0.1:{ui_port}"
    app = start_app(
        folder / "projects.yaml", port=app_port, ui_url=ui_url, workspace=workspace, log_path=folder / "app.log"
    )
    try:
        wait_ready(f"{ui_url}/api/version", ui, timeout=120)
        wait_ready(health_url("127.0.0.1", app_port), app, timeout=120)
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_context(viewport={"width": 1500, "height": 1300}).new_page()
            page.set_default_timeout(90_000)
            page.goto(f"{ui_url}/projects/{project_id('credit_scorecard')}")
            page.get_by_text("Disparate impact by region").first.wait_for()
            page.wait_for_timeout(6000)

            def top(text: str) -> float:
                where = "el => el.getBoundingClientRect().top + window.scrollY"
                return float(page.get_by_text(text, exact=True).first.evaluate(where)) - 40

            fairness, outliers, after = (
                top("Disparate impact by region"),
                top("Multivariate outlier share"),
                top("F1 score by region"),
            )
            for name, y0, y1 in (("ui_fairness", fairness, outliers), ("ui_outliers", outliers, after)):
                clip = {"x": 0, "y": y0, "width": 1500, "height": y1 - y0}
                page.screenshot(path=str(out / f"{name}.png"), full_page=True, clip=clip)  # type: ignore[arg-type]

            page.goto(f"http://127.0.0.1:{app_port}")
            page.get_by_text("daily snapshots").first.wait_for(timeout=120_000)
            view(page, "Compare two days")
            choose(page, "Day B", f"{FAIRNESS_GAP.isoformat()} ({FAIRNESS_GAP:%a})")
            settled(page)
            choose(page, "Day A", f"{CLEAN.isoformat()} ({CLEAN:%a})")
            settled(page)
            heading = page.get_by_role("heading", name="Fairness, by largest change")
            heading.wait_for()
            page.set_viewport_size({"width": 1400, "height": 1500})
            heading.evaluate("el => el.scrollIntoView({block: 'start'})")
            page.wait_for_timeout(2000)
            page.screenshot(path=str(out / "compare_bias.png"))
            browser.close()
    finally:
        stop(app)
        stop(ui)


if __name__ == "__main__":
    os.environ["DO_NOT_TRACK"] = "1"
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots").absolute()
    with tempfile.TemporaryDirectory(prefix="evmon-bias-shots-") as tmp:
        shoot(Path(tmp), build(Path(tmp)), target)
    print(f"written: {target}/ui_fairness.png, ui_outliers.png, compare_bias.png")
