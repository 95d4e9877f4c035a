"""What `evmon app` serves: Streamlit's own server for app.py (st.App), behind evmon's Host and Origin guard.

`streamlit run serve.py` finds the `app` below and serves app.py exactly as `streamlit run app.py`
would, with one ASGI middleware in front of Streamlit's: a request whose Host (or Origin, when
the browser sends one) names a host outside the allow-list gets a 403 with one line, before
Streamlit sees it: no page, and no WebSocket (the upgrade is refused, never accepted and then
closed). This is what stops DNS rebinding, where an attacker's page, its name re-pointed at
127.0.0.1, would otherwise talk to the app as if it were its own. Streamlit's own
server.allowedHosts checks only the WebSocket's Host, and its Origin check always accepts
localhost and this machine's addresses (and looks the external one up on the Internet).

The allow-list comes from EVMON_APP_ALLOWED_HOSTS (set by streamlit_app/launch.py: the address
the app listens on, localhost and app.allowed_hosts), else from Streamlit's server.address.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import streamlit as st
from starlette.middleware import Middleware

from evmon.services.clients import allowed_hosts, host_refusal, refusal_line

ENV_ALLOWED_HOSTS = "EVMON_APP_ALLOWED_HOSTS"
ENV_CONFIG_FILE = "EVMON_APP_CONFIG_FILE"
APP = Path(__file__).with_name("app.py")
LOGGED_AT_MOST = 100  # distinct refusals written to the log; the rest only answered

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def configured_hosts() -> tuple[str, ...]:
    """The names requests may give: EVMON_APP_ALLOWED_HOSTS (comma-separated), else the bound address and localhost."""
    listed = os.environ.get(ENV_ALLOWED_HOSTS, "")
    names = tuple(name.strip().lower() for name in listed.split(",") if name.strip())
    return names or allowed_hosts(str(st.get_option("server.address") or ""))


class HostGuard:
    """Answer 403 (HTTP) or refuse the upgrade (WebSocket) when Host or Origin is not an allowed name."""

    def __init__(self, app: ASGIApp, allowed: tuple[str, ...] | None = None) -> None:
        self.app = app
        self.allowed = allowed if allowed is not None else configured_hosts()
        self.config_file = os.environ.get(ENV_CONFIG_FILE) or "projects.yaml"
        self.logged: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        hosts = [v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"host"]
        origins = [v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"origin"]
        if len(hosts) > 1 or len(origins) > 1:
            reason: str | None = "it names more than one Host or Origin"
        else:
            reason = host_refusal(hosts[0] if hosts else None, origins[0] if origins else None, self.allowed)
        if reason is None:
            await self.app(scope, receive, send)
            return
        line = refusal_line(reason, self.allowed, self.config_file)
        if line not in self.logged and len(self.logged) < LOGGED_AT_MOST:
            self.logged.add(line)
            print(line, file=sys.stderr, flush=True)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # before accept: the server answers 403
            return
        body = (line + "\n").encode()
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": body})


app = st.App(str(APP), middleware=[Middleware(HostGuard)])
