"""Several `evidently ui` replicas on one Postgres database behind a local nginx (least_conn), as
docker-compose.ui-postgres.yml runs them: does a request made while one replica computes a series
wait for it? Needs nginx on PATH (Debian: apt-get install nginx-light); skipped without it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evmon.processes import free_port, wait_ready
from evmon.services.ui import evidently_command


def nginx_config(prefix: Path, listen: int, upstreams: list[int]) -> str:
    servers = "\n".join(f"        server 127.0.0.1:{port};" for port in upstreams)
    return f"""worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    upstream evidently_ui {{
        least_conn;
{servers}
    }}
    server {{
        listen 127.0.0.1:{listen};
        location / {{ proxy_pass http://evidently_ui; proxy_read_timeout 600s; }}
    }}
}}
"""


def behind_nginx(
    conf: Path,
    replicas: int,
    timeout: float,
    repeats: int,
    series: Callable[[str], float],
    meanwhile: Callable[[str], float],
) -> dict[str, Any] | None:
    """Series times and the wait of a request made during a series, through nginx over `replicas` UIs."""
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        print("nginx is not installed: the replicas measurement is skipped")
        return None
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    ports = [free_port() for _ in range(replicas)]
    procs = []
    with tempfile.TemporaryDirectory() as prefix:
        try:
            for port in ports:
                cmd = [*evidently_command(), "ui", "--conf-path", str(conf), "--host", "127.0.0.1", "--port", str(port)]
                procs.append(
                    subprocess.Popen(
                        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
                    )
                )
            for port in ports:
                wait_ready(f"http://127.0.0.1:{port}/api/projects", timeout=timeout)
            listen = free_port()
            (Path(prefix) / "nginx.conf").write_text(nginx_config(Path(prefix), listen, ports))
            procs.append(
                subprocess.Popen(
                    [nginx, "-p", prefix, "-c", f"{prefix}/nginx.conf", "-g", "daemon off;"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
            base = f"http://127.0.0.1:{listen}"
            wait_ready(f"{base}/api/projects", timeout=30)
            times = sorted(series(base) for _ in range(repeats))
            waits = [meanwhile(base) for _ in range(3)]
            return {"series_p50_s": times[len(times) // 2], "concurrent_s": max(waits)}
        finally:
            for proc in procs:
                os.killpg(proc.pid, 9)
                proc.wait()
