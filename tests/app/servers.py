"""The real `evmon app` in a test: started by its command on an address, stopped after; this machine's address."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from evmon.processes import free_port, stop, wait_ready


def own_address() -> str | None:
    """This machine's first non-loopback IPv4 address (`hostname -I`), None without one."""
    try:
        words = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return None
    for word in words:
        try:
            address = ipaddress.ip_address(word)
        except ValueError:
            continue
        if address.version == 4 and not address.is_loopback:
            return word
    return None


HOST = own_address()


@contextmanager
def evmon_app(config: Path, workspace: Path, host: str, *flags: str) -> Iterator[tuple[str, str]]:
    """`evmon app -c config --host host --port P *flags`: (its URL, its output so far when stopped)."""
    port = free_port(host)
    env = {**os.environ, "EVMON_WORKSPACE": str(workspace)}
    env.pop("EVMON_APP_HOST", None)
    env.pop("EVMON_APP_ALLOW_WRITES", None)
    log = workspace.parent / f"evmon-app-{port}.log"
    command = [str(Path(sys.executable).with_name("evmon")), "app", "-c", str(config), "--host", host]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port), *flags],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://{host}:{port}"
        wait_ready(url + "/_stcore/health", process, timeout=120)
        yield url, str(log)
    finally:
        stop(process)
