"""A real nginx in front of the app, as a team would run it: started in the test, stopped after it.

Debian's nginx (run.sh installs nginx-light) runs in the foreground (`daemon off`) with a config
written to the test's tmp folder: no systemd, no /etc/nginx, nothing left running. Without it a
proxy test skips with the reason; under CI=true it fails instead.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from evmon.processes import stop, wait_ready
from tests.browser import IN_CI

NGINX = Path("/usr/sbin/nginx")
needs_nginx = pytest.mark.skipif(
    not NGINX.exists() and not IN_CI, reason="Debian's nginx is not installed (apt-get install nginx-light)"
)

# The site a team writes for Streamlit behind nginx: the browser's Host passed on, WebSockets
# upgraded; `forward` adds the proxy's forwarded headers (or nothing, as in the report).
CONFIG = """\
worker_processes 1;
pid {folder}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
{listen}
        location / {{
            proxy_pass http://127.0.0.1:{app_port};
            proxy_http_version 1.1;
            proxy_buffering off;
            proxy_read_timeout 600s;
            proxy_set_header Host $http_host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
{forward}
        }}
    }}
}}
"""
FORWARDED_FOR = "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"


@contextmanager
def nginx(folder: Path, app_port: int, listen: Sequence[tuple[str, int]], *, forward: bool) -> Iterator[Path]:
    """nginx listening on each (address, port) of `listen`, proxying to the app on 127.0.0.1:app_port.

    Yields its folder (config, access log, error log); ready once the app's health answers through it.
    """
    assert NGINX.exists(), f"{NGINX}: apt-get install nginx-light"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "nginx.conf"
    config.write_text(
        CONFIG.format(
            folder=folder,
            app_port=app_port,
            listen="\n".join(f"        listen {host}:{port};" for host, port in listen),
            forward=FORWARDED_FOR if forward else "",
        )
    )
    error_log = folder / "error.log"
    command = [str(NGINX), "-p", str(folder), "-e", str(error_log), "-c", str(config), "-g", "daemon off;"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        host, port = listen[0]
        wait_ready(f"http://{host}:{port}/_stcore/health", process, timeout=60)
        yield folder
    finally:
        stop(process)
