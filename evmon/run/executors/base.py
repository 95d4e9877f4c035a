"""The executor interface: compute a batch's project-days somewhere, record each result as it comes."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod

from evmon.errors import EvmonError
from evmon.run.batch import Batch, DayTask


class ExecutorError(EvmonError):
    """The executor cannot be used: the Dask extra missing, its scheduler unreachable, no workers, no TLS files."""


class Executor(ABC):
    """Where project-days are computed (local processes, a Dask cluster); chosen by evmon.run.executors.registry."""

    @abstractmethod
    def run(self, batch: Batch, todo: list[tuple[int, DayTask]], stop: threading.Event | None, total: int) -> None:
        """Run `todo` ((index in the batch, task) pairs), recording each result into `batch` as it arrives.

        Each day is run the same way everywhere (evmon.run.day: its lock, compute, one atomic write,
        one run-log row), each within the executor's day_timeout_s. Raises Interrupted (with the
        results so far) once `stop` is set.
        """
