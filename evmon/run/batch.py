"""Many project-days at once: worker processes, progress callbacks, resumable, stoppable.

Resumable by construction: a day whose snapshot exists is skipped unless force=True, and a
day's snapshot appears only complete (atomic rename), so a killed backfill re-run does
exactly the days that are missing. After the days, each project that got a new snapshot has
its UI dashboard rewritten (segment panels appear once labelled days exist).

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
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date
from typing import Any

import evmon
from evmon.config.model import EvmonConfig, Project
from evmon.config.sections import ExecutorSettings
from evmon.errors import EvmonError
from evmon.processes import process_alive
from evmon.run.day import DayResult, recover_unlogged_run, run_day
from evmon.storage.files import Workspace, daily_snapshot_id, project_id
from evmon.storage.runlog import RunLog

Progress = Callable[[DayResult], None]
_FORKSERVER_LOCK = threading.Lock()


class Interrupted(Exception):
    """run_many was asked to stop: the days finished so far are kept, the rest were not started."""

    def __init__(self, done: list[DayResult], total: int) -> None:
        super().__init__(f"stopped after {len(done)} of {total} days")
        self.done = done
        self.total = total


@dataclass(frozen=True)
class DayTask:
    """One project-day to run; `still_due`, if given, is asked under the day's lock (see run_day)."""

    project: Project
    day: date
    still_due: Callable[[], bool] | None = None  # picklable (a partial of a module function)


def run_many(
    config: EvmonConfig,
    tasks: Iterable[DayTask],
    *,
    workspace: Workspace,
    workers: int = 2,
    force: bool = False,
    today: date | None = None,
    trigger: str = "backfill",
    progress: Progress | None = None,
    started_by: str | None = None,
    stop: threading.Event | None = None,
    dashboards: bool = True,
    executor: ExecutorSettings | None = None,
) -> list[DayResult]:
    """Run every task (in day order per project); results in task order.

    Where the days are computed: `executor` (default: projects.yaml's `executor`): on `workers`
    local processes, or on a Dask cluster, whose workers compute while this process writes.
    Setting `stop` (or Ctrl-C in the calling thread) ends the run early: days in progress are
    abandoned (nothing partial is ever written), Interrupted carries the results so far.
    """
    chosen = executor if executor is not None else config.executor
    workspace.prepare()
    workspace.clean_staging()
    RunLog(workspace.evmon_dir).ensure()
    ordered = list(tasks)
    results: dict[int, DayResult] = {}
    todo: list[tuple[int, DayTask]] = []
    for index, task in enumerate(ordered):
        sid = daily_snapshot_id(task.project.name, task.day)
        if not force and workspace.snapshot_exists(project_id(task.project.name), sid):
            recover_unlogged_run(workspace, task.project, task.day)
            results[index] = DayResult(task.project.name, task.day, "exists", snapshot_id=str(sid))
            _report(progress, results[index])
        else:
            todo.append((index, task))
    run = Batch(config, workspace, force, today, trigger, started_by, progress, results)
    try:
        if chosen.type == "dask" and todo:
            from evmon.run.executors.dask import run_on_dask

            run_on_dask(run, todo, chosen, stop, len(ordered))
        elif workers <= 1 or len(todo) <= 1:
            for index, task in todo:
                if stop is not None and stop.is_set():
                    raise Interrupted(run.done(), len(ordered))
                kwargs = {**run.day_kwargs, "still_due": task.still_due}
                run.record(index, run_day(config, task.project, task.day, workspace=workspace, **kwargs))
        else:
            run.pooled(todo, workers, stop, len(ordered))
    finally:
        if dashboards:
            _refresh_dashboards(workspace, run.done(), {task.project.name: task.project for task in ordered})
    return [results[i] for i in range(len(ordered))]


class Batch:
    """One run_many call: its settings, and its results as they come (from any executor)."""

    def __init__(
        self,
        config: EvmonConfig,
        workspace: Workspace,
        force: bool,
        today: date | None,
        trigger: str,
        started_by: str | None,
        progress: Progress | None,
        results: dict[int, DayResult],
    ) -> None:
        self.config = config
        self.workspace = workspace
        self.day_kwargs: dict[str, Any] = {"today": today, "force": force, "trigger": trigger, "started_by": started_by}
        self.progress = progress
        self.results = results

    def record(self, index: int, result: DayResult) -> None:
        self.results[index] = result
        _report(self.progress, result)

    def done(self) -> list[DayResult]:
        return [self.results[i] for i in sorted(self.results)]

    def pooled(self, todo: list[tuple[int, DayTask]], workers: int, stop: threading.Event | None, total: int) -> None:
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
                    raise Interrupted(self.done(), total)
                while queue and len(pending) < workers * 2:
                    index, task = queue.pop(0)
                    future = pool.submit(
                        _run_in_worker,
                        os.getpid(),
                        self.config,
                        task.project,
                        task.day,
                        self.workspace,
                        {**self.day_kwargs, "still_due": task.still_due},
                    )
                    pending[future] = index
                done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    index = pending.pop(future)
                    try:
                        self.record(index, future.result())
                    except BrokenProcessPool as exc:
                        if stop is not None and stop.is_set():
                            raise Interrupted(self.done(), total) from exc
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


def _refresh_dashboards(workspace: Workspace, results: list[DayResult], projects: dict[str, Project]) -> None:
    """Rewrite the UI dashboard of each project that got a snapshot (new segment values show up)."""
    from evmon.storage.dashboards import write_project_dashboard

    for name in sorted({r.project for r in results if r.outcome == "ok"}):
        with contextlib.suppress(EvmonError):  # a dashboard is a view: never fail the days for it
            write_project_dashboard(workspace, projects[name])


def _report(progress: Progress | None, result: DayResult) -> None:
    if progress is not None:
        progress(result)


def summarize(results: list[DayResult]) -> str:
    """'7 days: 5 ok, 2 already there, 0 skipped (no rows), 0 failed'."""
    counts = {
        kind: sum(1 for r in results if r.outcome == kind) for kind in ("ok", "exists", "skipped", "busy", "failed")
    }
    parts = [f"{counts['ok']} ok", f"{counts['exists']} already there", f"{counts['skipped']} skipped (no rows)"]
    if counts["busy"]:
        parts.append(f"{counts['busy']} busy elsewhere")
    parts.append(f"{counts['failed']} failed")
    return f"{len(results)} days: " + ", ".join(parts)
