"""evmon.storage.registry: the workspace a config points at, its backend chosen once by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from evmon.config.loader import load_config
from evmon.config.sections import UiSettings
from evmon.errors import ConfigError
from evmon.storage import registry
from evmon.storage.files import FilesWorkspace
from evmon.storage.postgres import PostgresWorkspace


def test_every_storage_projects_yaml_accepts_has_a_backend_and_no_other() -> None:
    accepted = set(UiSettings.model_fields["storage"].annotation.__args__)  # type: ignore[union-attr]
    assert set(registry.BACKENDS) == accepted
    for name in accepted:
        assert registry.backend(name).name == name


def test_files_by_default_at_the_configured_folder(demo_dir: Path, clean_env: None) -> None:
    config = load_config(demo_dir / "projects.yaml")
    workspace = registry.workspace_for(config)
    assert type(workspace) is FilesWorkspace
    assert workspace.root == (demo_dir / "workspace").absolute()
    assert workspace.describe() == f"the files of {workspace.root}"
    assert workspace.ui_arguments() == ["--workspace", str(workspace.root)]


def test_the_environment_chooses_the_ui_database_and_its_dsn(
    demo_dir: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EVMON_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("EVMON_UI_STORAGE", "postgres")
    monkeypatch.setenv("EVMON_UI_DSN", "postgresql://evmon@db.example:5433/evmon_ui")
    workspace = registry.workspace_for(load_config(demo_dir / "projects.yaml"))  # nothing is connected yet
    assert type(workspace) is PostgresWorkspace
    assert workspace.root == tmp_path / "ws"
    assert workspace.describe() == "the UI's database (postgres db.example:5433/evmon_ui)"
    named = registry.workspace_for(load_config(demo_dir / "projects.yaml"), "files")  # migrate-ui's other side
    assert type(named) is FilesWorkspace and named.root == workspace.root


def test_an_unknown_storage_is_one_clear_error(
    demo_dir: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVMON_UI_STORAGE", "s3")
    with pytest.raises(ConfigError) as info:
        registry.workspace_for(load_config(demo_dir / "projects.yaml"))
    assert str(info.value) == "EVMON_UI_STORAGE='s3': expected files or postgres"
