"""Fixtures of the Prometheus tests: demo data running on past the shared demo workspace, configs, workspaces."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from evmon.demo_data import ensure_demo_data
from evmon.workspace import Workspace
from tests.conftest import REPO

DATA_END = date(2026, 4, 10)  # the shared demo data ends on DEMO_END (03-31): "the next days" need rows
CREDIT, TAXI = "credit_scorecard", "taxi_duration"


@pytest.fixture(scope="session")
def data_dir(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo data, extended (clean days, same episodes) to DATA_END."""
    folder = tmp_path_factory.mktemp("prometheus_data")
    shutil.copytree(demo_dir / "demo_data", folder / "demo_data")
    ensure_demo_data(folder / "demo_data", end=DATA_END)
    return folder


def write_config(path: Path, data_dir: Path, extra: dict[str, Any] | None = None, **projects: dict[str, Any]) -> Path:
    """projects.yaml holding the named demo projects (absolute data paths), each with overrides."""
    raw = yaml.safe_load((REPO / "projects.yaml").read_text())
    chosen = []
    for name, overrides in projects.items():
        project = next(p for p in raw["projects"] if p["name"] == name)
        project["source"]["path"] = str(data_dir / project["source"]["path"])
        if "path" in project["reference"]:
            project["reference"]["path"] = str(data_dir / project["reference"]["path"])
        project.update(overrides)
        chosen.append(project)
    raw["projects"] = chosen
    raw.update(extra or {})
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def copy_workspace(demo_workspace: Path, target: Path) -> Workspace:
    """A writable copy of the shared demo workspace (both projects, DEMO_END-4..DEMO_END, made on DEMO_TODAY)."""
    shutil.copytree(demo_workspace, target)
    return Workspace(target)
