"""Starting the real `evidently ui` on a workspace: 127.0.0.1, telemetry off, writes closed, ready-checked.

The UI's write API (deleting snapshots and projects, adding them) is always closed: Evidently
guards those routes with one shared secret, which evmon sets from EVMON_UI_SECRET or, when that
is unset, a random one for this run (evmon writes the workspace directly and never needs it).
The secret goes to Evidently in its environment (EVIDENTLY_SECRET, read by
evidently/ui/service/app.py), never on its command line, where `ps` would show it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

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


SECRET_ENV = "EVMON_UI_SECRET"
EVIDENTLY_SECRET_ENV = "EVIDENTLY_SECRET"  # what `evidently ui` reads when --secret is not given
LOG_ROTATE_BYTES = 10 * 1024 * 1024  # at start, a bigger log moves to <name>.1 (the one before is dropped)


def ui_secret(environ: Mapping[str, str] | None = None) -> str:
    """The secret that closes the UI's write API: EVMON_UI_SECRET, else a random one (for this run only)."""
    env = os.environ if environ is None else environ
    return (env.get(SECRET_ENV) or "").strip() or secrets.token_urlsafe(32)


def start_ui(
    workspace: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_path: Path | None = None,
    secret: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start `evidently ui` on `workspace`, its write API closed; returns at once (see wait_ready).

    Its output (stdout and stderr) is appended to `log_path`, if given.
    """
    workspace.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != SECRET_ENV}
    env["DO_NOT_TRACK"] = "1"
    env[EVIDENTLY_SECRET_ENV] = secret if secret else ui_secret()
    out = _open_log(log_path) if log_path is not None else subprocess.DEVNULL
    cmd = [*evidently_command(), "ui", "--workspace", str(workspace), "--host", host, "--port", str(port)]
    try:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        if not isinstance(out, int):
            out.close()  # the child holds its own copy


def _open_log(path: Path) -> BinaryIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_size > LOG_ROTATE_BYTES:
            os.replace(path, path.with_name(path.name + ".1"))
    return open(path, "ab")


def log_size(path: Path) -> int:
    """The current size of a log file (0 if there is none): where following it starts."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


@contextlib.contextmanager
def following(path: Path, out: BinaryIO, offset: int, poll_s: float = 0.2) -> Iterator[None]:
    """While inside, copy what is appended to `path` (from `offset`) to `out`: a server's log, in the foreground.

    The server writes its log file itself, so it keeps logging if this process dies.
    """
    stop = threading.Event()

    def copy(position: int) -> int:
        try:
            with open(path, "rb") as handle:
                if os.fstat(handle.fileno()).st_size < position:
                    position = 0  # rotated
                handle.seek(position)
                chunk = handle.read()
        except FileNotFoundError:
            return position
        if chunk:
            with contextlib.suppress(OSError, ValueError):
                out.write(chunk)
                out.flush()
        return position + len(chunk)

    def run() -> None:
        position = offset
        while not stop.wait(poll_s):
            position = copy(position)
        copy(position)

    thread = threading.Thread(target=run, name="evmon-log-follow", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


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
