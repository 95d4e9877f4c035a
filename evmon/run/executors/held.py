"""A project-day held by the process that owns the workspace while it is computed elsewhere.

Every executor runs a day the same way: this process takes the day's lock (or logs it busy) and
asks whether it is still to do (evmon.run.day's before_day), another process computes it (a
DayProcess here, a Dask worker), and this process stores the result (store_day: one atomic
write, one run-log row), then releases the lock.
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime

from evmon.errors import EvmonError
from evmon.run.batch import Batch, DayTask
from evmon.run.day import Computed, DayResult, before_day, failed_day, store_day


class HeldDay:
    """A day whose lock this process holds until its computation is stored (or abandoned)."""

    def __init__(self, index: int, task: DayTask, locks: contextlib.ExitStack) -> None:
        self.index, self.task, self.locks = index, task, locks
        self.started_at = datetime.now(UTC)
        self.clock = time.perf_counter()

    @classmethod
    def take(cls, batch: Batch, index: int, task: DayTask) -> HeldDay | DayResult:
        """The day, its lock held; or the DayResult when there is nothing to compute (busy, exists)."""
        kwargs = batch.day_kwargs
        locks = contextlib.ExitStack()
        try:
            locked = locks.enter_context(batch.workspace.day_lock(task.project.name, task.day))
        except EvmonError as exc:  # its lock cannot be taken (a full or read-only disk): this day fails alone
            return failed_day(
                batch.workspace, task.project, task.day, str(exc), kwargs["trigger"], kwargs["started_by"]
            )
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
        return cls(index, task, locks)

    def store(self, batch: Batch, computed: Computed) -> DayResult:
        """Write the day's snapshot and run-log row (a failed Computed: its row only), then release the lock."""
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

    def release(self) -> None:
        """Abandon the day (stopped, or the batch failed): nothing is written, its lock is freed."""
        self.locks.close()
