"""The one way evmon starts a child service, waits for it, follows its log and stops it; and stops itself.

Child services (the Evidently UI, the Streamlit app) run in their own session, their output
appended to a log file; `stop` ends the whole session, politely first. `StopSignals` turns
SIGTERM and Ctrl-C (SIGINT) into a stop request for the long-running commands: an event to wait
on (the scheduler, the bridge, `evmon ui`, `evmon app`) or, with interrupt=True, an exception
that unwinds whatever the main thread is doing so its `finally` blocks run (`evmon demo`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import BinaryIO

from evmon.errors import EvmonError

LOG_ROTATE_BYTES = 10 * 1024 * 1024  # at start, a bigger log moves to <name>.1 (the one before is dropped)
SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start_service(
    command: Sequence[str], env: Mapping[str, str], log_path: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a child service in its own session, its output appended to `log_path`; returns at once."""
    out = _open_log(log_path) if log_path is not None else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            list(command), env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    finally:
        if not isinstance(out, int):
            out.close()  # the child holds its own copy


def _open_log(path: Path) -> BinaryIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_size > LOG_ROTATE_BYTES:
            os.replace(path, path.with_name(path.name + ".1"))
    return open(path, "ab")


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


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Stop a child service (its whole session), politely first."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        process.wait(timeout=timeout)


def serve_until_stopped(process: subprocess.Popen[bytes]) -> int:
    """Wait for a child service until it exits or Ctrl-C/SIGTERM; its exit code (0 if stopped), then stop it."""
    with StopSignals() as stopping:
        try:
            while process.poll() is None and not stopping.event.wait(0.5):
                pass
            return 0 if stopping.by is not None else int(process.returncode or 0)
        finally:
            stop(process)


class Stopped(KeyboardInterrupt):
    """Ctrl-C or SIGTERM, raised in the main thread by StopSignals(interrupt=True): a stop, not an error."""

    def __init__(self, by: str) -> None:
        super().__init__(by)
        self.by = by


class StopSignals:
    """SIGTERM and Ctrl-C as a stop request while inside (the handlers before are restored after).

    `event` is set and `by` names the signal ("Ctrl-C" or "SIGTERM"); with interrupt=True the
    main thread also gets Stopped, like Ctrl-C's KeyboardInterrupt, so a blocking call ends and
    `finally` blocks run. `on_hangup`, if given, is called on SIGHUP (re-read the config).
    Outside the main thread (where Python cannot install handlers) it only provides the event.
    """

    def __init__(self, *, interrupt: bool = False, on_hangup: Callable[[], None] | None = None) -> None:
        self.interrupt = interrupt
        self.on_hangup = on_hangup
        self.event = threading.Event()
        self.by: str | None = None
        self._previous: dict[int, object] = {}

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.by = SIGNAL_NAMES.get(signal.Signals(signum), signal.Signals(signum).name)
        self.event.set()
        if self.interrupt:
            raise Stopped(self.by)

    def _hangup(self, signum: int, frame: FrameType | None) -> None:
        if self.on_hangup is not None:
            self.on_hangup()

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            handlers: dict[int, Callable[[int, FrameType | None], None]] = {
                signal.SIGTERM: self._stop,
                signal.SIGINT: self._stop,
            }
            if self.on_hangup is not None:
                handlers[signal.SIGHUP] = self._hangup
            self._previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


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
    stop_copying = threading.Event()

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
        while not stop_copying.wait(poll_s):
            position = copy(position)
        copy(position)

    thread = threading.Thread(target=run, name="evmon-log-follow", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop_copying.set()
        thread.join(timeout=5)
