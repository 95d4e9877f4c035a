"""Who may write, in a real browser: `evmon app` on this machine's own network address, and a login.

The app is started by the real command (`evmon app --host <this machine's non-loopback
address>`, with and without --allow-writes) or, for the login, the way `evmon app` starts it
with an [auth] section in .streamlit/secrets.toml beside projects.yaml. Its provider points at
a closed port on 127.0.0.1: no sign-in can complete here, and no request may leave this machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from evmon.processes import free_port, stop, wait_ready
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from evmon.storage.runlog import RunLog
from tests.app.browser import choose, days_page, set_date, settled, view
from tests.app.conftest import TAXI
from tests.app.servers import HOST, evmon_app
from tests.browser import launch_chromium, needs_chromium
from tests.conftest import DEMO_END

AUTH = """[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "a-test-cookie-secret-that-is-long-enough"
client_id = "evmon-test"
client_secret = "not-a-secret"
server_metadata_url = "http://127.0.0.1:9/.well-known/openid-configuration"
"""

pytestmark = [
    needs_chromium,
    pytest.mark.xdist_group("app_access"),  # its own servers: free to run beside test_browser.py
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture()
def open_page(browser: Any) -> Iterator[Callable[[str], Any]]:
    """A page on the app at `url`; after the test, no request may have left this machine."""
    local = ("http://127.0.0.1", "ws://127.0.0.1", f"http://{HOST}", f"ws://{HOST}", "data:", "blob:", "about:")
    outside: list[str] = []
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.on("request", lambda r: None if r.url.startswith(local) else outside.append(r.url))

    def open_at(url: str) -> Any:
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(days_page(url))
        page.get_by_text("daily snapshots").first.wait_for(timeout=120_000)
        return page

    yield open_at
    context.close()
    assert outside == [], f"requests left this machine: {outside[:5]}"


def _read_only_line(page: Any) -> str:
    return str(page.locator('[data-testid="stAlert"]').filter(has_text="Read-only").inner_text())


@pytest.mark.skipif(HOST is None, reason="this machine has no non-loopback IPv4 address")
def test_on_its_network_address_the_app_is_read_only(open_page: Any, app_workspace: Path, demo_dir: Path) -> None:
    assert HOST is not None
    before = {f.snapshot_id: f.mtime_ns for f in FilesWorkspace(app_workspace).list_snapshots(project_id(TAXI))}
    with evmon_app(demo_dir / "projects.yaml", app_workspace, HOST) as (url, log):
        page = open_page(url)
        choose(page, "Project", TAXI)
        view(page, "Re-run days")
        page.get_by_text("2 day(s); 2 of them have a daily snapshot now").wait_for()
        assert _read_only_line(page) == (
            f"Read-only: the app listens on {HOST}, reachable from other machines; start it with "
            "evmon app --allow-writes or set app.writes: true in projects.yaml to allow re-runs and saves"
        )
        assert page.get_by_role("button", name="Re-run 2 day(s)").count() == 0
        page.screenshot(path=str(app_workspace.parent / "read-only.png"))  # evidence, in the test's tmp folder
        assert page.get_by_role("button").filter(has_text="Re-run").count() == 0
        view(page, "What-if")
        assert page.get_by_role("button", name="Run what-if").count() == 1  # computing writes nothing
    printed = Path(log).read_text()  # complete once the command has exited
    assert f"evmon app: read-only: the app listens on {HOST}, reachable from other machines" in printed
    after = {f.snapshot_id: f.mtime_ns for f in FilesWorkspace(app_workspace).list_snapshots(project_id(TAXI))}
    assert after == before


@pytest.mark.skipif(HOST is None, reason="this machine has no non-loopback IPv4 address")
def test_allow_writes_lets_a_rerun_replace_the_snapshot(open_page: Any, app_workspace: Path, demo_dir: Path) -> None:
    assert HOST is not None
    workspace = FilesWorkspace(app_workspace)
    pid, sid = project_id(TAXI), daily_snapshot_id(TAXI, DEMO_END)
    before = {f.snapshot_id: f.mtime_ns for f in workspace.list_snapshots(pid)}
    originals = {f.snapshot_id: f.path.read_bytes() for f in workspace.list_snapshots(pid)}
    with evmon_app(demo_dir / "projects.yaml", app_workspace, HOST, "--allow-writes") as (url, log):
        page = open_page(url)
        choose(page, "Project", TAXI)
        view(page, "Re-run days")
        set_date(page, "First day", DEMO_END)
        settled(page)
        page.get_by_text("1 day(s); 1 of them have a daily snapshot now").wait_for()
        assert page.locator('[data-testid="stAlert"]').filter(has_text="Read-only").count() == 0
        page.get_by_role("button", name="Re-run 1 day(s)").click()
        page.get_by_text(f"{TAXI}: 1 days: 1 ok").wait_for(timeout=240_000)
    printed = Path(log).read_text()
    assert "evmon app: writes allowed: started with --allow-writes" in printed
    after = {f.snapshot_id: f.mtime_ns for f in workspace.list_snapshots(pid)}
    assert set(after) == set(before) and after[sid] > before[sid]  # replaced, not added
    # the other days were not re-run, only compacted after it (old by the real clock): originals archived
    assert all(workspace.archived_bytes(pid, s) == originals[s] for s in set(before) - {sid})
    (run,) = [r for r in RunLog(workspace.evmon_dir).records(TAXI) if r.trigger == "app"]
    assert (run.day, run.status, run.started_by) == (DEMO_END, "ok", None)  # no login: nobody to name


def test_with_a_login_nobody_signed_in_gets_a_sign_in_line(
    open_page: Any, app_workspace: Path, config_with_app: Callable[[str], Path]
) -> None:
    from evmon.app.launch import health_url, start_app

    config = config_with_app("  writers: [ana@example.org]\n")
    port = free_port()
    (config.parent / ".streamlit").mkdir()
    (config.parent / ".streamlit" / "secrets.toml").write_text(AUTH.format(port=port))
    app = start_app(config, port=port, workspace=app_workspace, log_path=app_workspace.parent / "app.log")
    try:
        wait_ready(health_url("127.0.0.1", port), app, timeout=120)
        page = open_page(f"http://127.0.0.1:{port}")
        choose(page, "Project", TAXI)
        view(page, "Re-run days")
        assert _read_only_line(page).startswith("Read-only until you sign in: re-runs and saves need a signed-in user")
        assert page.get_by_role("button").filter(has_text="Re-run").count() == 0
        page.get_by_role("button", name="Sign in").click()
        error = page.locator('[data-testid="stAlert"]').filter(has_text="Cannot sign in")
        error.wait_for()  # Streamlit's own reason (here: Authlib is not installed), not a traceback
        assert page.locator('[data-testid="stException"]').count() == 0
        page.screenshot(path=str(app_workspace.parent / "sign-in.png"))
    finally:
        stop(app)
