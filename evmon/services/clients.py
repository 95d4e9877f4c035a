"""Who is at the other end of one of the app's connections, decided from that connection alone.

Two questions, both pure:
- may a request reach the app at all? Its Host (and Origin, when a browser sends one) must name
  a host in the allow-list: the address the app listens on, localhost, and app.allowed_hosts.
  streamlit_app/serve.py asks it of every request before Streamlit sees it, so a page whose name
  was rebound to 127.0.0.1 (DNS rebinding) gets a 403 and never a WebSocket.
- is this session's browser on this machine? Only if the TCP peer is a loopback address, no
  proxy header (X-Forwarded-For, Forwarded, X-Real-IP, Via, ...) is present and the browser asked
  for the app's own port; or if the peer is a proxy listed in app.trusted_proxies and every
  address it forwards for (the nearest one it does not trust) is a loopback address.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

ALL_INTERFACES = ("", "0.0.0.0", "::")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
# what a proxy adds; a browser talking to the app directly sends none of them
FORWARDING_HEADERS = (
    "forwarded",
    "x-forwarded-for",
    "x-real-ip",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-forwarded-server",
    "via",
)
# the headers that say whom a proxy forwards for; each one present must say "this machine"
FOR_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")

NAME_CHARACTERS = re.compile(r"[a-z0-9._-]+")

Headers = Sequence[tuple[str, str]]  # as received: names in any case, a name may repeat
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def ip(value: str) -> Address | None:
    """An IP address from a header's or a socket's text ('[::1]', 'fe80::1%eth0', '::ffff:1.2.3.4'), or None."""
    text = value.strip().strip('"').strip("[]").split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: addresses no other machine can reach."""
    if host.strip().strip("[]").lower() == "localhost":
        return True
    address = ip(host)
    return address is not None and address.is_loopback


# --- which names browsers may reach the app by ---------------------------------------------------


def split_host(value: str) -> tuple[str, int | None] | None:
    """A Host header's (or an Origin's) host[:port] as (lower-case host, port or None); None if malformed."""
    try:
        parsed = urlsplit(f"//{value.strip()}")
        port = parsed.port
    except ValueError:
        return None
    if not parsed.hostname or parsed.username is not None or parsed.password is not None:
        return None
    if parsed.path or parsed.query or parsed.fragment:
        return None
    name = parsed.hostname.rstrip(".")
    if ip(name) is None and not NAME_CHARACTERS.fullmatch(name):
        return None
    return name, port


def this_machine() -> list[str]:
    """This machine's name and addresses: its name's addresses and the source address of its routes
    (connecting a UDP socket to a documentation address sends nothing)."""
    name = socket.gethostname().lower()
    found = [name]
    with contextlib.suppress(OSError):
        found += [str(info[4][0]) for info in socket.getaddrinfo(name, None)]
    for family, probe in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.connect((probe, 9))
                found.append(str(sock.getsockname()[0]))
        except OSError:
            continue
    return found


def allowed_hosts(bind: str, extra: Sequence[str] = ()) -> tuple[str, ...]:
    """The names a request may give in Host and Origin: localhost, the address the app listens on
    (on all interfaces: this machine's name and addresses), and `extra` (app.allowed_hosts)."""
    names = list(LOOPBACK_NAMES)
    if bind.strip() in ALL_INTERFACES:
        names += this_machine()
    else:
        names.append(bind.strip().strip("[]").lower())
    names += [name.strip().strip("[]").lower() for name in extra]
    return tuple(dict.fromkeys(str(ip(n) or n) for n in names))


def host_refusal(host: str | None, origin: str | None, allowed: Collection[str]) -> str | None:
    """Why a request with this Host and Origin may not reach the app (one phrase), or None if it may."""
    if host is None:
        return "it names no Host"
    named = split_host(host)
    if named is None or str(ip(named[0]) or named[0]) not in allowed:
        return f"Host {host!r} is not a name of this app"
    if origin is None:
        return None
    parsed = urlsplit(origin.strip())
    origin_host = split_host(parsed.netloc) if parsed.scheme in ("http", "https") else None
    if origin_host is None or str(ip(origin_host[0]) or origin_host[0]) not in allowed:
        return f"Origin {origin!r} is not a name of this app"
    return None


def refusal_line(reason: str, allowed: Collection[str], config_file: str = "projects.yaml") -> str:
    """The one line a refused request gets (and the app's log): why, the names allowed, the key to set."""
    return (
        f"evmon app: refused a request: {reason} (allowed: {', '.join(allowed)}); "
        f"add the name browsers use to app.allowed_hosts in {config_file}"
    )


# --- whether this session's browser is on this machine ------------------------------------------


@dataclass(frozen=True)
class Client:
    """Whether a session's browser is on this machine, and how the app knows (one phrase for the user)."""

    local: bool
    where: str


def locate_client(peer: str | None, headers: Headers, *, port: int, trusted_proxies: Sequence[str] = ()) -> Client:
    """Where the browser of a connection is, from its TCP peer and the headers of its WebSocket handshake.

    `peer` is Streamlit's st.context.ip_address: None for a loopback peer (127.0.0.1, ::1), as for
    a unix socket; `port` is the one the app listens on; `trusted_proxies` app.trusted_proxies.
    """
    networks = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]
    names = {name.lower() for name, _ in headers}
    sent = [h for h in FORWARDING_HEADERS if h in names]
    shown = peer or "127.0.0.1"
    if sent and _trusted(peer, networks):
        return _forwarded(shown, headers, networks)
    if peer is not None and not is_loopback(peer):
        return Client(False, f"this browser connects from {peer}, another machine")
    if sent:
        listed = ", ".join(_header_name(h) for h in sent)
        return Client(False, f"a proxy at {shown} forwards it ({listed}) and app.trusted_proxies does not list {shown}")
    for name in ("host", "origin"):
        value = _last(headers, name)
        if value is None:
            continue
        asked = split_host(value) if name == "host" else _origin_port(value)
        if asked is None or _port(value, asked[1], name) != port:
            between = "a proxy or a port forward is between"
            return Client(False, f"this browser asked for {value}, not the app's port {port}: {between}")
    return Client(True, "this browser is on this machine")


def _forwarded(proxy: str, headers: Headers, networks: Sequence[Network]) -> Client:
    """The browser behind a trusted proxy: on this machine only if every header naming it says so."""
    clients = [_nearest_untrusted(chain, networks) for chain in _chains(headers)]
    if not clients:
        says = "no X-Forwarded-For, Forwarded or X-Real-IP"
        return Client(False, f"the proxy {proxy} does not say whom it forwards ({says})")
    remote = [c for c in clients if not is_loopback(c)]
    if remote:
        return Client(False, f"the proxy {proxy} forwards it from {remote[0]}, another machine")
    return Client(True, f"the proxy {proxy} forwards it from {clients[0]}, the proxy's own machine")


def _chains(headers: Headers) -> list[list[str]]:
    """The addresses each forwarding header names, nearest last (one list per header present)."""
    chains: list[list[str]] = []
    for name in FOR_HEADERS:
        values = [v for n, v in headers if n.lower() == name]
        if not values:
            continue
        items = [item.strip() for value in values for item in value.split(",") if item.strip()]
        if name == "forwarded":
            items = [_forwarded_for(item) for item in items]
        chains.append([_without_port(item) for item in items] or ["(empty)"])
    return chains


def _nearest_untrusted(chain: list[str], networks: Sequence[Network]) -> str:
    """The nearest address the proxies do not trust (each proxy appends its client); all trusted: the first."""
    for address in reversed(chain):
        if not _trusted(address, networks):
            return address
    return chain[0]


def _trusted(address: str | None, networks: Sequence[Network]) -> bool:
    """Whether `address` is in a trusted network; None (a loopback peer) if any loopback address is."""
    candidates = [ip("127.0.0.1"), ip("::1")] if address is None else [ip(address)]
    return any(a is not None and a.version == n.version and a in n for a in candidates for n in networks)


def _forwarded_for(element: str) -> str:
    """The for= of one element of an RFC 7239 Forwarded header ('for=192.0.2.60;proto=http'); "" without one."""
    for pair in element.split(";"):
        key, _, value = pair.partition("=")
        if key.strip().lower() == "for":
            return value.strip().strip('"')
    return ""


def _without_port(item: str) -> str:
    """'192.0.2.1:4711' -> '192.0.2.1', '[2001:db8::1]:4711' -> '2001:db8::1'; anything else as it is."""
    item = item.strip().strip('"')
    if item.startswith("["):
        return item[1:].split("]", 1)[0]
    if item.count(":") == 1:
        return item.split(":", 1)[0]
    return item


def _origin_port(origin: str) -> tuple[str, int | None] | None:
    parsed = urlsplit(origin.strip())
    return split_host(parsed.netloc) if parsed.scheme in ("http", "https") else None


def _port(value: str, port: int | None, name: str) -> int:
    """The port a Host or Origin names; without one, its scheme's (Host: 80, Origin: by its scheme)."""
    if port is not None:
        return port
    return 443 if name == "origin" and value.strip().lower().startswith("https:") else 80


def _last(headers: Headers, name: str) -> str | None:
    values = [v for n, v in headers if n.lower() == name]
    return values[-1] if values else None


def _header_name(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-")).replace("X-Real-Ip", "X-Real-IP")
