"""The architecture, checked where CI checks it (run.sh check, and here):

- the import rules (.importlinter): the rooms of the core in layers, each importing only the rooms
  below it, the fronts never each other, no import cycle anywhere in the package, and only
  evmon/evidently/ imports Evidently;
- the snapshot contract is the only code that knows the keys of a snapshot's metadata and the
  words of its tags (evmon/snapshot/contract.py);
- a backend is chosen once by its registry: no code outside a backend's own module asks whether a
  workspace or an executor is of that backend's class.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evmon.snapshot import contract
from tests.conftest import REPO

LINT = str(Path(sys.executable).with_name("lint-imports"))
PRODUCTION = ("evmon", "scheduler", "bridge", "streamlit_app", "grafana")
CONTRACT = REPO / "evmon" / "snapshot" / "contract.py"
# keys that are also plain words of other code (a run-log column, a config key): counted only where
# a snapshot's metadata is read or written; every other key is counted anywhere in a string, SQL too
COMMON_WORDS = {"project", "rows", "labels", "config_hash", "evmon_version", "day", "window", "reference", "overrides"}
DISTINCT_KEYS = contract.METADATA_KEYS - COMMON_WORDS
TAG_WORDS = {contract.DAILY_TAG, contract.LABELLED_TAG, contract.WHATIF_TAG}
BACKENDS = {
    "FilesWorkspace": "evmon/storage/files.py",
    "PostgresWorkspace": "evmon/storage/postgres.py",
    "LocalExecutor": "evmon/run/executors/local.py",
    "DaskExecutor": "evmon/run/executors/dask.py",
}


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
    assert "Contracts: 3 kept, 0 broken." in done.stdout


def test_an_upward_import_breaks_the_build(tree: Path) -> None:
    add_line(tree, "days.py", "import evmon.scheduler.service  # the core reaching up into a front")
    done = contracts(tree)
    assert done.returncode == 1
    assert "evmon.days is not allowed to import evmon.scheduler" in done.stdout


def test_an_upward_import_between_rooms_breaks_the_build(tree: Path) -> None:
    add_line(tree, "storage/base.py", "import evmon.run.day  # storage reaching up into the runner")
    done = contracts(tree)
    assert done.returncode == 1
    assert "evmon.storage is not allowed to import evmon.run" in done.stdout


def test_an_import_cycle_inside_a_room_breaks_the_build(tree: Path) -> None:
    add_line(tree, "snapshot/contract.py", "import evmon.snapshot.catalog  # catalog imports contract")
    done = contracts(tree)
    assert done.returncode == 1
    assert "No cycles are allowed in evmon.snapshot." in done.stdout


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


# --- the snapshot contract: the one place that knows metadata keys and tag words ----------------------


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _text(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _of_a_snapshot(node: ast.AST) -> bool:
    """Whether an expression is a snapshot's metadata, tags or header (by the names it is reached through)."""
    return bool(re.search(r"metadata|\bmeta\b|tags|header", ast.unparse(node)))


def contract_uses(source: str) -> list[tuple[int, str]]:
    """(line, key or tag word) for each place that reads or writes a snapshot's metadata or tags by literal."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        text = _text(node)
        if text is not None and id(node) not in docstrings:
            code = re.sub(r"--[^\n]*", "", text)  # SQL comments say what a query does; they read nothing
            # the key itself, or quoted inside a longer string (SQL's metadata->>'key'); an unquoted word
            # in SQL is a column or an alias of the bridge's own tables
            found += [
                (node.lineno, key) for key in DISTINCT_KEYS if code == key or re.search(rf"['\"]{key}['\"]", code)
            ]
        if isinstance(node, ast.Subscript) and _text(node.slice) in COMMON_WORDS and _of_a_snapshot(node.value):
            found.append((node.lineno, str(_text(node.slice))))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and _text(node.args[0]) in COMMON_WORDS
            and _of_a_snapshot(node.func.value)
        ):
            found.append((node.lineno, str(_text(node.args[0]))))
        if isinstance(node, ast.Compare) and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops):
            word = _text(node.left)
            if word in COMMON_WORDS | TAG_WORDS and any(_of_a_snapshot(c) for c in node.comparators):
                found.append((node.lineno, str(word)))
        if isinstance(node, ast.Call) and _of_a_snapshot(node.func):  # e.g. with_metadata(model, {...})
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                keys = arg.keys if isinstance(arg, ast.Dict) else []
                found += [(arg.lineno, str(_text(k))) for k in keys if k is not None and _text(k) in COMMON_WORDS]
    return found


def production_files() -> list[Path]:
    return sorted(p for folder in PRODUCTION for p in (REPO / folder).rglob("*.py") if "__pycache__" not in p.parts)


def test_no_metadata_key_or_tag_word_outside_the_contract() -> None:
    found = {
        f"{path.relative_to(REPO)}:{line}: {key!r}"
        for path in production_files()
        if path != CONTRACT
        for line, key in contract_uses(path.read_text())
    }
    assert not found, "read or write these through evmon.snapshot.contract:\n" + "\n".join(sorted(found))


@pytest.mark.parametrize(
    ("code", "key"),
    [
        ("entry.metadata.get('rows')", "rows"),  # the app reading rows from the raw metadata
        ("labels = header['metadata']['labels'] == 'yes'", "labels"),
        ("with_metadata(model, {'saved_by': user})", "saved_by"),  # a what-if writing who saved it
        ("if 'labelled' in snapshot.get('tags', []): pass", "labelled"),
        ("SQL = \"SELECT s.metadata->>'prediction_column' FROM evmon.snapshots s\"", "prediction_column"),
        ("ok = 'estimation_rows' in entry.metadata", "estimation_rows"),
        ("marked = {**doc['metadata'], 'evmon_compacted': 'yes'}", "evmon_compacted"),
    ],
)
def test_the_contract_check_finds_a_key_used_elsewhere(code: str, key: str) -> None:
    assert key in {found for _, found in contract_uses(code)}


def test_the_contract_check_leaves_other_code_alone() -> None:
    other = (
        "def f(run, row, frame):\n"
        '    """The rows of a run (a docstring may name saved_by or evmon_kind)."""\n'
        "    total = row['rows'] + run.get('labels', 0)  # a run-log row, not a snapshot\n"
        "    table = {'rows': total, 'day': frame.day}  # a table's columns\n"
        "    return 'daily' in frame.columns\n"
    )
    assert contract_uses(other) == []


# --- backends are chosen once, by their registry --------------------------------------------------------


def test_no_code_asks_for_a_backend_class_outside_its_own_module() -> None:
    asked = []
    for path in production_files():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("isinstance", "issubclass", "type")
            ):
                for name in re.findall(r"\w+", " ".join(ast.unparse(a) for a in node.args[1:] or node.args)):
                    if name in BACKENDS and str(path.relative_to(REPO)) != BACKENDS[name]:
                        asked.append(f"{path.relative_to(REPO)}:{node.lineno}: {ast.unparse(node)}")
    assert not asked, "ask the Workspace or Executor interface instead:\n" + "\n".join(asked)


def test_no_production_file_is_over_450_lines() -> None:
    """Files of one job each: a module that grows past this is doing two."""
    long = {str(p.relative_to(REPO)): n for p in production_files() if (n := len(p.read_text().splitlines())) > 450}
    assert not long, long
