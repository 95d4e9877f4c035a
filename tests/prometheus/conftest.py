"""Fixtures of the Prometheus tests: demo data running on past the shared demo workspace, configs, workspaces."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from evmon.demo.data import ensure_demo_data
from evmon.storage.files import FilesWorkspace

DATA_END = date(2026, 4, 10)  # the shared demo data ends on DEMO_END (03-31): "the next days" need rows
CREDIT, TAXI = "credit_scorecard", "taxi_duration"


@pytest.fixture(scope="session")
def data_dir(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo data, extended (clean days, same episodes) to DATA_END."""
    folder = tmp_path_factory.mktemp("prometheus_data")
    shutil.copytree(demo_dir / "demo_data", folder / "demo_data")
    ensure_demo_data(folder / "demo_data", end=DATA_END)
    return folder


def copy_workspace(demo_workspace: Path, target: Path) -> FilesWorkspace:
    """A writable copy of the shared demo workspace (both projects, DEMO_END-4..DEMO_END, made on DEMO_TODAY)."""
    shutil.copytree(demo_workspace, target)
    return FilesWorkspace(target)
