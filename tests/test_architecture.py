"""The import rules (.importlinter): the fronts call the core and never each other, the core calls no
front, and only evmon/evidently/ imports Evidently. The checks run where CI runs them (run.sh check)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

LINT = str(Path(sys.executable).with_name("lint-imports"))


def contracts(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LINT, str(REPO / ".importlinter")], cwd=tree, capture_output=True, text=True, timeout=300)


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """The evmon package as installed, as links (.ci/package_tree.py, what run.sh check uses)."""
    subprocess.run([sys.executable, str(REPO / ".ci" / "package_tree.py"), str(tmp_path)], check=True)
    return tmp_path


def add_line(tree: Path, module: str, line: str) -> None:
    """Give one module of the tree an extra line (a copy replaces its link; the checkout is untouched)."""
    link = tree / "evmon" / module
    text = link.read_text()
    link.unlink()
    link.write_text(text + f"\n{line}\n")


def test_the_code_keeps_its_contracts(tree: Path) -> None:
    done = contracts(tree)
    assert done.returncode == 0, done.stdout
    assert "Contracts: 2 kept, 0 broken." in done.stdout


def test_an_upward_import_breaks_the_build(tree: Path) -> None:
    add_line(tree, "days.py", "import evmon.scheduler.service  # the core reaching up into a front")
    done = contracts(tree)
    assert done.returncode == 1
    assert "evmon.days is not allowed to import evmon.scheduler" in done.stdout


def test_a_front_importing_another_front_breaks_the_build(tree: Path) -> None:
    add_line(tree, "bridge/store.py", "import evmon.app.data  # one front reaching into another")
    done = contracts(tree)
    assert done.returncode == 1
    assert "evmon.bridge is not allowed to import evmon.app" in done.stdout


def test_evidently_outside_its_door_breaks_the_build(tree: Path) -> None:
    add_line(tree, "compare/values.py", "import evidently  # Evidently outside evmon/evidently/")
    done = contracts(tree)
    assert done.returncode == 1
    assert "evmon.compare.values -> evidently" in done.stdout


def test_the_ci_check_fails_on_a_broken_contract(tmp_path: Path) -> None:
    """What CI runs before the tests (.ci/check), on a copy of the checkout with one upward import."""
    copy = tmp_path / "checkout"
    shutil.copytree(
        REPO, copy, ignore=shutil.ignore_patterns(".venv", ".git", "*.pyc", "workspace", "demo_data", "build")
    )
    (copy / ".venv").symlink_to(REPO / ".venv")
    days = copy / "evmon" / "days.py"
    days.write_text(days.read_text() + "\n\nimport evmon.bridge.sync  # noqa: E402, F401\n")
    done = subprocess.run([str(copy / ".ci" / "check")], cwd=copy, capture_output=True, text=True, timeout=600)
    assert done.returncode != 0
    assert "evmon.days is not allowed to import evmon.bridge" in done.stdout
