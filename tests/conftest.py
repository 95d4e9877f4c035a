"""Shared fixtures: the demo data and config, fresh workspaces, a demo workspace with snapshots.

The expensive parts are session-scoped (demo data: ~1 s; the demo workspace: a few real
Evidently reports) and, under pytest-xdist, built once for all workers (`shared_artifact`);
they are read-only: every test that writes gets its own tmp workspace or copy.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

os.environ["DO_NOT_TRACK"] = "1"

REPO = Path(__file__).resolve().parents[1]
DEMO_END = date(2026, 3, 31)  # tests use a fixed end date; the demo's default is yesterday
DEMO_TODAY = DEMO_END + timedelta(days=1)
DEMO_WORKSPACE_DAYS = 5  # days of each demo project in the shared demo workspace
# the demo's third project reads what the credit model's service logged (its row log): the demo data has no
# such rows, so the shared demo workspace holds the two projects of generated data (tests/online test it)
DEMO_LIVE = "credit_scorecard_live"


def shared_artifact(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A folder built once per test run, shared by the xdist workers (a file lock orders them)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's folder, above each worker's own
    folder = base / f"shared-{name}"
    with open(base / f"shared-{name}.lock", "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        if not (folder / ".complete").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            build(folder)
            (folder / ".complete").touch()
    return folder


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a copy of the repo's projects.yaml and the demo data (read-only)."""
    from evmon.demo.data import ensure_demo_data

    def build(folder: Path) -> None:
        shutil.copy(REPO / "projects.yaml", folder / "projects.yaml")
        ensure_demo_data(folder / "demo_data", end=DEMO_END)

    return shared_artifact(tmp_path_factory, "demo", build)


@pytest.fixture(scope="session")
def demo_episodes(demo_dir: Path):  # type: ignore[no-untyped-def]
    from evmon.demo.data import ensure_demo_data

    return ensure_demo_data(demo_dir / "demo_data", end=DEMO_END)


@pytest.fixture()
def demo_config_path(demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo projects.yaml, with EVMON_WORKSPACE pointing at a fresh tmp workspace."""
    monkeypatch.setenv("EVMON_WORKSPACE", str(tmp_path / "workspace"))
    return demo_dir / "projects.yaml"


@pytest.fixture()
def workspace_path(demo_config_path: Path, tmp_path: Path) -> Path:
    return tmp_path / "workspace"


@pytest.fixture(scope="session")
def demo_workspace(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with the last DEMO_WORKSPACE_DAYS days of both demo projects of generated data (read-only!)."""
    from evmon.config.loader import load_config
    from evmon.run.batch import DayTask
    from evmon.run.many import run_many
    from evmon.storage.files import FilesWorkspace

    def build(folder: Path) -> None:
        config = load_config(demo_dir / "projects.yaml")
        days = [DEMO_END - timedelta(days=i) for i in range(DEMO_WORKSPACE_DAYS)]
        tasks = [DayTask(p, d) for p in config.projects if p.name != DEMO_LIVE for d in sorted(days)]
        results = run_many(config, tasks, workspace=FilesWorkspace(folder / "workspace"), workers=2, today=DEMO_TODAY)
        assert all(r.outcome == "ok" for r in results), [r.line() for r in results]

    return shared_artifact(tmp_path_factory, "demo_ws", build) / "workspace"


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No EVMON_* variables leaking in from the developer's shell."""
    for key in list(os.environ):
        if key.startswith("EVMON_"):
            monkeypatch.delenv(key)
    yield


# ---- Postgres for the bridge (and anything reading what it writes) ---------------------------
# `pg_server`: an admin DSN (database "postgres") of a reachable server, for the whole session:
# the machine's own PostgreSQL on 127.0.0.1:5432 if it answers (trust auth, user postgres or
# root), else an embedded one (bridge/embedded.py) started in a temp folder on a free port, so
# the suite passes on a fresh machine with no Postgres. EVMON_TEST_EMBEDDED_PG=1 forces the
# embedded one. `pg_dsn`: a fresh throwaway database per test, dropped at teardown.


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """An admin DSN of a running PostgreSQL for this test session."""
    from tests.postgres import embedded_server, system_dsn

    dsn = None if os.environ.get("EVMON_TEST_EMBEDDED_PG") else system_dsn()
    if dsn is not None:
        yield dsn
        return
    with embedded_server("evmon-test-pg-") as admin:
        yield admin


@pytest.fixture()
def pg_dsn(pg_server: str) -> Iterator[str]:
    """A DSN of a fresh, empty database of `pg_server`, dropped after the test."""
    from tests.postgres import throwaway_database

    with throwaway_database(pg_server, "evmon_test_") as dsn:
        yield dsn


# ---- end of the Postgres section ---------------------------------------------------------------


def absolute_paths(project: dict[str, Any], data_dir: Path) -> None:
    """A demo project's (raw) file paths made absolute under `data_dir`: its source, reference, model, and
    row log (the folder its service writes, where the live project's source reads)."""
    project["source"]["path"] = str(data_dir / project["source"]["path"])
    if "path" in project["reference"]:
        project["reference"]["path"] = str(data_dir / project["reference"]["path"])
    if project.get("model"):
        project["model"]["path"] = str(data_dir / project["model"]["path"])
    row_log = (project.get("online") or {}).get("row_log") or {}
    if "path" in row_log:
        row_log["path"] = str(data_dir / row_log["path"])


def write_config(path: Path, data_dir: Path, extra: dict[str, Any] | None = None, **projects: dict[str, Any]) -> Path:
    """projects.yaml holding the named demo projects (absolute data paths), each with overrides."""
    raw = yaml.safe_load((REPO / "projects.yaml").read_text())
    chosen = []
    for name, overrides in projects.items():
        project = next(p for p in raw["projects"] if p["name"] == name)
        absolute_paths(project, data_dir)
        project.update(overrides)
        chosen.append(project)
    raw["projects"] = chosen
    raw.update(extra or {})
    # atomically (a rename), so a service polling the file never reads it half-written
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(yaml.safe_dump(raw, sort_keys=False))
    partial.replace(path)
    return path
