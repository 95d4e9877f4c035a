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

from dataclasses import dataclass
from datetime import date, timedelta

from evmon.config.model import EvmonConfig, Project
from evmon.days import today_in
from evmon.errors import WorkspaceError
from evmon.snapshot import contract
from evmon.snapshot.compacted import dashboard_metric_types
from evmon.snapshot.ids import project_id
from evmon.storage.base import Workspace


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
            meta = contract.meta_of(workspace.read_snapshot_header(pid, file.snapshot_id))
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
                workspace.compact(pid, file.snapshot_id, keep)
            counts["compacted"] += 1
        except (WorkspaceError, ValueError) as exc:
            failed.append(f"{file.path}: {exc}")
    return CompactionResult(project.name, failed=tuple(failed), **counts)


def compact_all(
    config: EvmonConfig, workspace: Workspace, today: date | None = None, refresh: bool = False
) -> list[CompactionResult]:
    """One compaction pass over every enabled project."""
    return [compact_project(config, p, workspace, today, refresh) for p in config.projects if p.enabled]
