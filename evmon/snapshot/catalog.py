"""A project's snapshots by kind (daily, what-if, other), from file listings and headers: pure.

The app lists a project's days without parsing any snapshot: Workspace.list_snapshots gives
the files (id, size, mtime), Workspace.read_snapshot_header the first bytes of each (name,
timestamp, metadata, tags); evmon.snapshot.contract.meta_of reads them (kind, day, rows, labels, who...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from evmon.snapshot.contract import DAILY, WHATIF, Kind, SnapshotMeta, meta_of


@dataclass(frozen=True)
class SnapshotEntry:
    """A snapshot known from its listing and header: its id, what the contract reads of it, size, version."""

    snapshot_id: str
    meta: SnapshotMeta
    size: int
    mtime_ns: int

    @property
    def kind(self) -> Kind:
        return self.meta.kind  # 'daily', 'whatif', or 'other' for snapshots evmon did not write

    @property
    def day(self) -> date | None:
        return self.meta.day

    @property
    def name(self) -> str:
        return self.meta.name or ""

    @property
    def tags(self) -> tuple[str, ...]:
        return self.meta.tags


@dataclass(frozen=True)
class Catalog:
    """A project's snapshots by kind: one daily snapshot per day, what-ifs newest first."""

    daily: dict[date, SnapshotEntry]
    whatifs: list[SnapshotEntry]
    other: list[SnapshotEntry]

    @property
    def days(self) -> list[date]:
        return sorted(self.daily)


def catalog(entries: Iterable[SnapshotEntry], canonical: Callable[[date], str] | None = None) -> Catalog:
    """Sort a project's snapshot entries by kind; `canonical(day)` names the daily id to keep on a clash."""
    daily: dict[date, SnapshotEntry] = {}
    whatifs: list[SnapshotEntry] = []
    other: list[SnapshotEntry] = []
    for entry in entries:
        if entry.kind == DAILY and entry.day is not None:
            kept = daily.get(entry.day)
            if kept is None or (canonical is not None and entry.snapshot_id == canonical(entry.day)):
                if kept is not None:
                    other.append(kept)
                daily[entry.day] = entry
            else:
                other.append(entry)
        elif entry.kind == WHATIF:
            whatifs.append(entry)
        else:
            other.append(entry)
    whatifs.sort(key=lambda e: e.mtime_ns, reverse=True)
    return Catalog(dict(sorted(daily.items())), whatifs, other)


def entry_from_header(snapshot_id: str, header: Mapping[str, Any], size: int, mtime_ns: int) -> SnapshotEntry:
    """A catalog entry from a snapshot's header (Workspace.read_snapshot_header)."""
    return SnapshotEntry(snapshot_id=snapshot_id, meta=meta_of(header), size=size, mtime_ns=mtime_ns)
