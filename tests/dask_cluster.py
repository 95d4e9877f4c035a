"""A real Dask cluster on 127.0.0.1 for the tests and the benchmark: `dask scheduler` and `dask worker`
processes (not a LocalCluster inside the test process), stopped afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from evmon.processes import free_port

DASK = str(Path(sys.executable).with_name("dask"))


@dataclass
class Cluster:
    """A running scheduler and its worker processes."""

    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def worker_pids(self) -> dict[str, int]:
        """Worker address -> the pid of the process running it (not its nanny)."""
        from distributed import Client

        with Client(self.address, timeout=30, set_as_default=False) as client:
            return dict(client.run(os.getpid))


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def start_workers(address: str, count: int, folder: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`dask worker` with `count` single-threaded worker processes (each under a nanny)."""
    args = [DASK, "worker", address, "--nworkers", str(count), "--nthreads", "1", "--no-dashboard"]
    args += ["--local-directory", str(folder / "dask-worker-space")]
    return _start(args, {**os.environ, **(env or {}), "DO_NOT_TRACK": "1"}, folder / "workers.log")


def wait_for_workers(address: str, count: int, timeout: float = 120.0) -> None:
    from distributed import Client

    with Client(address, timeout=30, set_as_default=False) as client:
        client.wait_for_workers(count, timeout=timeout)


@contextmanager
def dask_cluster(folder: Path, workers: int = 2, worker_env: dict[str, str] | None = None) -> Iterator[Cluster]:
    """A scheduler on a free port of 127.0.0.1 and `workers` worker processes; all stopped at the end."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    scheduler = _start(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], env, folder / "scheduler.log"
    )
    cluster = Cluster(address, scheduler)
    try:
        cluster.workers.append(start_workers(address, workers, folder, worker_env))
        wait_for_workers(address, workers)
        yield cluster
    finally:
        for process in [*cluster.workers, scheduler]:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """End a process and everything it started (its session)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)
        except ProcessLookupError:
            pass
    time.sleep(0.1)
