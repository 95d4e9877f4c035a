"""Who may write through a reverse proxy, and which names reach the app at all: a real nginx in front
of the real `evmon app --host 127.0.0.1`, in Chromium.

nginx is configured as a team would for Streamlit (the browser's Host passed on, WebSockets
upgraded), with and without X-Forwarded-For. Chromium resolves rebind.example to 127.0.0.1, as an
attacker's DNS would after its page loaded (DNS rebinding); no request leaves this machine.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from evmon.processes import free_port
from tests.app.browser import days_page, settled, view
from tests.app.conftest import TAXI
from tests.app.nginx import needs_nginx, nginx
from tests.app.servers import HOST, evmon_app
from tests.browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium

REBIND = "rebind.example"
HINT = (
    "re-runs and saves from other machines need app.writes: true in projects.yaml "
    "(with a login and app.writers to say who)"
)

pytestmark = [needs_chromium, needs_nginx, pytest.mark.xdist_group("app_proxy")]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        rules = f"--host-resolver-rules=MAP {REBIND} 127.0.0.1"  # the attacker's DNS, rebound
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, rules])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture()
def context(browser: Any) -> Iterator[Any]:
    """A browser context; after the test, no request may have gone anywhere but this machine."""
    local = ["http://127.0.0.1", "ws://127.0.0.1", f"http://{REBIND}", f"ws://{REBIND}", "data:", "blob:", "about:"]
    local += [f"http://{HOST}", f"ws://{HOST}"] if HOST else []
    outside: list[str] = []
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.on("request", lambda r: None if r.url.startswith(tuple(local)) else outside.append(r.url))
    yield context
    context.close()
    assert outside == [], f"requests left this machine: {outside[:5]}"


def rerun_view(context: Any, url: str) -> Any:
    """The app at `url` on the Re-run days view of the taxi project, settled."""
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(days_page(url))
    page.get_by_text("daily snapshots").first.wait_for(timeout=120_000)
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Project").click()
    page.get_by_role("option", name=TAXI, exact=True).click()
    view(page, "Re-run days")
    page.get_by_text("2 day(s); 2 of them have a daily snapshot now").wait_for()
    settled(page)
    return page


def read_only(page: Any) -> list[str]:
    """The read-only lines shown (none when writes are allowed)."""
    return [str(t) for t in page.locator('[data-testid="stAlert"]').filter(has_text="Read-only").all_inner_texts()]


def rerun_buttons(page: Any) -> int:
    return int(page.get_by_role("button").filter(has_text="Re-run").count())


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_through_a_proxy_the_app_is_read_only_and_on_this_machine_it_writes(
    context: Any, app_workspace: Path, demo_dir: Path, tmp_path: Path
) -> None:
    """The report: nginx on this machine in front of `evmon app --host 127.0.0.1` showed every
    client of the proxy the Re-run button. Now each session is decided from its own connection."""
    with evmon_app(demo_dir / "projects.yaml", app_workspace, "127.0.0.1") as (url, log):
        port, bare, forwarding = port_of(url), free_port(), free_port()
        with (
            nginx(tmp_path / "bare", port, [("127.0.0.1", bare)], forward=False),
            nginx(tmp_path / "forwarding", port, [("127.0.0.1", forwarding)], forward=True),
        ):
            proxied = rerun_view(context, f"http://127.0.0.1:{bare}")
            assert read_only(proxied) == [
                f"Read-only: this browser asked for 127.0.0.1:{bare}, not the app's port {port}: "
                f"a proxy or a port forward is between; {HINT}"
            ]
            assert rerun_buttons(proxied) == 0
            forwarded = rerun_view(context, f"http://127.0.0.1:{forwarding}")
            assert read_only(forwarded) == [
                "Read-only: a proxy at 127.0.0.1 forwards it (X-Forwarded-For) and app.trusted_proxies does not "
                f"list 127.0.0.1; {HINT}"
            ]
            assert rerun_buttons(forwarded) == 0
            direct = rerun_view(context, url)  # the same app at the same time, without the proxy
            assert read_only(direct) == []
            assert direct.get_by_role("button", name="Re-run 2 day(s)").count() == 1
            assert "_streamlit_xsrf" in {c["name"] for c in context.cookies()}  # XSRF protection stays on
    printed = Path(log).read_text()
    assert "evmon app: writes allowed: the app listens on 127.0.0.1 (loopback), for browsers on this machine" in printed
    assert "evmon app: answers requests for localhost, 127.0.0.1, ::1 (others get 403" in printed


@pytest.mark.skipif(HOST is None, reason="this machine has no non-loopback IPv4 address")
def test_a_trusted_proxy_passes_on_where_the_browser_is(
    context: Any, app_workspace: Path, config_with_app: Callable[[str], Path], tmp_path: Path
) -> None:
    """With app.trusted_proxies, the proxy's X-Forwarded-For decides: a browser on its machine writes,
    one from another address (this machine's network address, to nginx) reads."""
    config = config_with_app(f"  trusted_proxies: [127.0.0.1]\n  allowed_hosts: [{HOST}]\n")
    with evmon_app(config, app_workspace, "127.0.0.1") as (url, log):
        proxy_port = free_port()
        with nginx(tmp_path / "nginx", port_of(url), [("127.0.0.1", proxy_port), (HOST, proxy_port)], forward=True):
            here = rerun_view(context, f"http://127.0.0.1:{proxy_port}")
            assert read_only(here) == []
            assert here.get_by_role("button", name="Re-run 2 day(s)").count() == 1
            elsewhere = rerun_view(context, f"http://{HOST}:{proxy_port}")
            assert read_only(elsewhere) == [
                f"Read-only: the proxy 127.0.0.1 forwards it from {HOST}, another machine; {HINT}"
            ]
            assert rerun_buttons(elsewhere) == 0
    printed = Path(log).read_text()
    assert f"evmon app: answers requests for localhost, 127.0.0.1, ::1, {HOST} (others get 403" in printed
    assert "evmon app: believes the forwarded headers of 127.0.0.1 (app.trusted_proxies)" in printed


def handshake(port: int, host: str, origin: str | None) -> str:
    """The status line the app answers a WebSocket upgrade of /_stcore/stream with."""
    lines = [
        "GET /_stcore/stream HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        *([f"Origin: {origin}"] if origin else []),
    ]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return sock.recv(4096).decode("latin-1").split("\r\n", 1)[0]


def test_a_rebound_name_gets_no_page_and_no_websocket(context: Any, app_workspace: Path, demo_dir: Path) -> None:
    """DNS rebinding: the attacker's name, now pointing at 127.0.0.1, is refused before any upgrade."""
    with evmon_app(demo_dir / "projects.yaml", app_workspace, "127.0.0.1") as (url, _):
        port = port_of(url)
        refused, switched = "HTTP/1.1 403 Forbidden", "HTTP/1.1 101 Switching Protocols"
        assert handshake(port, f"{REBIND}:{port}", f"http://{REBIND}:{port}") == refused  # the report's request
        assert handshake(port, f"127.0.0.1:{port}", "http://evil.example") == refused  # another site's page
        assert handshake(port, f"127.0.0.1:{port}", f"http://127.0.0.1:{port}") == switched
        assert handshake(port, f"localhost:{port}", None) == switched  # no Origin: not a browser
        page = context.new_page()
        response = page.goto(f"http://{REBIND}:{port}/")
        assert response is not None and response.status == 403
        line = (
            f"evmon app: refused a request: Host '{REBIND}:{port}' is not a name of this app "
            "(allowed: localhost, 127.0.0.1, ::1); add the name browsers use to app.allowed_hosts in projects.yaml"
        )
        assert page.locator("body").inner_text().strip() == line
        assert page.locator('[data-testid="stApp"]').count() == 0  # no app, so no WebSocket either
