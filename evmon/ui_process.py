"""Starting the real `evidently ui` on a workspace: 127.0.0.1, telemetry off, ready-checked."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from evmon.errors import EvmonError


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def evidently_command() -> list[str]:
    """The `evidently` console script of this environment."""
    script = Path(sys.executable).with_name("evidently")
    if script.exists():
        return [str(script)]
    found = shutil.which("evidently")
    if found is None:
        raise EvmonError("the `evidently` command is not installed in this environment")
    return [found]


def start_ui(
    workspace: Path, host: str = "127.0.0.1", port: int = 8000, log_path: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start `evidently ui` on `workspace`; returns at once (see wait_ready)."""
    workspace.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    out = open(log_path, "ab") if log_path is not None else subprocess.DEVNULL  # noqa: SIM115
    cmd = [*evidently_command(), "ui", "--workspace", str(workspace), "--host", host, "--port", str(port)]
    return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 120.0) -> float:
    """Wait until GET `url` answers 200; return the seconds it took. EvmonError on timeout or exit."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process is not None and process.poll() is not None:
            raise EvmonError(f"the process serving {url} exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.2)
    raise EvmonError(f"{url} did not answer within {timeout:.0f}s")


def sigterm_as_interrupt() -> None:
    """From now on SIGTERM raises KeyboardInterrupt, like Ctrl-C, so cleanup (finally) runs.

    The servers evmon starts run in their own sessions; without this, a terminated evmon
    process would leave them running.
    """

    def interrupt(signum: int, frame: object) -> None:
        raise Terminated

    signal.signal(signal.SIGTERM, interrupt)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C (sigterm_as_interrupt) so the same cleanup runs; a stop, not an error."""


def serve_until_stopped(process: subprocess.Popen[bytes]) -> int:
    """Wait for a server started here; Ctrl-C or SIGTERM stops it. Its exit code (0 if stopped)."""
    sigterm_as_interrupt()
    try:
        return process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Stop a process started here (its whole session), politely first."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, 15)
        process.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, 9)
        except ProcessLookupError:
            return
        process.wait(timeout=timeout)
