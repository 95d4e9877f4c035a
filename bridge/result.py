"""What one sync of the bridge did, and its one line."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SyncResult:
    """What one sync did."""

    ingested: int = 0
    deleted: int = 0
    projects_deleted: int = 0
    unchanged: int = 0
    known_bad: int = 0
    runs_exported: int | None = None
    quarantine_exported: int | None = None
    rolled_up: int = 0  # project-days whose weekly and monthly rollups were recomputed
    pending: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    busy: bool = False
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.quarantined

    @property
    def changed(self) -> bool:
        return bool(
            self.ingested
            or self.deleted
            or self.projects_deleted
            or self.failed
            or self.quarantined
            or self.runs_exported
            or self.quarantine_exported is not None
        )

    def line(self) -> str:
        if self.busy:
            return "another bridge is syncing this database; skipped"
        parts = [f"{self.ingested} ingested", f"{self.deleted} deleted", f"{self.unchanged} unchanged"]
        if self.projects_deleted:
            parts.append(f"{self.projects_deleted} projects removed")
        if self.failed:
            parts.append(f"{len(self.failed)} unreadable")
        if self.quarantined:
            parts.append(f"{len(self.quarantined)} quarantined (the UI cannot load them)")
        if self.known_bad:
            parts.append(f"{self.known_bad} unreadable (reported before)")
        if self.pending:
            parts.append(f"{len(self.pending)} being written (retried)")
        if self.runs_exported is not None:
            parts.append(f"run log: {self.runs_exported} runs")
        if self.quarantine_exported is not None:
            parts.append(f"quarantine: {self.quarantine_exported} files")
        return f"sync: {', '.join(parts)} in {self.duration_s:.2f}s"
