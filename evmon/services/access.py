"""Who may change the workspace from the Streamlit app: one decision, made in one place, per session.

Writes (re-run days, save a what-if) are on by default only when the app listens on the loopback
interface, and then only for a session whose browser is on this machine (evmon.services.clients:
the connection's peer and headers, never the bind address alone; through a proxy, only one listed
in app.trusted_proxies that forwards for this machine). On any other address, or for anyone
else, the operator turns them on (`evmon app --allow-writes` or `app.writes: true`);
`app.writes: false` turns them off everywhere. When a login is configured (or `app.writers` is
set), writes also need a signed-in user whose e-mail is in `app.writers`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evmon.errors import WriteRefusedError
from evmon.services.clients import ALL_INTERFACES, Client, is_loopback

__all__ = ["WriteAccess", "decide_write_access", "describe_host", "is_loopback"]


@dataclass(frozen=True)
class WriteAccess:
    """Whether this session may change the workspace, why (one line for the user), and as whom."""

    allowed: bool
    reason: str
    user: str | None = None  # the signed-in user's e-mail, recorded with each write
    sign_in: bool = False  # refused only because nobody is signed in: offer the sign-in

    def require(self, action: str) -> None:
        """Raise WriteRefusedError naming `action` and the reason unless writes are allowed."""
        if not self.allowed:
            raise WriteRefusedError(f"{action} refused: {self.reason}")


def describe_host(host: str) -> str:
    return "all network interfaces" if host.strip() in ALL_INTERFACES else host


def decide_write_access(
    *,
    host: str,
    allow_writes: bool,
    config_writes: bool | None,
    writers: Sequence[str],
    login_configured: bool,
    user: str | None,
    config_file: str = "projects.yaml",
    client: Client | None = None,
) -> WriteAccess:
    """A session's write permission from where the app listens, where its browser is, the
    operator's switches and the user.

    `user` is the signed-in user's e-mail ("" if signed in without one), None if nobody is
    signed in; `login_configured` is True when Streamlit's secrets file has an [auth] section;
    `client` is where the session's browser is (evmon.services.clients.locate_client), None
    when there is no browser to ask (`evmon app` at start, a test's script run).
    """
    opened = _opened(host, allow_writes, config_writes, config_file, client)
    if isinstance(opened, WriteAccess):
        return opened
    if not login_configured and not writers:
        return WriteAccess(True, f"writes allowed: {opened}")
    if not login_configured:
        return _refused(
            f"app.writers in {config_file} names who may write, but no login is configured; add an [auth] "
            "section to .streamlit/secrets.toml (Streamlit's OpenID Connect login) or remove app.writers"
        )
    if not writers:
        return _refused(
            f"a login is configured but app.writers in {config_file} lists nobody; "
            "add the e-mails of the people who may re-run days and save what-ifs"
        )
    if user is None:
        reason = "read-only until you sign in: re-runs and saves need a signed-in user listed in app.writers"
        return WriteAccess(False, reason, sign_in=True)
    if not user:
        return _refused("you are signed in, but the login gave no e-mail; the provider must grant the 'email' scope")
    if user.lower() not in {w.lower() for w in writers}:
        return _refused(f"{user} is not in app.writers in {config_file}; ask the operator to add it")
    return WriteAccess(True, f"writes allowed for {user}: {opened}", user)


def _opened(
    host: str, allow_writes: bool, config_writes: bool | None, config_file: str, client: Client | None
) -> str | WriteAccess:
    """Why the operator allows writes at all, or the refusal when they do not."""
    if config_writes is False:
        return _refused(f"app.writes is false in {config_file}; set it to true to allow re-runs and saves")
    if config_writes:
        return f"app.writes is true in {config_file}"
    if allow_writes:
        return "started with --allow-writes"
    if is_loopback(host):
        if client is None:
            return f"the app listens on {host} (loopback), for browsers on this machine"
        if client.local:
            return f"the app listens on {host} (loopback) and {client.where}"
        return _refused(
            f"{client.where}; re-runs and saves from other machines need app.writes: true in {config_file} "
            "(with a login and app.writers to say who)"
        )
    return _refused(
        f"the app listens on {describe_host(host)}, reachable from other machines; start it with "
        f"`evmon app --allow-writes` or set app.writes: true in {config_file} to allow re-runs and saves"
    )


def _refused(reason: str) -> WriteAccess:
    return WriteAccess(False, "read-only: " + reason)
