"""Project-days computed on a Dask cluster, written by the one process that owns the workspace.

The unit of work is a project-day. For each, this process (the submitter) takes the day's
lock, submits `compute_day` (read the day's rows, run the Report, return the snapshot's bytes)
to the cluster, and when the result comes back writes it with the same atomic write and run-log
row as a local run, then releases the lock. Workers need the project's data (local paths they
share, or object-store URLs), never the workspace: the config they are sent has its relative
paths anchored at projects.yaml's folder here (EvmonConfig.anchored), whatever folder a worker
started in, and before any day is sent one worker is asked whether it sees each project's files
(one line naming the worker and the file if not, instead of every day failing). Two submitters
on one workspace never write a day twice: the second finds the day's lock held (busy) or its
snapshot there. On a worker, each day runs in a DayProcess within `executor.day_timeout_s`: past
it, that process is killed and the day fails with one line, and the worker's thread is free for
the next day.

Failures: a worker that dies mid-task has its task re-run by Dask on another worker, or the day
is reported failed (KilledWorker); nothing is half-written, since only this process writes, at
once. A scheduler that does not answer is one error before anything starts. If this process
is killed, the cluster drops its tasks (their client is gone) and nothing is written; a re-run
does what is missing. Workers whose evmon or Evidently version differs from this process's are
refused before any task is sent, naming both versions. A tls:// scheduler is reached with the
certificates of `executor.tls` (evmon.run.executors.tls).
"""

from __future__ import annotations

import platform
import queue
import ssl
import threading
import uuid
from collections import deque
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import evmon
from evmon.config.locations import is_url
from evmon.config.model import EvmonConfig, Project
from evmon.config.sections import ExecutorSettings
from evmon.evidently import evidently_version
from evmon.run.batch import Batch, DayTask, Interrupted
from evmon.run.day import Computed, DayResult
from evmon.run.executors.base import Executor, ExecutorError
from evmon.run.executors.held import HeldDay
from evmon.run.executors.pool import DayProcessPool
from evmon.run.executors.process import DayProcess
from evmon.run.executors.tls import DASK_EXTRA, security_for
from evmon.sources.reach import Unseen, unseen

if TYPE_CHECKING:
    from distributed import Client, Future

WAIT_S = 0.5  # how often a waiting submitter looks at its stop event


def versions() -> dict[str, str]:
    """What must be the same on the submitter and every worker."""
    return {"evmon": evmon.__version__, "evidently": evidently_version(), "python": platform.python_version()}


def connect(settings: ExecutorSettings, base_dir: Path | None = None) -> Client:
    """A client of the cluster at settings.address, its workers' versions checked; ExecutorError if not usable.

    base_dir: where relative paths of `executor.tls` start (projects.yaml's folder).
    """
    try:
        from distributed import Client
    except ImportError as exc:
        raise ExecutorError(f"the Dask executor needs the dask and distributed packages: {DASK_EXTRA}") from exc
    address, timeout = settings.address or "", settings.connect_timeout_s
    security = security_for(settings, address, base_dir or Path.cwd())
    try:
        client = Client(address, timeout=timeout, set_as_default=False, security=security)
    except (OSError, TimeoutError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if _tls_refused(exc):
            raise ExecutorError(
                f"the Dask scheduler at {address} and this client do not trust each other's TLS certificates "
                f"({first}); expected certificates signed by the CA the scheduler was started with (--tls-ca-file)"
            ) from exc
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


def _tls_refused(exc: BaseException) -> bool:
    """Whether a failed connection was a TLS handshake that one side refused (a certificate it did not trust)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or any(word in str(seen) for word in ("TLS certificate", "SSLError")):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


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
    def from_settings(cls, settings: ExecutorSettings, workers: int, pool: DayProcessPool | None = None) -> Self:
        return cls(settings)  # the cluster's workers keep their own DayProcesses: a local pool is not used

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
    client = connect(settings, batch.config.base_dir)
    config = batch.config.anchored()  # what the workers get: its relative paths start at projects.yaml's folder
    inflight: dict[Future, _InFlight] = {}
    finished: queue.Queue[Future] = queue.Queue()  # filled by the futures' done-callbacks
    try:
        _preflight(client, config, todo)
        threads = sum(int(w.get("nthreads", 1)) for w in client.scheduler_info()["workers"].values())
        window = max(2, 2 * threads)  # enough queued to keep every worker busy, no more results held
        waiting = deque(todo)
        while waiting or inflight:
            if stop is not None and stop.is_set():
                raise Interrupted(batch.done(), total)
            while waiting and len(inflight) < window:
                index, task = waiting.popleft()
                submitted = _submit(client, batch, config, index, task, settings.day_timeout_s)
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
                held = inflight.pop(future).held
                batch.record(held.index, held.store(batch, _computed(future, held.task)))
    finally:
        for entry in inflight.values():  # stopped or failed: drop the rest, release their days
            entry.future.cancel()
            entry.held.release()
        client.close()


class _InFlight:
    """A project-day on the cluster: held here (its lock) until stored, and the future of its computation."""

    def __init__(self, held: HeldDay, future: Future) -> None:
        self.held, self.future = held, future


def _preflight(client: Client, config: EvmonConfig, todo: list[tuple[int, DayTask]]) -> None:
    """Ask one worker whether it sees the files of each project in `todo`; ExecutorError naming one it does not."""
    projects = list({task.project.name: task.project for _, task in todo}.values())
    if not projects:
        return
    worker = sorted(client.scheduler_info()["workers"])[0]
    # client.run, not a task: it answers at once, even while the worker's threads compute other days
    missing = client.run(first_unseen, config, projects, workers=[worker])[worker]
    if missing is not None:
        need = (
            "the workers need the store's credentials in their environment"
            if is_url(missing.path)
            else "the workers need the project's files at the same absolute paths, or an object-store URL"
        )
        raise ExecutorError(f"dask worker {worker}: cannot see {missing.line()}; {need}")


def first_unseen(config: EvmonConfig, projects: list[Project]) -> Unseen | None:
    """On a worker: the first file of `projects` it cannot see (evmon.sources.reach), or None."""
    for project in projects:
        missing = unseen(config, project)
        if missing is not None:
            return missing
    return None


def _submit(
    client: Client, batch: Batch, config: EvmonConfig, index: int, task: DayTask, limit: float
) -> _InFlight | DayResult:
    """Take the day's lock and send its computation; the DayResult when there is nothing to compute."""
    held = HeldDay.take(batch, index, task)
    if isinstance(held, DayResult):
        return held
    key = f"evmon-{task.project.name}-{task.day.isoformat()}-{uuid.uuid4().hex[:8]}"
    today = batch.day_kwargs["today"]
    try:
        future = client.submit(compute_on_worker, config, task.project, task.day, today, limit, key=key, pure=False)
    except BaseException:
        held.release()
        raise
    return _InFlight(held, future)


# Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which turns glibc's dynamic mmap
# threshold off: every block over 128 KiB (each column of a day's frame) is then mmap-ed and
# unmapped again, page faults and all (measured: +35% a day). A day's process starts without it,
# as a local one does.
NANNY_ENV = ("MALLOC_TRIM_THRESHOLD_",)
_PROCESSES: dict[int, DayProcess] = {}  # on a worker: each of its threads' DayProcess
_PROCESSES_LOCK = threading.Lock()


def compute_on_worker(config: EvmonConfig, project: Project, day: date, today: date | None, limit: float) -> Computed:
    """compute_day on a Dask worker, in the DayProcess of this worker thread, within the day's time limit.

    Past the limit the process is killed and the task returns the failed day: the worker's thread
    is free again at once, and the process's memory given back.
    """
    return _day_process().compute(config, project, day, today, limit)


def _day_process() -> DayProcess:
    me = threading.get_ident()
    with _PROCESSES_LOCK:
        alive = {thread.ident for thread in threading.enumerate()}
        for ident in [ident for ident in _PROCESSES if ident not in alive]:  # a thread the pool let go
            _PROCESSES.pop(ident).kill()
        if me not in _PROCESSES:
            _PROCESSES[me] = DayProcess(drop_env=NANNY_ENV)
        return _PROCESSES[me]


def day_process_pids() -> list[int]:
    """On a worker: the pids of its DayProcesses now running."""
    with _PROCESSES_LOCK:
        return [pid for pid in (process.pid for process in _PROCESSES.values()) if pid is not None]


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
