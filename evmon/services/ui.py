"""The real `evidently ui` on a workspace: 127.0.0.1, telemetry off, its write API closed.

The UI's write API (deleting snapshots and projects, adding them) is always closed: Evidently
guards those routes with one shared secret, which evmon sets from EVMON_UI_SECRET or, when that
is unset, a random one for this run (evmon writes the workspace directly and never needs it).
The secret goes to Evidently in its environment (EVIDENTLY_SECRET, read by
evidently/ui/service/app.py), never on its command line, where `ps` would show it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from evmon.errors import EvmonError
from evmon.processes import start_service
from evmon.storage.files import Workspace

if TYPE_CHECKING:  # the SQL storage (and Evidently's, and Alembic) is imported only when a UI uses it
    from evmon.storage.postgres import PostgresWorkspace

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
    """Start `evidently ui` on a workspace, its write API closed; returns at once (see services.wait_ready).

    A workspace folder (or a Workspace) is served from its files; a PostgresWorkspace from the UI's
    database, whose tables Evidently's own migrations create or upgrade first (once, here, so several
    UIs starting together never race on them). Its output is appended to `log_path`, if given.
    """
    env = {k: v for k, v in os.environ.items() if k != SECRET_ENV}
    env["DO_NOT_TRACK"] = "1"
    env[EVIDENTLY_SECRET_ENV] = secret if secret else ui_secret()
    where = ["--workspace", str(workspace.root if isinstance(workspace, Workspace) else workspace)]
    if isinstance(workspace, Workspace) and not workspace.stores_files:
        from evmon.storage.postgres import PostgresWorkspace  # here: Evidently's SQL storage only when a UI uses it

        if not isinstance(workspace, PostgresWorkspace):
            raise EvmonError(f"no Evidently UI storage for {type(workspace).__name__}")
        where = ["--conf-path", str(prepare_ui_database(workspace))]
    else:
        Path(where[1]).mkdir(parents=True, exist_ok=True)
    command = [*evidently_command(), "ui", *where, "--host", host, "--port", str(port)]
    return start_service(command, env, log_path)


def prepare_ui_database(workspace: PostgresWorkspace) -> Path:
    """Create the UI's database and tables if needed; the UI's config file (owner-only: it holds the URL)."""
    workspace.prepare()
    conf = workspace.evmon_dir / "evidently-ui.yaml"
    conf.parent.mkdir(parents=True, exist_ok=True)
    text = f"storage:\n  type: sql\ndatabase:\n  url: {json.dumps(workspace.db.url)}\n"
    descriptor = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    return conf
