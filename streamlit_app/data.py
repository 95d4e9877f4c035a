"""What the views read, cached: the config, a project's catalog of snapshots, one snapshot's values.

Nothing here parses every snapshot: a project's days come from the file listing and each
file's header (name, timestamp, metadata, tags: the first bytes of the file), cached by
(snapshot id, mtime); a snapshot is read and flattened only when a view compares it, cached
by (id, mtime) too, so a re-run day (new mtime) is read again and nothing else is. The
estimate's record reads the estimates of every daily snapshot that holds some, once per (id, mtime); the
attributions on the days quality fell read every labelled daily snapshot's quality and attributions, likewise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import streamlit as st

import evmon  # noqa: F401  (sets DO_NOT_TRACK before Evidently is imported)
from evmon.app.writes import write_access
from evmon.compare.estimated import Estimated, Key, Record, estimation_record, snapshot_estimated
from evmon.compare.quality_drops import LabelledDay, QualityDrops, labelled_day, project_quality_drops
from evmon.compare.values import SnapshotValues, snapshot_values
from evmon.config.loader import load_config
from evmon.config.model import EvmonConfig
from evmon.errors import ConfigError, WorkspaceError
from evmon.services.access import WriteAccess
from evmon.snapshot.catalog import Catalog, catalog, entry_from_header
from evmon.snapshot.flatten import flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.base import Workspace
from evmon.storage.registry import workspace_for

DEFAULT_CONFIG = "projects.yaml"
DEFAULT_UI_URL = "http://127.0.0.1:8000"
# what else decides the workspace (evmon.storage.files.workspace_for): part of its cache key
WORKSPACE_ENV = (
    "EVMON_WORKSPACE",
    "EVMON_STAGING",
    "EVMON_ARCHIVE",
    "EVMON_QUARANTINE",
    "EVMON_UI_DSN",
    "EVMON_PG_DSN",
)


@dataclass(frozen=True)
class AppContext:
    """Where the app reads from (projects.yaml, its workspace, the Evidently UI to link to), and
    whether this session may write (re-run days, save what-ifs)."""

    config: EvmonConfig
    workspace: Workspace
    ui_url: str
    access: WriteAccess


def load_context() -> AppContext:
    """The config named by EVMON_CONFIG (default ./projects.yaml) and this session's write access;
    ConfigError if the config is unusable."""
    path = Path(os.environ.get("EVMON_CONFIG") or DEFAULT_CONFIG).absolute()
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found; set EVMON_CONFIG to your projects.yaml") from exc
    config = _config(str(path), mtime)
    ui_url = (os.environ.get("EVMON_UI_URL") or DEFAULT_UI_URL).rstrip("/")
    overrides = tuple(os.environ.get(name, "") for name in WORKSPACE_ENV)
    return AppContext(config, _workspace(str(path), mtime, overrides), ui_url, write_access(config))


@st.cache_resource(max_entries=4, show_spinner=False)
def _config(path: str, mtime_ns: int) -> EvmonConfig:
    return load_config(path)


@st.cache_resource(max_entries=4, show_spinner=False)
def _workspace(path: str, mtime_ns: int, overrides: tuple[str, ...]) -> Workspace:
    """One workspace per config and environment (a database-backed one holds a connection pool)."""
    return workspace_for(_config(path, mtime_ns))


def _key(workspace: Workspace) -> str:
    """What the cached reads are keyed by: the folder, and the UI's database when it holds the snapshots."""
    return f"{workspace.root}|{getattr(workspace, 'database_url', '')}"


def project_catalog(workspace: Workspace, project: str) -> Catalog:
    """The project's snapshots by kind, from the listing and cached headers."""
    pid = project_id(project)
    entries = []
    for file in workspace.list_snapshots(pid):
        try:
            header = _header(workspace, _key(workspace), str(pid), str(file.snapshot_id), file.mtime_ns)
        except WorkspaceError:
            continue  # deleted or replaced since the listing: the next run sees the new file
        entries.append(entry_from_header(str(file.snapshot_id), header, file.size, file.mtime_ns))
    return catalog(entries, canonical=lambda day: str(daily_snapshot_id(project, day)))


@st.cache_data(max_entries=20000, show_spinner=False)
def _header(_workspace: Workspace, key: str, pid: str, sid: str, mtime_ns: int) -> dict[str, Any]:
    import uuid

    return _workspace.read_snapshot_header(uuid.UUID(pid), uuid.UUID(sid))


def values_of(workspace: Workspace, project: str, snapshot_id: str, mtime_ns: int) -> SnapshotValues:
    """One snapshot's values (read and flattened once per id and mtime); WorkspaceError if unreadable."""
    return _values(workspace, _key(workspace), str(project_id(project)), snapshot_id, mtime_ns)


@st.cache_data(max_entries=64, show_spinner=False)
def _values(_workspace: Workspace, key: str, pid: str, sid: str, mtime_ns: int) -> SnapshotValues:
    import uuid

    # the full snapshot: a compacted one's archived original (compaction keeps only dashboard values)
    return snapshot_values(_workspace.read_full_snapshot(uuid.UUID(pid), uuid.UUID(sid)))


def record_of(workspace: Workspace, project: str, snapshots: Catalog) -> dict[Key, Record]:
    """The project's estimate's record (evmon.compare.estimated), each snapshot's estimates read once per
    id and mtime; WorkspaceError if one is unreadable."""
    pid = str(project_id(project))
    return estimation_record(
        snapshots, lambda entry: _estimated(workspace, _key(workspace), pid, entry.snapshot_id, entry.mtime_ns)
    )


@st.cache_data(max_entries=20000, show_spinner=False)
def _estimated(_workspace: Workspace, key: str, pid: str, sid: str, mtime_ns: int) -> dict[Key, Estimated]:
    import uuid

    return snapshot_estimated(_workspace.read_full_snapshot(uuid.UUID(pid), uuid.UUID(sid)))


def quality_drops_of(workspace: Workspace, project: str, snapshots: Catalog) -> QualityDrops:
    """The project's labelled days split by whether quality fell, and the columns whose attributions moved most
    on the falls (evmon.compare.quality_drops), each snapshot read once per id and mtime; WorkspaceError if one is
    unreadable."""
    pid = str(project_id(project))
    return project_quality_drops(
        snapshots,
        lambda day, entry: _labelled_day(workspace, _key(workspace), pid, entry.snapshot_id, entry.mtime_ns, day),
    )


@st.cache_data(max_entries=20000, show_spinner=False)
def _labelled_day(_workspace: Workspace, key: str, pid: str, sid: str, mtime_ns: int, day: date) -> LabelledDay | None:
    import uuid

    return labelled_day(day, flatten(_workspace.read_full_snapshot(uuid.UUID(pid), uuid.UUID(sid))))


def ui_snapshot_url(ui_url: str, project: str, snapshot_id: str) -> str:
    """The Evidently UI's page of one snapshot (its route /projects/:projectId/reports/:snapshotId)."""
    return f"{ui_url}/projects/{project_id(project)}/reports/{snapshot_id}"


def ui_project_url(ui_url: str, project: str) -> str:
    """The Evidently UI's dashboard of one project (its route /projects/:projectId)."""
    return f"{ui_url}/projects/{project_id(project)}"


def days_view_link(project: str) -> str:
    """A link to this app's Days view of `project` (opened by `follow_link`)."""
    return "?" + urlencode({"project": project, "view": "Days"})


def follow_link(projects: list[str], views: list[str]) -> None:
    """Once per session, select the project and view a link named (`days_view_link`), if they exist."""
    if st.session_state.get("_link_followed"):
        return
    st.session_state["_link_followed"] = True
    project, view = st.query_params.get("project"), st.query_params.get("view")
    if project in projects:
        st.session_state["project"] = project
    if view in views:
        st.session_state["view"] = view
