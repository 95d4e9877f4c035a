"""Driving the app in Debian's Chromium with Playwright: the browser's flags and the page helpers."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError


def choose(page: Any, label: str, option: str, attempts: int = 4) -> None:
    """Pick `option` in the select box `label`. A rerun that re-renders the box closes its open list
    (on a loaded machine the last one can end just as it opens): then open it again."""
    choice = page.get_by_role("option", name=option, exact=True)
    for attempt in range(attempts):
        page.locator('[data-testid="stSelectbox"]').filter(has_text=label).click()
        try:
            choice.wait_for(timeout=15_000)
        except PlaywrightTimeoutError:  # the list closed or never opened
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")
            settled(page)
            continue
        choice.click()
        return


def set_date(page: Any, label: str, day: date) -> None:
    """Paste a date into a date field: the field commits a pasted full date at once."""
    segment = page.get_by_role("spinbutton", name=f"year, {label}")
    segment.evaluate(
        """(el, text) => { const data = new DataTransfer(); data.setData('text/plain', text);
        el.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true})); }""",
        day.strftime("%Y/%m/%d"),
    )


def settled(page: Any) -> None:
    """Wait until the script run is over: no running indicator, no element left over from the last run."""
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stStatusWidgetRunningIcon"]')
            && !document.querySelector('[data-stale="true"]')"""
    )


def view(page: Any, name: str) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_text(name, exact=True).click()
    page.get_by_role("heading", name=re.compile(f": {name}$")).wait_for()
    settled(page)


def days_page(url: str) -> str:
    """The app at `url` opened on the Days view (the app opens on the Fleet page)."""
    return url.rstrip("/") + "/?view=Days"
