"""Fixtures of the app tests: a workspace with a shifted day and its clean week-before, AppTest runs.

`shift_workspace` (read-only, once per session) is the shared demo workspace plus two days of
credit_scorecard computed with the real runner: the first day of the demo's feature shift
(Episodes.feature_shift[0]) and the same weekday a week before it, a clean day. Tests that
write get their own copy (`app_workspace`).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import DEMO_TODAY, shared_artifact

APP = Path(__file__).resolve().parents[2] / "streamlit_app" / "app.py"
UI_URL = "http://127.0.0.1:8000"
CREDIT = "credit_scorecard"
TAXI = "taxi_duration"


@pytest.fixture(autouse=True)
def main_module_kept() -> Iterator[None]:
    """Streamlit's AppTest runs app.py as sys.modules["__main__"] and leaves it there: a later test in the same
    worker that starts a process by spawn would then run the whole app in the child first."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture(scope="session")
def shift_days(demo_episodes) -> tuple[date, date]:  # type: ignore[no-untyped-def]
    """(clean day A, shifted day B): B is the first day of the feature shift, A the same weekday before."""
    from evmon.compare.values import week_before

    shifted = demo_episodes.feature_shift[0]
    clean = week_before(shifted)
    episode_days = {*demo_episodes.feature_shift, demo_episodes.missing_spike, *demo_episodes.concept_drift}
    assert clean not in episode_days
    return clean, shifted


@pytest.fixture(scope="session")
def shift_workspace(
    demo_workspace: Path, demo_dir: Path, shift_days: tuple[date, date], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The demo workspace plus credit_scorecard's shifted day and its clean week-before (read-only!)."""
    from evmon.config.loader import load_config
    from evmon.run.day import run_day
    from evmon.storage.files import FilesWorkspace

    def build(folder: Path) -> None:
        root = folder / "workspace"
        shutil.copytree(demo_workspace, root)
        config = load_config(demo_dir / "projects.yaml")
        workspace = FilesWorkspace(root)
        for day in shift_days:
            result = run_day(config, config.project(CREDIT), day, workspace=workspace, today=DEMO_TODAY, trigger="test")
            assert result.outcome == "ok", result.line()

    return shared_artifact(tmp_path_factory, "shift_ws", build) / "workspace"


@pytest.fixture()
def app_workspace(shift_workspace: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the shift workspace."""
    root = tmp_path / "workspace"
    shutil.copytree(shift_workspace, root)
    return root


@pytest.fixture(autouse=True)
def loopback_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """AppTest runs as `evmon app` starts the app by default: on 127.0.0.1, without --allow-writes."""
    monkeypatch.setenv("EVMON_APP_HOST", "127.0.0.1")
    monkeypatch.setenv("EVMON_APP_ALLOW_WRITES", "0")


@pytest.fixture()
def app_env(app_workspace: Path, demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The app's environment: the demo projects.yaml, the private workspace, the UI URL."""
    monkeypatch.setenv("EVMON_CONFIG", str(demo_dir / "projects.yaml"))
    monkeypatch.setenv("EVMON_WORKSPACE", str(app_workspace))
    monkeypatch.setenv("EVMON_UI_URL", UI_URL)
    return app_workspace


@pytest.fixture()
def broken_config(tmp_path: Path) -> Path:
    """A projects.yaml whose one project reads a file that is not Parquet: its source fails."""
    data = tmp_path / "broken_data"
    data.mkdir()
    (data / "2026-03-31.parquet").write_bytes(b"this is not a parquet file")
    (data / "reference.parquet").write_bytes(b"nor is this")
    path = tmp_path / "broken.yaml"
    path.write_text(
        "workspace: broken_workspace\n"
        "projects:\n"
        "  - name: broken\n"
        "    source: {path: broken_data/*.parquet, timestamp_column: ts}\n"
        "    reference: {path: broken_data/reference.parquet}\n"
        "    columns: {numerical: [x]}\n"
        "    presets: {data_drift: true}\n"
    )
    return path


@pytest.fixture()
def config_with_app(demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """The demo projects.yaml plus an `app:` section (YAML text), in its own folder; EVMON_CONFIG names it."""

    def make(app_section: str) -> Path:
        folder = tmp_path / "config"
        folder.mkdir(exist_ok=True)
        if not (folder / "demo_data").exists():
            (folder / "demo_data").symlink_to(demo_dir / "demo_data", target_is_directory=True)
        path = folder / "projects.yaml"
        path.write_text((demo_dir / "projects.yaml").read_text() + "\napp:\n" + app_section)
        monkeypatch.setenv("EVMON_CONFIG", str(path))
        return path

    return make


@pytest.fixture()
def open_app() -> Callable[..., object]:
    """Run the app with AppTest (optionally on a view and project, as a user: AppTest.user, which
    the app reads as st.user); fails on any exception shown."""
    from streamlit.testing.v1 import AppTest

    def run(view: str | None = None, project: str = CREDIT, user: dict[str, object] | None = None) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=180)
        if user is not None:
            at.user = user
        at.run()
        assert not at.exception, at.exception
        if project != at.sidebar.selectbox(key="project").value:
            at.sidebar.selectbox(key="project").set_value(project).run()
        if view is not None:
            at.sidebar.radio(key="view").set_value(view).run()
        assert not at.exception, at.exception
        return at

    return run
