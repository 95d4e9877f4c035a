"""The real `evidently ui` on a workspace: 127.0.0.1, telemetry off, its write API closed.

The UI's write API (deleting snapshots and projects, adding them) is always closed: Evidently
guards those routes with one shared secret, which evmon sets from EVMON_UI_SECRET or, when that
is unset, a random one for this run (evmon writes the workspace directly and never needs it).
The secret goes to Evidently in its environment (EVIDENTLY_SECRET, read by
evidently/ui/service/app.py), never on its command line, where `ps` would show it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from evmon.errors import EvmonError
from evmon.processes import start_service
from evmon.storage.base import Workspace

SECRET_ENV = "EVMON_UI_SECRET"
EVIDENTLY_SECRET_ENV = "EVIDENTLY_SECRET"  # what `evidently ui` reads when --secret is not given


def evidently_command() -> list[str]:
    """The `evidently` console script of this environment."""
    script = Path(sys.executable).with_name("evidently")
    if script.exists():
        return [str(script)]
    found = shutil.which("evidently")
    if found is None:
        raise EvmonError("the `evidently` command is not installed in this environment")
    return [found]


def ui_secret(environ: Mapping[str, str] | None = None) -> str:
    """The secret that closes the UI's write API: EVMON_UI_SECRET, else a random one (for this run only)."""
    env = os.environ if environ is None else environ
    return (env.get(SECRET_ENV) or "").strip() or secrets.token_urlsafe(32)


def start_ui(
    workspace: Path | Workspace,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_path: Path | None = None,
    secret: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start `evidently ui` on a workspace, its write API closed; returns at once (see processes.wait_ready).

    A folder is served from its files; a Workspace as its backend says (its storage made ready
    first: the UI's database and tables, for Postgres). Its output is appended to `log_path`, if given.
    """
    env = {k: v for k, v in os.environ.items() if k != SECRET_ENV}
    env["DO_NOT_TRACK"] = "1"
    env[EVIDENTLY_SECRET_ENV] = secret if secret else ui_secret()
    if isinstance(workspace, Workspace):
        where = workspace.ui_arguments()
        env.update(workspace.ui_environment())
    else:
        Path(workspace).mkdir(parents=True, exist_ok=True)
        where = ["--workspace", str(workspace)]
    command = [*evidently_command(), "ui", *where, "--host", host, "--port", str(port)]
    return start_service(command, env, log_path)
