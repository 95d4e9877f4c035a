"""DayProcesses kept warm between runs: a long-lived caller's days skip the import and the reference's work.

Each run_many starts its DayProcesses and ends them when its days are done. For the scheduler that
is every fire: each project's night, one day, paid a fresh interpreter importing evmon and
Evidently (~4.7 s on this 2-core VM) and the reference's side of the day (read, sorted, its
statistics and curves: the memo's caches start empty), about six times the day's own work.

A DayProcessPool keeps the processes a run is done with, alive and idle, for the next run of the
same owner (the scheduler holds one for its life): the next fire's day goes to a process that has
imported everything and kept its caches (the reference frames and fitted state of its projects, the
memo's kept reference results; each bounded, least recently used out first). A process that died
or was ended (past a day's time limit) is not kept; at most `size` are, the others are ended.
close() ends them all; each also dies with its parent, as every DayProcess does.
"""

from __future__ import annotations

import threading

from evmon.run.executors.process import DayProcess


class DayProcessPool:
    """Up to `size` idle DayProcesses kept between runs, handed out and taken back thread-safely."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._idle: list[DayProcess] = []
        self._lock = threading.Lock()
        self._closed = False

    def take(self) -> DayProcess:
        """An idle kept process (started, its imports done), else a new one (started on its first day)."""
        dead: list[DayProcess] = []
        with self._lock:
            while self._idle:
                process = self._idle.pop()
                if process.pid is not None:
                    break
                dead.append(process)
            else:
                process = DayProcess()
        for gone in dead:  # died while idle (the OOM killer): its connection closed, its exit collected
            gone.kill()
        return process

    def give_back(self, process: DayProcess) -> None:
        """Keep `process` for the next run if it is alive and idle and there is room; else end it."""
        with self._lock:
            if not self._closed and process.pid is not None and not process.busy and len(self._idle) < self.size:
                self._idle.append(process)
                return
        process.kill()

    def pids(self) -> list[int]:
        """The process ids of the idle kept processes."""
        with self._lock:
            return [pid for pid in (process.pid for process in self._idle) if pid is not None]

    def close(self) -> None:
        """End every kept process; later give_back()s end theirs (idempotent)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for process in idle:
            process.kill()
