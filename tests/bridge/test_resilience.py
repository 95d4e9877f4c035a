"""The bridge as a process: killed mid-sync, Postgres going away for long, the embedded server with no DSN."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from evmon.bridge.embedded import EmbeddedPostgres
from evmon.bridge.sync import Bridge
from evmon.processes import free_port
from evmon.storage.base import Workspace
from tests.bridge.helpers import all_files, assert_in_step, clone_snapshot, copy_workspace, count


def _evmon(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "evmon.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (psycopg.Error, AssertionError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture()
def pg_folder() -> Iterator[Path]:
    """A folder for an embedded server's data: outside pytest's 0700 tmp tree (the server runs unprivileged)."""
    parent = Path(tempfile.mkdtemp(prefix="evmon-test-embedded-"))
    parent.chmod(0o711)
    yield parent
    shutil.rmtree(parent, ignore_errors=True)


def test_kill_9_mid_sync_then_sync_again(
    demo_workspace: Path, tmp_path: Path, pg_dsn: str, demo_config_path: Path
) -> None:
    ws = copy_workspace(demo_workspace, tmp_path / "workspace")  # the path EVMON_WORKSPACE names
    for file in list(all_files(ws).values()):
        clone_snapshot(ws, file)
    Bridge(ws, pg_dsn).sync_once()
    assert_in_step(ws, pg_dsn)

    # change every file (each takes another day's content), delete one
    files = sorted(all_files(ws).values(), key=lambda f: (str(f.project_id), str(f.snapshot_id)))
    contents = [f.path.read_bytes() for f in files]
    for i, file in enumerate(files):
        nxt = (i + 1) % len(files)
        if files[nxt].project_id == file.project_id:
            ws.write_snapshot(file.project_id, file.snapshot_id, contents[nxt])
        else:
            ws.write_snapshot(file.project_id, file.snapshot_id, contents[i] + b" ")
    ws.delete_snapshot(files[0].project_id, files[0].snapshot_id)
    changed = sorted(all_files(ws).values(), key=lambda f: f.mtime_ns)
    blocker = changed[len(changed) // 2]

    # hold the old rows of a snapshot in the middle: the bridge blocks inside its transaction there
    with psycopg.connect(pg_dsn) as holder:
        holder.execute("SELECT 1 FROM evmon.metric_values WHERE snapshot_id = %s FOR UPDATE", (blocker.snapshot_id,))
        proc = _evmon("bridge", "--once", "-c", str(demo_config_path), env={**os.environ, "EVMON_PG_DSN": pg_dsn})

        def bridge_blocked() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"the bridge exited: {proc.communicate()}")
            waiting = """SELECT count(*) FROM pg_stat_activity
                         WHERE datname = current_database() AND wait_event_type = 'Lock'"""
            return count(pg_dsn, waiting) > 0  # a new session: pg_stat_activity is frozen within a transaction

        _wait(bridge_blocked, 60, "the bridge to block mid-sync")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        holder.rollback()

    def orphan_gone() -> bool:
        return count(pg_dsn, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()") <= 1

    _wait(orphan_gone, 30, "the killed bridge's session to end")
    with psycopg.connect(pg_dsn) as conn:
        held = dict(conn.execute("SELECT snapshot_id, file_mtime_ns FROM evmon.snapshots").fetchall())
    now = all_files(ws)
    redone = [sid for sid, f in now.items() if held.get(sid) == f.mtime_ns]
    assert 0 < len(redone) < len(now), "the kill should land mid-way"
    assert held.get(blocker.snapshot_id) != blocker.mtime_ns  # its transaction died with the process

    result = Bridge(ws, pg_dsn).sync_once()
    assert result.failed == [] and result.ingested == len(now) - len(redone)
    assert_in_step(ws, pg_dsn)


# Before, the bridge doubled its wait from the sync interval up to 30 s: with --interval 0.3 it
# reached that cap after 0.3 + 0.6 + ... + 19.2 = 38.1 s of outage, and then found a returning
# server up to 30 s late. This outage is longer than that.
OUTAGE_S = 40.0
NOTICED_WITHIN_S = 5.0


class ConnectionCounter:
    """Listens on a stopped server's port and counts the connections made to it (each closed at once, as a
    server that is down would): what the bridge does to a database while it is away."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.count = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.count += 1
            conn.close()

    def close(self) -> int:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(timeout=5)
        return self.count


def test_bridge_catches_up_after_postgres_restarts(
    demo_workspace: Path, tmp_path: Path, demo_config_path: Path, pg_folder: Path
) -> None:
    """A long outage: the bridge survives it, tries at most once a second, and is back within 5 s of the server."""
    ws = copy_workspace(demo_workspace, tmp_path / "workspace")
    port = free_port()
    server = EmbeddedPostgres(pg_folder / "data", port=port)
    dsn = server.start()
    proc = _evmon("bridge", "--interval", "0.3", "-c", str(demo_config_path), env={**os.environ, "EVMON_PG_DSN": dsn})
    try:
        total = len(all_files(ws))

        def synced() -> bool:
            return count(dsn, "SELECT count(*) FROM evmon.snapshots") == len(all_files(ws))

        _wait(synced, 60, "the first sync")
        server.stop()
        counter = ConnectionCounter(port)
        source = next(iter(all_files(ws).values()))
        added = [clone_snapshot(ws, source) for _ in range(2)]
        gone = next(f for f in all_files(ws).values() if f.snapshot_id != source.snapshot_id)
        ws.delete_snapshot(gone.project_id, gone.snapshot_id)
        time.sleep(OUTAGE_S)
        attempts = counter.close()
        assert proc.poll() is None, "the bridge must survive Postgres going away"
        server.start()
        back = time.monotonic()
        _wait(synced, 60, "the bridge to catch up")
        noticed_after = time.monotonic() - back
        assert_in_step(ws, dsn)
        assert len(all_files(ws)) == total + len(added) - 1
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=30)
        finally:
            server.stop()
    assert noticed_after <= NOTICED_WITHIN_S, f"caught up {noticed_after:.1f}s after Postgres returned"
    assert OUTAGE_S / NOTICED_WITHIN_S <= attempts <= OUTAGE_S, f"{attempts} connection attempts in {OUTAGE_S:.0f}s"
    assert proc.returncode == 0, err
    assert "unreachable" in err and "back after" in err


def test_embedded_postgres_without_dsn(
    demo_workspace: Path, tmp_path: Path, demo_config_path: Path, pg_folder: Path
) -> None:
    """No EVMON_PG_DSN, no bridge.dsn, nothing listening on the port: evmon brings its own server."""
    ws: Workspace = copy_workspace(demo_workspace, tmp_path / "workspace")
    port = free_port()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=2)
    config = tmp_path / "projects.yaml"
    text = demo_config_path.read_text().replace("demo_data/", f"{demo_config_path.parent}/demo_data/")
    config.write_text(f"{text}\nbridge:\n  embedded_port: {port}\n  embedded_dir: {pg_folder / 'pg'}\n")
    env = {k: v for k, v in os.environ.items() if k != "EVMON_PG_DSN"}

    proc = _evmon("bridge", "--once", "-c", str(config), env=env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "embedded PostgreSQL" in out and f"127.0.0.1:{port}/evmon" in out
    assert f"{len(all_files(ws))} ingested" in out

    server = EmbeddedPostgres(pg_folder / "pg", port=port)
    assert not server.is_running()  # the command stopped the server it started
    dsn = server.start()
    try:
        assert dsn.startswith("postgresql://postgres:") and f"@127.0.0.1:{port}/evmon" in dsn
        assert server.start() == dsn  # idempotent
        assert_in_step(ws, dsn)
        with pytest.raises(psycopg.OperationalError):  # host connections need the password
            psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/evmon", connect_timeout=5)
    finally:
        assert server.stop()
    assert not server.stop()
