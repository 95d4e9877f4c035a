"""A real Dask cluster on 127.0.0.1 for the tests and the benchmark: `dask scheduler` and `dask worker`
processes (not a LocalCluster inside the test process), stopped afterwards; over TLS when given
certificates (tests/tls_certs.py). Their HTTP endpoints listen on 127.0.0.1 only, as the docs say."""

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
from tests.tls_certs import TlsFiles

DASK = str(Path(sys.executable).with_name("dask"))


@dataclass
class Cluster:
    """A running scheduler and its worker processes."""

    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    tls: TlsFiles | None = None

    def client(self):  # type: ignore[no-untyped-def]
        """A client of this cluster (with its certificates when it speaks TLS)."""
        from distributed import Client

        return Client(self.address, timeout=30, set_as_default=False, security=security(self.tls))

    def worker_pids(self) -> dict[str, int]:
        """Worker address -> the pid of the process running it (not its nanny)."""
        with self.client() as client:
            return dict(client.run(os.getpid))


def security(tls: TlsFiles | None):  # type: ignore[no-untyped-def]
    from distributed import Security

    if tls is None:
        return None
    return Security(
        tls_ca_file=str(tls.ca_file),
        tls_client_cert=str(tls.cert_file),
        tls_client_key=str(tls.key_file),
        require_encryption=True,
    )


def _start(args: list[str], env: dict[str, str], log: Path, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd)


def start_workers(
    address: str,
    count: int,
    folder: Path,
    env: dict[str, str] | None = None,
    tls: TlsFiles | None = None,
    cwd: Path | None = None,
    prefix: list[str] | None = None,
) -> subprocess.Popen[bytes]:
    """`dask worker` with `count` single-threaded worker processes (each under a nanny).

    cwd: the workers' working directory (default: this process's); prefix: a command that runs
    `dask worker` (e.g. in a mount namespace of its own).
    """
    args = [*(prefix or []), DASK, "worker", address, "--nworkers", str(count), "--nthreads", "1"]
    args += ["--host", "127.0.0.1", "--no-dashboard", "--dashboard-address", "127.0.0.1:0"]
    args += ["--local-directory", str(folder / "dask-worker-space"), *(tls.dask_args() if tls else [])]
    return _start(args, {**os.environ, **(env or {}), "DO_NOT_TRACK": "1"}, folder / "workers.log", cwd)


def wait_for_workers(address: str, count: int, timeout: float = 120.0, tls: TlsFiles | None = None) -> None:
    from distributed import Client

    with Client(address, timeout=30, set_as_default=False, security=security(tls)) as client:
        client.wait_for_workers(count, timeout=timeout)


@contextmanager
def dask_cluster(
    folder: Path,
    workers: int = 2,
    worker_env: dict[str, str] | None = None,
    tls: TlsFiles | None = None,
    worker_cwd: Path | None = None,
    worker_prefix: list[str] | None = None,
) -> Iterator[Cluster]:
    """A scheduler on a free port of 127.0.0.1 and `workers` worker processes; all stopped at the end.

    worker_cwd, worker_prefix: start_workers' cwd and prefix.
    """
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    address = f"{'tls' if tls else 'tcp'}://127.0.0.1:{port}"
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    args = [DASK, "scheduler", "--host", address.rsplit(":", 1)[0], "--port", str(port), "--no-dashboard"]
    args += ["--dashboard-address", f"127.0.0.1:{free_port()}", *(tls.dask_args() if tls else [])]
    scheduler = _start(args, env, folder / "scheduler.log")
    cluster = Cluster(address, scheduler, tls=tls)
    try:
        cluster.workers.append(start_workers(address, workers, folder, worker_env, tls, worker_cwd, worker_prefix))
        wait_for_workers(address, workers, tls=tls)
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
