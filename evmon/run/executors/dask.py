"""Project-days computed on a Dask cluster, written by the one process that owns the workspace.

The unit of work is a project-day. For each, this process (the submitter) takes the day's
lock, submits `compute_day` (read the day's rows, run the Report, return the snapshot's bytes)
to the cluster, and when the result comes back writes it with the same atomic write and run-log
row as a local run, then releases the lock. Workers need the project's data (local paths they
share, or object-store URLs), never the workspace. Two submitters on one workspace never write a
day twice: the second finds the day's lock held (busy) or its snapshot there.

Failures: a worker that dies mid-task has its task re-run by Dask on another worker, or the day
is reported failed (KilledWorker); nothing is half-written, since only this process writes, at
once. A scheduler that does not answer is one error before anything starts. If this process
is killed, the cluster drops its tasks (their client is gone) and nothing is written; a re-run
does what is missing. Workers whose evmon or Evidently version differs from this process's are
refused before any task is sent, naming both versions.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import queue
import threading
import time
import uuid
from collections import deque
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Self

import evmon
from evmon.config.model import EvmonConfig, Project
from evmon.config.sections import ExecutorSettings
from evmon.errors import EvmonError
from evmon.evidently import evidently_version
from evmon.run.batch import Batch, DayTask, Interrupted
from evmon.run.day import Computed, DayResult, before_day, compute_day, store_day
from evmon.run.executors.base import Executor

if TYPE_CHECKING:
    from distributed import Client, Future

DASK_EXTRA = "pip install 'evmon[dask]'"
WAIT_S = 0.5  # how often a waiting submitter looks at its stop event


class ExecutorError(EvmonError):
    """The Dask cluster cannot be used: extra missing, scheduler unreachable, no workers, other versions."""


def versions() -> dict[str, str]:
    """What must be the same on the submitter and every worker."""
    return {"evmon": evmon.__version__, "evidently": evidently_version(), "python": platform.python_version()}


def connect(settings: ExecutorSettings) -> Client:
    """A client of the cluster at settings.address, its workers' versions checked; ExecutorError if not usable."""
    try:
        from distributed import Client
    except ImportError as exc:
        raise ExecutorError(f"the Dask executor needs the dask and distributed packages: {DASK_EXTRA}") from exc
    address, timeout = settings.address, settings.connect_timeout_s
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExecutorError(
            f"the Dask scheduler at {address} did not answer within {timeout:g}s ({first}); "
            "start it (`dask scheduler`), or run with --executor local"
        ) from exc
    try:
        _check(client, address)
    except BaseException:
        client.close()
        raise
    return client


def _check(client: Client, address: str | None) -> None:
    workers = client.scheduler_info().get("workers", {})
    if not workers:
        raise ExecutorError(f"the Dask scheduler at {address} has no workers; start some (`dask worker {address}`)")
    mine = versions()
    for worker, theirs in sorted(client.run(versions).items()):
        for name in ("evmon", "evidently", "python"):
            if theirs.get(name) != mine[name]:
                raise ExecutorError(
                    f"the Dask worker {worker} runs {name} {theirs.get(name)}, this process {name} {mine[name]}: "
                    "install the same versions on both sides"
                )


class DaskExecutor(Executor):
    """The Dask cluster at settings.address computes; this process stores each day as its result arrives."""

    def __init__(self, settings: ExecutorSettings) -> None:
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: ExecutorSettings, workers: int) -> Self:
        return cls(settings)

    def run(self, batch: Batch, todo: list[tuple[int, DayTask]], stop: threading.Event | None, total: int) -> None:
        run_on_dask(batch, todo, self.settings, stop, total)


def run_on_dask(
    batch: Batch,
    todo: list[tuple[int, DayTask]],
    settings: ExecutorSettings,
    stop: threading.Event | None,
    total: int,
) -> None:
    """Compute `todo` on the cluster, store each result here as it arrives (into `batch`)."""
    client = connect(settings)
    inflight: dict[Future, _InFlight] = {}
    finished: queue.Queue[Future] = queue.Queue()  # filled by the futures' done-callbacks
    try:
        threads = sum(int(w.get("nthreads", 1)) for w in client.scheduler_info()["workers"].values())
        window = max(2, 2 * threads)  # enough queued to keep every worker busy, no more results held
        waiting = deque(todo)
        while waiting or inflight:
            if stop is not None and stop.is_set():
                raise Interrupted(batch.done(), total)
            while waiting and len(inflight) < window:
                index, task = waiting.popleft()
                submitted = _submit(client, batch, index, task)
                if isinstance(submitted, DayResult):
                    batch.record(index, submitted)
                else:
                    inflight[submitted.future] = submitted
                    submitted.future.add_done_callback(finished.put)
            if inflight:
                try:
                    future = finished.get(timeout=WAIT_S)  # then look at the stop event again
                except queue.Empty:
                    continue
                entry = inflight.pop(future)
                batch.record(entry.index, entry.store(batch, _computed(future, entry.task)))
    finally:
        for entry in inflight.values():  # stopped or failed: drop the rest, release their days
            entry.future.cancel()
            entry.locks.close()
        client.close()


class _InFlight:
    """A project-day on the cluster: its lock (held here until stored) and the future of its computation."""

    def __init__(self, index: int, task: DayTask, locks: contextlib.ExitStack, future: Future) -> None:
        self.index, self.task, self.locks, self.future = index, task, locks, future
        self.started_at = datetime.now(UTC)
        self.clock = time.perf_counter()

    def store(self, batch: Batch, computed: Computed) -> DayResult:
        try:
            kwargs = batch.day_kwargs
            return store_day(
                batch.workspace,
                self.task.project,
                self.task.day,
                computed,
                self.started_at,
                time.perf_counter() - self.clock,
                kwargs["trigger"],
                kwargs["started_by"],
            )
        finally:
            self.locks.close()


def _submit(client: Client, batch: Batch, index: int, task: DayTask) -> _InFlight | DayResult:
    """Take the day's lock and send its computation; the DayResult when there is nothing to compute."""
    kwargs = batch.day_kwargs
    locks = contextlib.ExitStack()
    locked = locks.enter_context(batch.workspace.day_lock(task.project.name, task.day))
    try:
        early = before_day(
            batch.workspace,
            task.project,
            task.day,
            locked,
            kwargs["force"],
            task.still_due,
            kwargs["trigger"],
            kwargs["started_by"],
        )
    except BaseException:
        locks.close()
        raise
    if early is not None:
        locks.close()
        return early
    key = f"evmon-{task.project.name}-{task.day.isoformat()}-{uuid.uuid4().hex[:8]}"
    future = client.submit(
        compute_on_worker, batch.config, task.project, task.day, kwargs["today"], key=key, pure=False
    )
    return _InFlight(index, task, locks, future)


def compute_on_worker(config: EvmonConfig, project: Project, day: date, today: date | None) -> Computed:
    """compute_day on a Dask worker, its allocator first given back glibc's usual large-block threshold."""
    _restore_mmap_threshold()
    return compute_day(config, project, day, today)


_TUNED: list[bool] = []
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
MMAP_THRESHOLD = 32 * 1024 * 1024  # the ceiling glibc's own dynamic threshold grows to


def _restore_mmap_threshold() -> None:
    """Undo, once per worker process, what Dask's nanny costs a pandas-heavy task (measured: +35% a day).

    The nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which turns glibc's dynamic mmap
    threshold off: every block over 128 KiB (each column of a day's frame) is then mmap-ed and
    unmapped again, page faults and all. Setting the mmap threshold back to glibc's own ceiling
    keeps the small trim threshold (memory still goes back to the system) without that cost.
    """
    if _TUNED or platform.libc_ver()[0] != "glibc" or "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return
    _TUNED.append(True)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def _computed(future: Future, task: DayTask) -> Computed:
    """The worker's result, or a failed Computed naming what the cluster said."""
    try:
        result: Any = future.result()
    except Exception as exc:  # KilledWorker, a lost scheduler, a cancelled task: this day failed
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return Computed(
            "failed", error=f"{task.project.name}: the Dask cluster did not compute it: {type(exc).__name__} {first}"
        )
    if not isinstance(result, Computed):
        return Computed("failed", error=f"{task.project.name}: the Dask worker returned {type(result).__name__}")
    return result
