"""Each project's Evidently UI dashboard, written into the workspace from projects.yaml.

The model is a pure function of the config (evmon.evidently.dashboard) and, for segments, of
the segment values its labelled snapshots hold: read here from the project's newest labelled
daily snapshots. The file is written through evmon.storage.files (atomic, and only when its bytes
change); the UI reads dashboard.json on every dashboard request, so a new one shows at once.
Every command that writes snapshots rewrites the dashboards of the projects it wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from evmon.config.model import EvmonConfig, Project
from evmon.errors import EvmonError, WorkspaceError
from evmon.evidently.dashboard import build_dashboard, dashboard_bytes, task_key
from evmon.snapshot.contract import meta_of
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.base import Workspace
from evmon.storage.runlog import RunLog

SEGMENT_SNAPSHOTS = 7  # how many newest labelled snapshots are read to find segment values


def segment_values_in(workspace: Workspace, project: Project, newest: int = SEGMENT_SNAPSHOTS) -> dict[str, list[str]]:
    """The segment values found in the project's newest labelled daily snapshots."""
    if not project.segments or not project.has_quality:
        return {}
    pid = project_id(project.name)
    labelled = [day for day, run in RunLog(workspace.evmon_dir).latest_ok(project.name).items() if run.labels_included]
    sids = [daily_snapshot_id(project.name, day) for day in sorted(labelled, reverse=True)[:newest]]
    if not sids:  # no run log (a copied workspace): the newest files
        files = sorted(workspace.list_snapshots(pid), key=lambda f: f.mtime_ns, reverse=True)[:newest]
        sids = [f.snapshot_id for f in files]
    key = task_key(project)
    found: dict[str, set[str]] = {column: set() for column in project.segments}
    for sid in sids:
        try:
            snapshot = workspace.read_snapshot(pid, sid)
        except WorkspaceError:  # deleted meanwhile or unreadable: the next refresh sees it
            continue
        if not meta_of(snapshot).labelled_daily:  # e.g. a what-if snapshot
            continue
        for name in _task_names(snapshot, key):
            column, sep, value = name.partition("=")
            if sep and column in found:
                found[column].add(value)
    return {column: sorted(values) for column, values in found.items()}


def _task_names(snapshot: Mapping[str, Any], key: str) -> set[str]:
    names: set[str] = set()
    for result in snapshot.get("metric_results", {}).values():
        location = result.get("metric_value_location") if isinstance(result, Mapping) else None
        params = ((location or {}).get("metric") or {}).get("params") or {}
        name = params.get(key)
        if isinstance(name, str):
            names.add(name)
    return names


def write_project_dashboard(workspace: Workspace, project: Project) -> bool:
    """Write the project's dashboard (creating the project); False if it was already current."""
    pid = workspace.ensure_project(project.name, project.ui_description)
    model = build_dashboard(project, segment_values_in(workspace, project))
    return workspace.write_dashboard(pid, dashboard_bytes(model))


def write_dashboards(
    config: EvmonConfig, workspace: Workspace, on_error: Callable[[str, EvmonError], None] | None = None
) -> list[str]:
    """Write the dashboards of the enabled projects (and of disabled ones already in the
    workspace); returns the names of the projects whose dashboard changed.

    With `on_error`, a project whose dashboard cannot be written is reported to it and the
    others go on; without, the error is raised.
    """
    changed = []
    for project in config.projects:
        if not project.enabled and workspace.find_project(project.name) is None:
            continue
        try:
            if write_project_dashboard(workspace, project):
                changed.append(project.name)
        except EvmonError as exc:
            if on_error is None:
                raise
            on_error(project.name, exc)
    return changed
