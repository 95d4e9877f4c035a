"""Starting the Streamlit app as a subprocess: 127.0.0.1, headless, telemetry off.

Used by `evmon app` and `evmon demo`; imports nothing of Streamlit itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")
DEFAULT_PORT = 8501


def app_command(host: str, port: int) -> list[str]:
    """`streamlit run` of the app, bound to `host`, without usage statistics or a browser."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.headless=true",
        f"--server.address={host}",
        f"--server.port={port}",
        "--browser.gatherUsageStats=false",
        "--server.fileWatcherType=none",
        "--client.toolbarMode=minimal",
    ]


def start_app(
    config_path: Path,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    ui_url: str | None = None,
    workspace: Path | None = None,
    log_path: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start the app on projects.yaml `config_path`; returns at once (wait on /_stcore/health)."""
    env = {
        **os.environ,
        "DO_NOT_TRACK": "1",
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        "EVMON_CONFIG": str(Path(config_path).absolute()),
    }
    if ui_url is not None:
        env["EVMON_UI_URL"] = ui_url
    if workspace is not None:
        env["EVMON_WORKSPACE"] = str(Path(workspace).absolute())
    out = open(log_path, "ab") if log_path is not None else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        app_command(host, port), env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


def health_url(host: str, port: int) -> str:
    return f"http://{host}:{port}/_stcore/health"
