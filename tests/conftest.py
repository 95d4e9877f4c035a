"""Shared fixtures: the demo data and config, fresh workspaces, a demo workspace with snapshots.

The expensive parts are session-scoped (demo data: ~1 s; the demo workspace: a few real
Evidently reports); every test that writes gets its own tmp workspace.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

os.environ["DO_NOT_TRACK"] = "1"

REPO = Path(__file__).resolve().parents[1]
DEMO_END = date(2026, 3, 31)  # tests use a fixed end date; the demo's default is yesterday
DEMO_TODAY = DEMO_END + timedelta(days=1)
DEMO_WORKSPACE_DAYS = 5  # days of each demo project in the shared demo workspace


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a copy of the repo's projects.yaml and the demo data (read-only)."""
    from scheduler.demo import ensure_demo_data

    folder = tmp_path_factory.mktemp("demo")
    shutil.copy(REPO / "projects.yaml", folder / "projects.yaml")
    ensure_demo_data(folder / "demo_data", end=DEMO_END)
    return folder


@pytest.fixture(scope="session")
def demo_episodes(demo_dir: Path):  # type: ignore[no-untyped-def]
    from scheduler.demo import ensure_demo_data

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
    """A workspace with the last DEMO_WORKSPACE_DAYS days of both demo projects (read-only!)."""
    from evmon.config_loader import load_config
    from evmon.workspace import Workspace
    from scheduler.backfill import DayTask, run_many

    root = tmp_path_factory.mktemp("demo_ws") / "workspace"
    config = load_config(demo_dir / "projects.yaml")
    workspace = Workspace(root)
    days = [DEMO_END - timedelta(days=i) for i in range(DEMO_WORKSPACE_DAYS)]
    tasks = [DayTask(p, d) for p in config.projects for d in sorted(days)]
    results = run_many(config, tasks, workspace=workspace, workers=2, today=DEMO_TODAY)
    assert all(r.outcome == "ok" for r in results), [r.line() for r in results]
    return root


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No EVMON_* variables leaking in from the developer's shell."""
    for key in list(os.environ):
        if key.startswith("EVMON_"):
            monkeypatch.delenv(key)
    yield
