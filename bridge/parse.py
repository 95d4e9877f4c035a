"""From a snapshot file to a record ready to store: read, parse fast, validate, flatten.

Parsing is the bridge's main cost (a full drift + summary snapshot is ~3.6 MB of JSON, mostly
plot data): evmon.snapshot.contract.loads is the fast, NaN-aware parser, and the contract's fields
(kind, day, rows, labels, config hash) come from evmon.snapshot.contract.meta_of, as everywhere else.
The cyclic garbage collector is paused while a document is alive: it holds no cycles, and
gen-2 collections over millions of fresh objects otherwise cost as much as the parse.
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from evmon.errors import WorkspaceError
from evmon.snapshot import codec, contract
from evmon.snapshot.flatten import FlattenError, MetricRow, TestRow, flatten, flatten_tests
from evmon.storage.base import SnapshotFile


class BadSnapshot(Exception):
    """The file is not a snapshot evmon can read; the message names the file and the problem."""


@dataclass(frozen=True)
class SnapshotRecord:
    """One snapshot, parsed and flattened, with the file state it was read at."""

    snapshot_id: uuid.UUID
    project_id: uuid.UUID
    project: str
    kind: str
    name: str | None
    timestamp: datetime
    day: date | None
    rows: int | None
    labels: bool | None
    config_hash: str | None
    tags: list[str]
    metadata: dict[str, Any]
    path: str
    size: int
    mtime_ns: int
    values: list[MetricRow]
    tests: list[TestRow]


def build_record(
    file: SnapshotFile,
    project: str,
    data: bytes,
    size: int,
    mtime_ns: int,
    original: Callable[[], bytes] | None = None,
) -> SnapshotRecord:
    """Parse and flatten one snapshot file's bytes; BadSnapshot names the file and the problem.

    The garbage collector stays paused until the parsed document is freed: a collection while
    it is alive would walk its millions of objects (it costs more than the parse itself).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _build_record(file, project, data, size, mtime_ns, original)
    finally:
        if enabled:
            gc.enable()


def _build_record(
    file: SnapshotFile,
    project: str,
    data: bytes,
    size: int,
    mtime_ns: int,
    original: Callable[[], bytes] | None,
) -> SnapshotRecord:
    where = str(file.path)
    try:
        doc = codec.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadSnapshot(f"{where}: not valid JSON ({exc})") from exc
    if original is not None and isinstance(doc, dict) and contract.meta_of(doc).compacted:
        # a compacted file keeps only the dashboard's values: ingest its archived original,
        # so compaction never looks like a change of values
        try:
            doc = codec.loads(original())
        except (WorkspaceError, ValueError, UnicodeDecodeError) as exc:
            raise BadSnapshot(f"{where}: compacted, and its archived original is unreadable: {exc}") from exc
    if not isinstance(doc, dict):
        raise BadSnapshot(f"{where}: not a snapshot (expected a JSON object, got {type(doc).__name__})")
    try:
        values = flatten(doc)
        tests = flatten_tests(doc)
    except FlattenError as exc:
        raise BadSnapshot(f"{where}: {exc}") from exc
    try:
        meta = contract.checked_meta(doc)
    except contract.ContractError as exc:
        raise BadSnapshot(f"{where}: {exc}") from exc
    return SnapshotRecord(
        snapshot_id=file.snapshot_id,
        project_id=file.project_id,
        project=project,
        kind=meta.kind,
        name=meta.name,
        timestamp=_timestamp(doc.get("timestamp"), where),
        day=meta.day,
        rows=meta.rows,
        labels=meta.labels,
        config_hash=meta.config_hash,
        tags=list(meta.tags),
        metadata=dict(meta.metadata),
        path=where,
        size=size,
        mtime_ns=mtime_ns,
        values=values,
        tests=tests,
    )


def _timestamp(value: Any, where: str) -> datetime:
    """Evidently's timestamp: ISO 8601; a naive one is UTC (evmon's convention, evmon/days.py)."""
    if not isinstance(value, str):
        raise BadSnapshot(f"{where}: timestamp: expected an ISO 8601 string, got {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadSnapshot(f"{where}: timestamp: {value!r} is not an ISO 8601 date-time") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
