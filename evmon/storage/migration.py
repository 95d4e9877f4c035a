"""`evmon migrate-ui`: a workspace's projects, dashboards and snapshots copied between the file
workspace and the UI's database, and checked.

Every snapshot goes over whole (a compacted file's archived original; a database blob is always
whole), under its own id, with the target's own atomic write, and is then read back from the
target and compared value by value with the source (evmon.snapshot.flatten: what the bridge stores). A
copy can be re-run: it replaces what is there. Nothing is deleted from the source.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from evmon.errors import WorkspaceError
from evmon.snapshot import codec, contract
from evmon.snapshot.flatten import flatten
from evmon.storage.base import Workspace


@dataclass
class MigrationResult:
    """What a copy did: per kind, how many, and what differed (nothing, if it went well)."""

    projects: int = 0
    dashboards: int = 0
    snapshots: int = 0
    values: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        head = f"{self.projects} projects, {self.dashboards} dashboards, {self.snapshots} snapshots"
        checked = f"{self.values} values checked"
        return f"{head}, {checked}" + (f"; {len(self.problems)} problems" if self.problems else ", all equal")


def copy_workspace(
    source: Workspace, target: Workspace, progress: Callable[[str], None] | None = None
) -> MigrationResult:
    """Copy every project, dashboard and snapshot of `source` into `target`, then check each."""
    source.prepare()
    target.prepare()
    result = MigrationResult()
    for project in source.list_projects():
        target.ensure_project(project.name, project.description)
        result.projects += 1
        dashboard = source.read_dashboard(project.id)
        if dashboard is not None:
            target.write_dashboard(project.id, codec.dumps(dashboard))
            result.dashboards += 1
        for file in sorted(source.list_snapshots(project.id), key=lambda f: str(f.snapshot_id)):
            try:
                full = contract.uncompacted(source.read_full_snapshot(project.id, file.snapshot_id))
                target.write_snapshot(project.id, file.snapshot_id, codec.dumps(full))
                copied = target.read_full_snapshot(project.id, file.snapshot_id)
            except WorkspaceError as exc:
                result.problems.append(f"{project.name} {file.snapshot_id}: {exc}")
                continue
            result.snapshots += 1
            result.values += _compare(full, copied, f"{project.name} {file.snapshot_id}", result.problems)
        if progress is not None:
            progress(f"{project.name}: {result.snapshots} snapshots so far")
    return result


def _compare(source: dict[str, object], target: dict[str, object], where: str, problems: list[str]) -> int:
    """Every value of the source read back equal from the target; the number of values compared."""
    before = {(r.metric_id, r.column, r.label, r.value_kind): r.value for r in flatten(source)}
    after = {(r.metric_id, r.column, r.label, r.value_kind): r.value for r in flatten(target)}
    if before.keys() != after.keys():
        problems.append(f"{where}: {len(before)} values in the source, {len(after)} in the target")
        return 0
    for key, value in before.items():
        other = after[key]
        same = value == other or (value is not None and other is not None and math.isnan(value) and math.isnan(other))
        if not same:
            problems.append(f"{where}: {key} is {value} in the source, {other} in the target")
            return 0
    if contract.meta_of(source).metadata != contract.meta_of(target).metadata:
        problems.append(f"{where}: its metadata differs after the copy")
    return len(before)
