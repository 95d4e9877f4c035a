"""A project-day computed in a process of its own: ended past the day's time limit, kept for the next day.

A DayProcess is a child Python interpreter that computes the days it is sent (evmon.run.day's
compute_day: the data only, never the workspace) and sends back each Computed. It is started
the same way from anywhere (the CLI, the scheduler, the Streamlit app, a Dask worker: a fresh
interpreter, not a fork, so nothing of its parent's threads or main script comes along), and it
keeps its caches (reference frames, fitted estimators) from one day to the next.

Its parent waits for each day at most the day's time limit, counted from the moment the child
began it: past it, the child is killed (its CPU and memory freed at once), the day is a failed
Computed naming the limit, and the next day starts a new child. A child that dies mid-day (the
OOM killer, a kill -9) fails that day only. The child dies with its parent (it watches it), leaves
Ctrl-C and SIGTERM to it (the parent decides whether the day in progress finishes), and imports
evmon from where its parent did, whatever the working directory.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from datetime import date
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

import evmon
from evmon.processes import process_alive

if TYPE_CHECKING:
    from evmon.config.model import EvmonConfig, Project
    from evmon.run.day import Computed

START_S = 300.0  # how long a new child may take to import evmon and Evidently before its first day begins
LIMIT_KEY = "executor.day_timeout_s"


def over_limit(project: str, limit: float) -> str:
    """The error of a day stopped at its time limit (the run log's and the command's line)."""
    return (
        f"{project}: stopped after {limit:g}s, the time limit of one day ({LIMIT_KEY}); "
        "its process was ended: raise the limit to compute this day"
    )


class DayProcess:
    """One child process computing one day at a time; started on the first day, again after a kill."""

    def __init__(self, drop_env: Iterable[str] = ()) -> None:
        self.drop_env = tuple(drop_env)
        self.child: subprocess.Popen[bytes] | None = None
        self.connection: Connection | None = None
        self.project = ""
        self.limit = 0.0
        self.deadline: float | None = None  # while a day is out: when to give up on it
        self.began = False
        self.unstarted: str | None = None  # why the day's process could not be started

    @property
    def pid(self) -> int | None:
        return self.child.pid if self.child is not None and self.child.poll() is None else None

    @property
    def busy(self) -> bool:
        return self.deadline is not None

    def send(self, config: EvmonConfig, project: Project, day: date, today: date | None, limit: float) -> None:
        """Hand the child a day (starting the child first if needed); collect it with poll()."""
        self.unstarted = None
        try:
            if self.child is None or self.child.poll() is not None:
                self._start()  # (kills what is left of an old child first)
        except OSError as exc:  # no process to be had (too many, no memory): this day fails, poll() says so
            self.kill()
            self.unstarted = f"{project.name}: cannot start a process for the day: {exc}"
        self.project, self.limit, self.began = project.name, limit, False
        self.deadline = time.monotonic() + START_S  # until the child says it began the day
        if self.connection is not None:
            with contextlib.suppress(OSError):  # the child is gone already: poll() says how
                self.connection.send((config, project, day, today))

    def poll(self) -> Computed | None:
        """The day's Computed once it is there (or failed: over its limit, the child dead), else None."""
        from evmon.run.day import Computed

        if self.unstarted is not None:
            error, self.unstarted, self.deadline = self.unstarted, None, None
            return Computed("failed", error=error)
        assert self.connection is not None and self.deadline is not None
        try:
            while self.connection.poll():
                kind, value = self.connection.recv()
                if kind == "began":
                    self.began = True
                    self.deadline = time.monotonic() + self.limit
                else:
                    self.deadline = None
                    return value if kind == "done" else Computed("failed", error=f"{self.project}: {value}")
        except (EOFError, OSError):
            self.deadline = None
            return Computed("failed", error=self._died())
        if time.monotonic() < self.deadline:
            return None
        self.deadline = None
        self.kill()
        if not self.began:
            return Computed("failed", error=f"{self.project}: its process did not start within {START_S:g}s")
        return Computed("failed", error=over_limit(self.project, self.limit))

    def remaining(self) -> float:
        return max(0.0, (self.deadline or time.monotonic()) - time.monotonic())

    def compute(self, config: EvmonConfig, project: Project, day: date, today: date | None, limit: float) -> Computed:
        """send() and wait for the result (what a Dask worker's task does)."""
        self.send(config, project, day, today, limit)
        while True:
            if self.connection is not None:
                with contextlib.suppress(OSError):
                    self.connection.poll(self.remaining())
            result = self.poll()
            if result is not None:
                return result

    def kill(self) -> None:
        """End the child now (a day in progress is abandoned); the next send() starts another."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None
        if self.child is not None:
            with contextlib.suppress(OSError):
                self.child.kill()
            self.child.wait()
            self.child = None
        self.deadline = None

    def _died(self) -> str:
        assert self.child is not None
        code = self.child.wait()
        self.kill()
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        return f"{self.project}: its process died while computing the day ({how}; out of memory, or killed)"

    def _start(self) -> None:
        self.kill()
        ours, theirs = socket.socketpair()
        env = {key: value for key, value in os.environ.items() if key not in self.drop_env}
        env["PYTHONPATH"] = os.pathsep.join(os.getcwd() if entry == "" else entry for entry in sys.path)
        code = "from evmon.run.executors.process import serve; serve()"
        args = [sys.executable, "-P", "-c", code, str(theirs.fileno()), str(os.getpid()), evmon.__file__ or ""]
        try:
            self.child = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, pass_fds=[theirs.fileno()])
        finally:
            theirs.close()
        self.connection = Connection(ours.detach())


def serve() -> None:
    """The child: compute each day it is sent, until its parent closes the connection or dies."""
    fd, parent_pid, parent_evmon = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    for sent_to_the_group in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C, a service manager's stop
        signal.signal(sent_to_the_group, signal.SIG_IGN)  # are the parent's to handle: it ends this process
    threading.Thread(target=_die_with, args=(parent_pid,), name="evmon-parent-watch", daemon=True).start()
    connection = Connection(fd)
    if evmon.__file__ != parent_evmon:
        _answer(connection, "error", f"a day's process imported evmon from {evmon.__file__}, not {parent_evmon}")
        return
    from evmon.run.day import compute_day

    while True:
        try:
            request: Any = connection.recv()
        except (EOFError, OSError):
            return
        _answer(connection, "began", None)
        _answer(connection, "done", compute_day(*request))


def _answer(connection: Connection, kind: str, value: object) -> None:
    try:
        connection.send((kind, value))
    except OSError:  # the parent is gone: so is this process
        os._exit(0)


def _die_with(parent_pid: int) -> None:
    """Block until the parent process is gone, then kill this process at once."""
    try:
        handle = os.pidfd_open(parent_pid)
    except (OSError, AttributeError):  # no pidfd (old kernel): poll instead
        while process_alive(parent_pid):
            threading.Event().wait(0.5)
    else:
        with contextlib.suppress(OSError):
            select.select([handle], [], [])  # readable once the process has exited
        os.close(handle)
    os.kill(os.getpid(), signal.SIGKILL)
