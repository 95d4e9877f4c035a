"""The app's writes (re-run days, save a what-if): each checks the session's write access first.

The access is decided once per script run of each session (evmon.services.access.decide_write_access)
from where the app listens (Streamlit's server.address, else EVMON_APP_HOST set by `evmon app`),
where this session's browser is (its WebSocket's peer and headers: st.context.ip_address and
st.context.headers, against app.trusted_proxies), the --allow-writes flag (EVMON_APP_ALLOW_WRITES),
projects.yaml's `app` section, and the login (st.user has `is_logged_in` only when Streamlit's
secrets file has an [auth] section).
"""

from __future__ import annotations

import os
from datetime import date

import streamlit as st
from streamlit.errors import StreamlitAPIException

from evmon.config.model import EvmonConfig, Project
from evmon.config.sections import ExecutorSettings, executor_from_environment
from evmon.errors import ConfigError
from evmon.run.batch import Progress
from evmon.run.day import DayResult
from evmon.run.whatif import WhatIfResult, rerun_days, save_whatif
from evmon.services.access import WriteAccess, decide_write_access
from evmon.services.clients import Client, locate_client
from evmon.storage.base import SnapshotFile, Workspace

ENV_HOST = "EVMON_APP_HOST"
ENV_ALLOW_WRITES = "EVMON_APP_ALLOW_WRITES"
TRUE_WORDS = ("1", "true", "yes", "on")


def bind_address() -> str:
    """Where the app listens; '' (all interfaces) when neither Streamlit nor `evmon app` says."""
    address = st.get_option("server.address")
    if address:
        return str(address)
    return os.environ.get(ENV_HOST, "")


def signed_in() -> tuple[bool, str | None]:
    """(a login is configured, the signed-in user's e-mail: None if nobody, "" if it has none)."""
    info = st.user.to_dict()
    if "is_logged_in" not in info:
        return False, None
    if not info["is_logged_in"]:
        return True, None
    email = info.get("email")
    return True, str(email) if email else ""


def this_client(config: EvmonConfig) -> Client | None:
    """Where this session's browser is; None when no browser is connected (a script run in a test)."""
    headers = st.context.headers
    pairs = [(name, value) for name in headers for value in headers.get_all(name)]
    if not pairs:  # a browser's WebSocket always has a Host: the app's guard refuses one without
        return None
    port = int(st.get_option("server.port"))
    return locate_client(st.context.ip_address, pairs, port=port, trusted_proxies=config.app.trusted_proxies)


def write_access(config: EvmonConfig) -> WriteAccess:
    """This session's write access, from the app's process, this session's browser and the signed-in user."""
    login_configured, user = signed_in()
    return decide_write_access(
        host=bind_address(),
        allow_writes=os.environ.get(ENV_ALLOW_WRITES, "").strip().lower() in TRUE_WORDS,
        config_writes=config.app.writes,
        writers=config.app.writers,
        login_configured=login_configured,
        user=user,
        config_file=config.source_file.name,
        client=this_client(config),
    )


def rerun(
    access: WriteAccess,
    config: EvmonConfig,
    project: Project,
    start: date,
    end: date,
    *,
    workspace: Workspace,
    progress: Progress | None = None,
) -> list[DayResult]:
    """Re-run start..end (replacing the daily snapshots) if `access` allows it; WriteRefusedError if not."""
    access.require(f"re-running {project.name} {start}..{end}")
    return rerun_days(
        config,
        project,
        start,
        end,
        workspace=workspace,
        progress=progress,
        workers=1,  # one day at a time (each in a process of its own): the app's re-runs stay small
        started_by=access.user,
        executor=_executor(),
    )


def _executor() -> ExecutorSettings | None:
    """EVMON_EXECUTOR (as `evmon app` inherits it, like --executor elsewhere), else projects.yaml's."""
    try:
        return executor_from_environment()
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def save(access: WriteAccess, workspace: Workspace, result: WhatIfResult) -> SnapshotFile:
    """Save a what-if into the workspace if `access` allows it; WriteRefusedError if not."""
    access.require(f"saving the what-if {result.spec.project} {result.spec.window}")
    return save_whatif(workspace, result, saved_by=access.user)


def read_only(access: WriteAccess, key: str) -> None:
    """The line shown instead of a write button: why, and how to turn writes on (or sign in)."""
    st.info(access.reason[:1].upper() + access.reason[1:])
    if access.sign_in and st.button("Sign in", key=f"{key}_sign_in"):
        try:
            st.login()
        except StreamlitAPIException as exc:  # Authlib missing, or an incomplete [auth] section
            st.error(f"Cannot sign in: {exc}")


def account() -> None:
    """In the sidebar, when someone is signed in: who, and the sign-out."""
    user = signed_in()[1]
    if user is None:
        return
    st.caption(f"Signed in as {user or '(no e-mail)'}")
    if st.button("Sign out", key="sign_out"):
        st.logout()
