"""Debian's Chromium for the browser tests (Playwright drives it; no browser download).

Without it a browser test skips with the reason, on a developer's machine; under CI=true (what
.ci/run sets) it runs and fails instead, so a CI machine without the browser cannot pass quietly.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
NO_CHROMIUM = "Debian's chromium is not installed (apt-get install chromium)"
IN_CI = os.environ.get("CI", "").lower() == "true"
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists() and not IN_CI, reason=NO_CHROMIUM)


def launch_chromium(playwright: object) -> object:
    """Debian's Chromium, headless, with the flags this machine needs (no outside connections)."""
    assert CHROMIUM.exists(), f"{CHROMIUM}: {NO_CHROMIUM}"
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)  # type: ignore[attr-defined]
