"""evmon.services.clients: which names reach the app, and whether a session's browser is on this machine.

Tables of what a connection can look like: direct, through a proxy that the config does or does
not trust, with forwarded headers a client forged; the real nginx, app and browser are in
tests/app/test_browser_proxy.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evmon.config.loader import load_config
from evmon.errors import ConfigError
from evmon.services.access import decide_write_access
from evmon.services.clients import Client, allowed_hosts, host_refusal, locate_client, split_host

PORT = 8601
LOCAL = ("localhost", "127.0.0.1", "::1")
BETWEEN = "a proxy or a port forward is between"


def direct(host: str = f"127.0.0.1:{PORT}", origin: str | None = f"http://127.0.0.1:{PORT}") -> list[tuple[str, str]]:
    """The headers of a browser's WebSocket to the app itself."""
    return [("Host", host), *([("Origin", origin)] if origin else []), ("Upgrade", "websocket")]


HERE = "this browser is on this machine"


def asked(value: str) -> str:
    return f"this browser asked for {value}, not the app's port {PORT}: {BETWEEN}"


def untrusted(sent: str) -> str:
    return f"a proxy at 127.0.0.1 forwards it ({sent}) and app.trusted_proxies does not list 127.0.0.1"


def remote(proxy: str, address: str) -> str:
    return f"the proxy {proxy} forwards it from {address}, another machine"


def own(proxy: str, address: str) -> str:
    return f"the proxy {proxy} forwards it from {address}, the proxy's own machine"


def xff(*values: str) -> list[tuple[str, str]]:
    return [*direct(), *(("X-Forwarded-For", v) for v in values)]


LO = ("127.0.0.1",)
FAR = "198.51.100.4"


@pytest.mark.parametrize(
    ("peer", "headers", "trusted", "local", "where"),
    [
        # a browser on this machine, straight to the app (Streamlit gives None for 127.0.0.1 and ::1)
        (None, direct(), (), True, HERE),
        (None, direct(f"localhost:{PORT}", f"http://localhost:{PORT}"), (), True, HERE),
        ("127.0.0.2", direct(), (), True, HERE),
        (None, direct(origin=None), (), True, HERE),  # not a browser: no Origin
        # the report: nginx on this machine, `Host $http_host`, no forwarded header
        (None, direct("127.0.0.1:8080", "http://127.0.0.1:8080"), (), False, asked("127.0.0.1:8080")),
        (None, direct("evmon.example.org", "https://evmon.example.org"), (), False, asked("evmon.example.org")),
        # nginx's default `Host $proxy_host`: the Host looks direct, the browser's Origin does not
        (None, direct(origin="https://evmon.example.org"), (), False, asked("https://evmon.example.org")),
        # any forwarded header from a proxy nobody listed
        (None, xff("127.0.0.1"), (), False, untrusted("X-Forwarded-For")),
        (None, [*direct(), ("Via", "1.1 proxy"), ("X-Real-IP", "127.0.0.1")], (), False, untrusted("X-Real-IP, Via")),
        (None, xff("127.0.0.1"), ("10.0.0.0/8",), False, untrusted("X-Forwarded-For")),
        # another machine, whatever it says
        ("192.0.2.7", direct(), (), False, "this browser connects from 192.0.2.7, another machine"),
        ("192.0.2.7", xff("127.0.0.1"), (), False, "this browser connects from 192.0.2.7, another machine"),
        # a trusted proxy: where it says the browser is
        (None, xff("127.0.0.1"), LO, True, own("127.0.0.1", "127.0.0.1")),
        (None, xff("::1"), ("::1",), True, own("127.0.0.1", "::1")),
        (None, xff(FAR), LO, False, remote("127.0.0.1", FAR)),
        ("10.1.2.3", xff(FAR), ("10.0.0.0/8",), False, remote("10.1.2.3", FAR)),
        (
            "10.1.2.3",
            [*direct(), ("Forwarded", 'for="[::1]:4711";proto=https')],
            ("10.0.0.0/8",),
            True,
            own("10.1.2.3", "::1"),
        ),
        # forged: nginx appends the real address ($proxy_add_x_forwarded_for); the nearest untrusted one counts
        (None, xff(f"127.0.0.1, {FAR}"), LO, False, remote("127.0.0.1", FAR)),
        (None, xff("127.0.0.1", FAR), LO, False, remote("127.0.0.1", FAR)),
        # ... and every header naming the browser must say this machine: a forged X-Real-IP passed on
        (None, [*xff(FAR), ("X-Real-IP", "127.0.0.1")], LO, False, remote("127.0.0.1", FAR)),
        (None, xff("unknown"), LO, False, remote("127.0.0.1", "unknown")),
        (
            None,
            [*direct(), ("X-Forwarded-Proto", "https")],
            LO,
            False,
            "the proxy 127.0.0.1 does not say whom it forwards (no X-Forwarded-For, Forwarded or X-Real-IP)",
        ),
        # a trusted proxy's address without a forwarded header is just a browser there
        (None, direct(), LO, True, HERE),
    ],
)
def test_where_the_browser_is(
    peer: str | None, headers: list[tuple[str, str]], trusted: tuple[str, ...], local: bool, where: str
) -> None:
    assert locate_client(peer, headers, port=PORT, trusted_proxies=trusted) == Client(local, where)


@pytest.mark.parametrize(
    ("host", "origin", "refusal"),
    [
        (f"127.0.0.1:{PORT}", f"http://127.0.0.1:{PORT}", None),
        (f"localhost:{PORT}", f"http://localhost:{PORT}", None),
        (f"[::1]:{PORT}", f"http://[::1]:{PORT}", None),
        (f"LocalHost.:{PORT}", None, None),
        ("evmon.example.org", "https://evmon.example.org", None),  # listed in app.allowed_hosts
        # DNS rebinding: the attacker's name, pointing at 127.0.0.1 now; its page's Origin matches its Host
        (
            f"rebind.example:{PORT}",
            f"http://rebind.example:{PORT}",
            f"Host 'rebind.example:{PORT}' is not a name of this app",
        ),
        # another site's page opening a WebSocket to the app
        (f"127.0.0.1:{PORT}", "http://evil.example", "Origin 'http://evil.example' is not a name of this app"),
        (f"127.0.0.1:{PORT}", "null", "Origin 'null' is not a name of this app"),
        (None, None, "it names no Host"),
        ("user@127.0.0.1", None, "Host 'user@127.0.0.1' is not a name of this app"),
        ("127.0.0.1:99999", None, "Host '127.0.0.1:99999' is not a name of this app"),
        ("127.0.0.1/x", None, "Host '127.0.0.1/x' is not a name of this app"),
    ],
)
def test_only_the_apps_own_names_reach_it(host: str | None, origin: str | None, refusal: str | None) -> None:
    assert host_refusal(host, origin, allowed_hosts("127.0.0.1", ["evmon.example.org"])) == refusal


def test_the_allowed_names_are_the_bound_address_localhost_and_the_configured_ones() -> None:
    assert allowed_hosts("127.0.0.1") == LOCAL
    assert allowed_hosts("192.0.2.2", ["Evmon.Example.org", "[2001:db8::1]"]) == (
        *LOCAL,
        "192.0.2.2",
        "evmon.example.org",
        "2001:db8::1",
    )
    everywhere = allowed_hosts("0.0.0.0")  # all interfaces: this machine's name and addresses too
    assert everywhere[:3] == LOCAL and len(everywhere) > 3
    assert split_host("[::1]:8601") == ("::1", 8601) and split_host("a b") is None


def test_the_write_decision_follows_the_browser_not_the_bind_address() -> None:
    def decide(client: Client | None, **kwargs: object) -> str:
        options = {"allow_writes": False, "config_writes": None, "writers": (), "login_configured": False, "user": None}
        options.update(kwargs)
        access = decide_write_access(host="127.0.0.1", client=client, **options)  # type: ignore[arg-type]
        return ("yes: " if access.allowed else "no: ") + access.reason

    here = Client(True, "this browser is on this machine")
    proxied = Client(False, f"this browser asked for 127.0.0.1:8080, not the app's port {PORT}: {BETWEEN}")
    assert decide(None) == "yes: writes allowed: the app listens on 127.0.0.1 (loopback), for browsers on this machine"
    assert (
        decide(here)
        == "yes: writes allowed: the app listens on 127.0.0.1 (loopback) and this browser is on this machine"
    )
    assert decide(proxied) == (
        f"no: read-only: this browser asked for 127.0.0.1:8080, not the app's port {PORT}: {BETWEEN}; re-runs and "
        "saves from other machines need app.writes: true in projects.yaml (with a login and app.writers to say who)"
    )
    assert decide(proxied, config_writes=True) == "yes: writes allowed: app.writes is true in projects.yaml"
    assert decide(proxied, allow_writes=True).startswith("yes: writes allowed: started with --allow-writes")
    assert decide(here, config_writes=False).startswith("no: read-only: app.writes is false")
    login = {"writers": ("ana@example.org",), "login_configured": True, "user": "ana@example.org"}
    assert decide(proxied, **login).startswith("no: read-only: this browser asked for")  # a login opens nothing


def _config(tmp_path: Path, app: dict[str, object]) -> Path:
    path = tmp_path / "projects.yaml"
    project = {
        "name": "churn",
        "source": {"path": "data/*.csv", "timestamp_column": "ts"},
        "reference": {"path": "data/ref.csv"},
        "columns": {"numerical": ["age"]},
        "presets": {"data_drift": True},
    }
    path.write_text(yaml.safe_dump({"projects": [project], "app": app}))
    return path


def test_allowed_hosts_and_trusted_proxies_in_projects_yaml(tmp_path: Path) -> None:
    app = {"allowed_hosts": ["Evmon.Example.org", "192.0.2.2"], "trusted_proxies": ["127.0.0.1", "10.0.0.0/8", "::1"]}
    loaded = load_config(_config(tmp_path, app)).app
    assert loaded.allowed_hosts == ["evmon.example.org", "192.0.2.2"]
    assert loaded.trusted_proxies == ["127.0.0.1", "10.0.0.0/8", "::1"]
    assert (
        load_config(_config(tmp_path, {})).app.allowed_hosts,
        load_config(_config(tmp_path, {})).app.trusted_proxies,
    ) == ([], [])


def test_a_wrong_host_or_proxy_is_one_clear_line_each(tmp_path: Path) -> None:
    path = _config(
        tmp_path,
        {
            "allowed_hosts": ["https://evmon.example.org", "evmon.example.org:443"],
            "trusted_proxies": ["nginx", "10.0.0.0/33"],
        },
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    host = "expected a host name or IP address without scheme or port, such as evmon.example.org"
    proxy = "expected an IP address or network such as 127.0.0.1 or 10.0.0.0/8"
    assert info.value.problems == [
        f"{path}: app.allowed_hosts[0]: {host} (got 'https://evmon.example.org')",
        f"{path}: app.allowed_hosts[1]: {host} (got 'evmon.example.org:443')",
        f"{path}: app.trusted_proxies[0]: {proxy} (got 'nginx')",
        f"{path}: app.trusted_proxies[1]: {proxy} (got '10.0.0.0/33')",
    ]
