"""Project-days computed on this machine, each in a process of its own (a DayProcess per worker).

This process takes each day's lock, hands the day to an idle DayProcess and stores what comes
back (evmon.run.executors.held), as the Dask executor does with its workers. A day that runs past
`executor.day_timeout_s` has its process killed and fails with one line; the others go on. With
one worker (or one day) the days run one after another, and a stop lets the day in progress
finish (what the scheduler's SIGTERM promises); with several, a stop abandons the days in
progress (nothing partial is ever written). The DayProcesses never outlive this process.
"""

from __future__ import annotations

import threading
from collections import deque
from multiprocessing.connection import wait
from typing import Self

from evmon.config.sections import DAY_TIMEOUT_S, ExecutorSettings
from evmon.run.batch import Batch, DayTask, Interrupted
from evmon.run.day import DayResult
from evmon.run.executors.base import Executor
from evmon.run.executors.held import HeldDay
from evmon.run.executors.pool import DayProcessPool
from evmon.run.executors.process import DayProcess

WAIT_S = 0.5  # how often a waiting batch looks at its stop event


class LocalExecutor(Executor):
    """`workers` DayProcesses (one when one worker or one day is enough), each day within its time limit."""

    def __init__(self, workers: int, day_timeout_s: float = DAY_TIMEOUT_S, pool: DayProcessPool | None = None) -> None:
        self.workers = workers
        self.day_timeout_s = day_timeout_s
        self.pool = pool

    @classmethod
    def from_settings(cls, settings: ExecutorSettings, workers: int, pool: DayProcessPool | None = None) -> Self:
        return cls(workers, settings.day_timeout_s, pool)

    def run(self, batch: Batch, todo: list[tuple[int, DayTask]], stop: threading.Event | None, total: int) -> None:
        slots = 1 if self.workers <= 1 or len(todo) <= 1 else min(self.workers, len(todo))
        run_locally(batch, todo, slots, self.day_timeout_s, stop, total, self.pool)


def run_locally(
    batch: Batch,
    todo: list[tuple[int, DayTask]],
    slots: int,
    limit: float,
    stop: threading.Event | None,
    total: int,
    pool: DayProcessPool | None = None,
) -> None:
    """Compute `todo` on `slots` DayProcesses, store each result here as it arrives (into `batch`).

    With `pool`, the processes are taken from it (warm, when it kept some) and the idle ones given
    back at the end; without, they are started here and ended at the end.
    """
    idle = [pool.take() if pool is not None else DayProcess() for _ in range(slots)]
    busy: dict[DayProcess, HeldDay] = {}
    waiting = deque(todo)
    try:
        while waiting or busy:
            if stop is not None and stop.is_set() and (slots > 1 or not busy):
                raise Interrupted(batch.done(), total)  # one worker: the day in progress was finished first
            while waiting and idle and not (stop is not None and stop.is_set()):
                index, task = waiting.popleft()
                held = HeldDay.take(batch, index, task)
                if isinstance(held, DayResult):
                    batch.record(index, held)
                    continue
                process = idle.pop()
                process.send(batch.config, task.project, task.day, batch.day_kwargs["today"], limit)
                busy[process] = held
            if not busy:
                continue
            timeout = min([WAIT_S, *(process.remaining() for process in busy)])
            wait([process.connection for process in busy if process.connection is not None], timeout)
            for process in list(busy):
                computed = process.poll()
                if computed is not None:
                    held = busy.pop(process)
                    idle.append(process)
                    batch.record(held.index, held.store(batch, computed))
    finally:
        for held in busy.values():  # stopped or failed: abandon the days in progress, release them
            held.release()
        for process in busy:
            process.kill()
        for process in idle:
            if pool is not None:
                pool.give_back(process)
            else:
                process.kill()
