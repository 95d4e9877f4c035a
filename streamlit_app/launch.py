"""Starting the Streamlit app as a subprocess: 127.0.0.1, headless, telemetry off, XSRF protection on.

Used by `evmon app` and `evmon demo`; imports nothing of Streamlit itself. It runs serve.py, which
serves app.py behind the Host and Origin guard (EVMON_APP_ALLOWED_HOSTS: the names requests may
give). The app learns where it listens and whether --allow-writes was given from EVMON_APP_HOST
and EVMON_APP_ALLOW_WRITES (streamlit_app/writes.py decides its write access from them and from
each session's browser). FORWARDED_ALLOW_IPS is emptied so that Uvicorn (Streamlit's server)
never replaces a connection's address with a forwarded one: the app itself decides whom to
believe (app.trusted_proxies). Streamlit's secrets file (the login's [auth] section) is read from
~/.streamlit/, ./.streamlit/ and, last and winning, the .streamlit/ folder beside projects.yaml.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from evmon.processes import start_service
from evmon.services.clients import allowed_hosts as hosts_allowed

SERVE = Path(__file__).with_name("serve.py")  # app.py behind the Host and Origin guard
DEFAULT_PORT = 8501


def app_command(host: str, port: int, secrets_files: list[Path] | None = None) -> list[str]:
    """`streamlit run` of the app, bound to `host`, without usage statistics or a browser."""
    secrets = [f"--secrets.files={path}" for path in secrets_files or []]
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(SERVE),
        "--server.headless=true",
        f"--server.address={host}",
        f"--server.port={port}",
        "--browser.gatherUsageStats=false",
        "--server.fileWatcherType=none",
        "--client.toolbarMode=minimal",
        "--server.enableXsrfProtection=true",  # a config.toml cannot turn it off
        "--server.enableCORS=true",
        *secrets,
    ]


def secrets_files(config_path: Path) -> list[Path]:
    """Streamlit's own secrets locations (home, then the working folder), then the one beside projects.yaml."""
    files = [Path.home() / ".streamlit" / "secrets.toml", Path.cwd() / ".streamlit" / "secrets.toml"]
    beside = Path(config_path).absolute().parent / ".streamlit" / "secrets.toml"
    return [*files, beside] if beside not in files else files


def start_app(
    config_path: Path,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    ui_url: str | None = None,
    workspace: Path | None = None,
    log_path: Path | None = None,
    allow_writes: bool = False,
    allowed_hosts: Sequence[str] = (),
    pg_dsn: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start the app on projects.yaml `config_path`; returns at once (wait on /_stcore/health).

    `allow_writes` turns re-runs and saves on even when `host` is not a loopback address;
    `allowed_hosts` (app.allowed_hosts) are names browsers may reach it by beside `host` and localhost;
    `pg_dsn` is the bridge's database the Fleet page reads (EVMON_PG_DSN).
    """
    env = {
        **os.environ,
        "DO_NOT_TRACK": "1",
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        "EVMON_CONFIG": str(Path(config_path).absolute()),
        "EVMON_APP_HOST": host,
        "EVMON_APP_ALLOW_WRITES": "1" if allow_writes else "0",
        "EVMON_APP_ALLOWED_HOSTS": ",".join(hosts_allowed(host, allowed_hosts)),
        "EVMON_APP_CONFIG_FILE": Path(config_path).name,
        "FORWARDED_ALLOW_IPS": "",
    }
    if ui_url is not None:
        env["EVMON_UI_URL"] = ui_url
    if workspace is not None:
        env["EVMON_WORKSPACE"] = str(Path(workspace).absolute())
    if pg_dsn is not None:
        env["EVMON_PG_DSN"] = pg_dsn
    return start_service(app_command(host, port, secrets_files(config_path)), env, log_path)


def health_url(host: str, port: int) -> str:
    return f"http://{host}:{port}/_stcore/health"
