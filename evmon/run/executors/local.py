"""Project-days computed on this machine: in this process, or in worker processes.

Worker processes never outlive the process that started them: each watches its parent and
kills itself when the parent is gone, and checks the parent again before starting a day, so
a `kill -9` of a backfill leaves no orphan computing days. They import exactly the modules
the parent imported, whatever the working directory (see `_forkserver`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import select
import signal
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from datetime import date
from typing import Any, Self

import evmon
from evmon.config.model import EvmonConfig, Project
from evmon.config.sections import ExecutorSettings
from evmon.errors import EvmonError
from evmon.processes import process_alive
from evmon.run.batch import Batch, DayTask, Interrupted
from evmon.run.day import DayResult, run_day
from evmon.run.executors.base import Executor
from evmon.storage.base import Workspace

_FORKSERVER_LOCK = threading.Lock()


class LocalExecutor(Executor):
    """`workers` worker processes (in this process when one worker or one day is enough)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers

    @classmethod
    def from_settings(cls, settings: ExecutorSettings, workers: int) -> Self:
        return cls(workers)

    def run(self, batch: Batch, todo: list[tuple[int, DayTask]], stop: threading.Event | None, total: int) -> None:
        if self.workers <= 1 or len(todo) <= 1:
            for index, task in todo:
                if stop is not None and stop.is_set():
                    raise Interrupted(batch.done(), total)
                kwargs = {**batch.day_kwargs, "still_due": task.still_due}
                batch.record(index, run_day(batch.config, task.project, task.day, workspace=batch.workspace, **kwargs))
        else:
            _pooled(batch, todo, self.workers, stop, total)


def _pooled(
    batch: Batch, todo: list[tuple[int, DayTask]], workers: int, stop: threading.Event | None, total: int
) -> None:
    context = _forkserver()
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(todo)),
        mp_context=context,
        initializer=_worker_started,
        initargs=(os.getpid(), evmon.__file__),
    )
    pending: dict[Future[DayResult], int] = {}
    queue = list(todo)
    clean = False
    try:
        while queue or pending:
            if stop is not None and stop.is_set():
                raise Interrupted(batch.done(), total)
            while queue and len(pending) < workers * 2:
                index, task = queue.pop(0)
                future = pool.submit(
                    _run_in_worker,
                    os.getpid(),
                    batch.config,
                    task.project,
                    task.day,
                    batch.workspace,
                    {**batch.day_kwargs, "still_due": task.still_due},
                )
                pending[future] = index
            done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                index = pending.pop(future)
                try:
                    batch.record(index, future.result())
                except BrokenProcessPool as exc:
                    if stop is not None and stop.is_set():
                        raise Interrupted(batch.done(), total) from exc
                    raise EvmonError(
                        "a backfill worker process died (killed, or out of memory); the days done so far are "
                        "kept: run the same command again to finish"
                    ) from exc
        clean = True
    finally:
        if clean:
            pool.shutdown(wait=True)
        else:  # stopped or failed: abandon the days in progress (nothing partial is ever written)
            _kill_workers(pool)
            pool.shutdown(wait=False, cancel_futures=True)


def _forkserver() -> multiprocessing.context.BaseContext:
    """The forkserver context, its server started with this process's import path.

    Workers fork from a clean, single-threaded server that has Evidently imported already
    (a plain fork of a process running Arrow threads can hang). Python 3.11's forkserver
    ignores the parent's sys.path and runs with `-c`, which puts the working directory first:
    a folder named `evmon` there (a clone of this repository) would be imported instead of
    the installed package. So the server starts with PYTHONSAFEPATH (no working directory)
    and the parent's sys.path.
    """
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["evmon.run.day"])
    with _FORKSERVER_LOCK, _environment(PYTHONSAFEPATH="1", PYTHONPATH=_import_path()):
        forkserver.ensure_running()
    return context


def _import_path() -> str:
    return os.pathsep.join(os.getcwd() if entry == "" else entry for entry in sys.path)


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _worker_started(parent_pid: int, parent_evmon: str) -> None:
    """In each worker: die with the parent, leave Ctrl-C to it, and check what was imported."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and ends the workers
    if evmon.__file__ != parent_evmon:
        raise EvmonError(f"a backfill worker imported evmon from {evmon.__file__}, not {parent_evmon}")
    threading.Thread(target=_die_with, args=(parent_pid,), name="evmon-parent-watch", daemon=True).start()


def _die_with(parent_pid: int) -> None:
    """Block until the parent process is gone, then kill this worker at once."""
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


def _run_in_worker(
    parent_pid: int, config: EvmonConfig, project: Project, day: date, workspace: Workspace, kwargs: dict[str, Any]
) -> DayResult:
    """run_day in a worker, unless the parent is gone: an orphan starts no day."""
    if not process_alive(parent_pid):
        os.kill(os.getpid(), signal.SIGKILL)
    return run_day(config, project, day, workspace=workspace, **kwargs)


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.kill()
