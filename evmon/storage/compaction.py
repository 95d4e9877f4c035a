"""Compaction: a year of daily snapshots for ten projects stays browsable in `evidently ui`.

The UI parses every snapshot file into memory at start-up, and a 3.6 MB snapshot is mostly
plot payloads. For daily snapshots older than `retention.full_days`, evmon:

1. archives the full original, gzip-compressed, beside the workspace (never loaded by the
   UI; the app and the bridge read it through Workspace.read_full_snapshot);
2. replaces the snapshot file, under the same id and through the same atomic rename, with
   a compacted one: only the metric results the project's UI dashboard plots (their values
   unchanged, so its time series stay identical), no widgets, metadata evmon_compacted=yes.

Idempotent (a compacted file is skipped; `refresh=True` re-derives it from the archive, for
a dashboard that now plots more metrics) and crash-safe (the archive is written before the
file is replaced, each by one rename; a crash leaves either the full file or both copies).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from evmon.config.model import EvmonConfig, Project
from evmon.days import today_in
from evmon.errors import WorkspaceError
from evmon.snapshot import contract as snapshot
from evmon.snapshot.flatten import short_type
from evmon.storage.files import Workspace, project_id

# Kept when a project has no dashboard.json yet: the headline values every dashboard plots.
HEADLINE_TYPES = frozenset(
    {"DriftedColumnsCount", "ValueDrift", "RowCount", "DatasetMissingValueCount", "MissingValueCount"}
    | {"MissingCellsShare", "EstimatedQuality"}
    | {"Accuracy", "Precision", "Recall", "F1Score", "RocAuc"}
    | {"MAE", "RMSE", "MeanError", "MAPE", "R2Score", "AbsMaxError"}
)


@dataclass(frozen=True)
class CompactionResult:
    """What one compaction pass did to one project."""

    project: str
    compacted: int = 0
    already: int = 0
    kept_full: int = 0
    failed: tuple[str, ...] = ()

    def line(self) -> str:
        head = (
            f"{self.project}: {self.compacted} compacted, {self.already} already compacted, {self.kept_full} kept full"
        )
        return head + (f", {len(self.failed)} failed: {'; '.join(self.failed)}" if self.failed else "")


def dashboard_metric_types(dashboard: Mapping[str, Any] | None) -> frozenset[str]:
    """The short metric types a dashboard.json's panels plot (HEADLINE_TYPES without one)."""
    if not dashboard:
        return HEADLINE_TYPES
    types = {
        short_type(str(value.get("metric", "")))
        for panel in dashboard.get("panels", [])
        for value in panel.get("values", []) or []
        if isinstance(value, Mapping)
    }
    types.discard("")
    return frozenset(types) if types else HEADLINE_TYPES


def compact_snapshot(full: Mapping[str, Any], keep_types: frozenset[str]) -> dict[str, Any]:
    """The compacted form of a full snapshot (pure): kept results without widgets, no widgets."""
    results = {
        metric_id: _without_widgets(result)
        for metric_id, result in full.get("metric_results", {}).items()
        if short_type(str(result.get("metric_value_location", {}).get("metric", {}).get("params", {}).get("type", "")))
        in keep_types
    }
    return {
        **snapshot.compacted(full),
        "metric_results": results,
        "top_level_metrics": [m for m in full.get("top_level_metrics", []) if m in results],
        "widgets": [],
        "tests_widgets": [],
    }


def _without_widgets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ([] if k == "widget" else _without_widgets(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_widgets(v) for v in value]
    return value


def compact_project(
    config: EvmonConfig,
    project: Project,
    workspace: Workspace,
    today: date | None = None,
    refresh: bool = False,
) -> CompactionResult:
    """Compact the project's daily snapshots older than its retention.full_days."""
    if not project.retention.compact:
        return CompactionResult(project.name)
    local_today = today if today is not None else today_in(project.timezone)
    cutoff = local_today - timedelta(days=project.retention.full_days)
    pid = project_id(project.name)
    keep = dashboard_metric_types(workspace.read_dashboard(pid))
    counts = {"compacted": 0, "already": 0, "kept_full": 0}
    failed: list[str] = []
    for file in sorted(workspace.list_snapshots(pid), key=lambda f: f.path.name):
        try:
            meta = snapshot.meta_of(workspace.read_snapshot_header(pid, file.snapshot_id))
            if not meta.daily or meta.day is None:
                continue
            day = meta.day
            if day >= cutoff:
                counts["kept_full"] += 1
                continue
            if meta.compacted and not refresh:
                counts["already"] += 1
                continue
            with workspace.day_lock(project.name, day) as locked:
                if not locked:
                    failed.append(f"{day} is being run, compacted next time")
                    continue
                _compact_file(workspace, pid, file.snapshot_id, keep)
            counts["compacted"] += 1
        except (WorkspaceError, ValueError) as exc:
            failed.append(f"{file.path}: {exc}")
    return CompactionResult(project.name, failed=tuple(failed), **counts)


def _compact_file(workspace: Workspace, pid: Any, sid: Any, keep: frozenset[str]) -> None:
    from evmon.storage.postgres import PostgresWorkspace

    if isinstance(workspace, PostgresWorkspace):  # the UI loads no blob at start: fewer points is the gain
        workspace.compact_points(sid, keep)
        return
    path = workspace.snapshot_path(pid, sid)
    raw = path.read_bytes()
    try:
        current = snapshot.loads_exact(raw)
    except ValueError as exc:
        raise WorkspaceError(f"not a readable snapshot ({exc})") from exc
    if snapshot.meta_of(current).compacted:
        original = workspace.read_full_snapshot(pid, sid)  # refresh: start again from the archive
    else:
        workspace.write_archive(pid, sid, raw)  # the exact original bytes, before anything changes
        original = current
    workspace.write_snapshot(pid, sid, snapshot.dumps(compact_snapshot(original, keep)))


def compact_all(
    config: EvmonConfig, workspace: Workspace, today: date | None = None, refresh: bool = False
) -> list[CompactionResult]:
    """One compaction pass over every enabled project."""
    return [compact_project(config, p, workspace, today, refresh) for p in config.projects if p.enabled]
