"""The snapshot contract: what evmon writes into a snapshot's metadata and tags, and how it reads them back.

The one module that knows the metadata's keys and the tags' words (an architecture test fails
when a key appears anywhere else). Every snapshot evmon writes gets its metadata from
`daily_metadata` or `whatif_metadata` (and `signed` for who saved it) and its tags from
`daily_tags` / `WHATIF_TAGS`; every reader gets a typed `SnapshotMeta` from `meta_of` (lenient:
never raises) or `checked_meta` (strict: ContractError naming the bad field), from a parsed file
or its header. A snapshot evmon did not write (no kind key) is of kind OTHER everywhere: not a
daily snapshot, so it stays out of the daily series of the UI's dashboards, Grafana's panels and
the app's days, and compaction leaves it alone. The order of the keys is the order they are
written in (snapshots are compared byte for byte across versions).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

Kind = Literal["daily", "whatif", "other"]
DAILY: Kind = "daily"
WHATIF: Kind = "whatif"
OTHER: Kind = "other"  # a snapshot evmon did not write
DAILY_TAG = "daily"
LABELLED_TAG = "labelled"  # a daily snapshot computed with its day's labels
WHATIF_TAG = "whatif"
WHATIF_TAGS = (WHATIF_TAG,)

KIND_KEY = "evmon_kind"
PROJECT_KEY = "project"
ROWS_KEY = "rows"
LABELS_KEY = "labels"
CONFIG_HASH_KEY = "config_hash"
VERSION_KEY = "evmon_version"
DAY_KEY = "day"
PREDICTION_COLUMN_KEY = "prediction_column"  # the model output's column (the bridge's prediction-drift view)
ESTIMATION_ROWS_KEY = "estimation_rows"  # rows the day's estimates were computed on (a day that has them)
ESTIMATION_DROPPED_KEY = "estimation_dropped_rows"
ESTIMATION_ERROR_KEY = "estimation_error"  # why a project that estimates has no estimates that day
WINDOW_KEY = "window"
WINDOW_START_KEY = "window_start"
WINDOW_END_KEY = "window_end"
REFERENCE_KEY = "reference"
OVERRIDES_KEY = "overrides"
BASE_CONFIG_HASH_KEY = "base_config_hash"
SAVED_BY_KEY = "saved_by"  # the app's signed-in user who saved a what-if
COMPACTED_KEY = "evmon_compacted"
METADATA_KEYS = frozenset(
    {KIND_KEY, PROJECT_KEY, ROWS_KEY, LABELS_KEY, CONFIG_HASH_KEY, VERSION_KEY, DAY_KEY, PREDICTION_COLUMN_KEY}
    | {ESTIMATION_ROWS_KEY, ESTIMATION_DROPPED_KEY, ESTIMATION_ERROR_KEY, WINDOW_KEY, WINDOW_START_KEY}
    | {WINDOW_END_KEY, REFERENCE_KEY, OVERRIDES_KEY, BASE_CONFIG_HASH_KEY, SAVED_BY_KEY, COMPACTED_KEY}
)
_YES, _NO = "yes", "no"


class ContractError(ValueError):
    """A snapshot's metadata or tags are not of the shape the contract reads."""


@dataclass(frozen=True)
class Estimation:
    """What a daily snapshot records of its estimated quality: on how many rows, or why there is none."""

    rows: int | None = None
    dropped_rows: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class WhatIfWindow:
    """What a what-if snapshot records of how it was computed."""

    window: str
    start: date
    end: date
    reference: str
    overrides: str  # JSON of the overrides, keys sorted
    base_config_hash: str


@dataclass(frozen=True)
class SnapshotMeta:
    """What evmon knows of a snapshot from its header: the contract's fields, each with one default."""

    kind: Kind = OTHER
    day: date | None = None
    rows: int | None = None
    labels: bool | None = None  # computed with the day's labels; None if unknown
    config_hash: str | None = None
    evmon_version: str | None = None
    compacted: bool = False
    name: str | None = None
    tags: tuple[str, ...] = ()
    prediction_column: str | None = None
    estimation: Estimation | None = None  # None: the snapshot says nothing of estimates
    window: str | None = None  # what-ifs: their window, reference and overrides, as written
    reference: str | None = None
    overrides: str | None = None
    who: str | None = None  # who saved it (a what-if saved by a signed-in user)
    metadata: Mapping[str, Any] = field(default_factory=dict)  # all of it, for storage as it is (the bridge)

    @property
    def daily(self) -> bool:
        return self.kind == DAILY and self.day is not None

    @property
    def has_estimates(self) -> bool:
        return self.estimation is not None and self.estimation.rows is not None

    @property
    def labelled_daily(self) -> bool:
        """A daily snapshot computed with its day's labels (what quality panels plot)."""
        return DAILY_TAG in self.tags and LABELLED_TAG in self.tags


def meta_of(doc: Mapping[str, Any]) -> SnapshotMeta:
    """The contract's fields of a parsed snapshot or its header (`codec.read_header`); never raises."""
    raw = doc.get("metadata")
    metadata: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    tags = doc.get("tags")
    name = doc.get("name")
    kind = metadata.get(KIND_KEY)
    estimation = None
    if any(key in metadata for key in (ESTIMATION_ROWS_KEY, ESTIMATION_DROPPED_KEY, ESTIMATION_ERROR_KEY)):
        estimation = Estimation(
            rows=_int(metadata.get(ESTIMATION_ROWS_KEY)),
            dropped_rows=_int(metadata.get(ESTIMATION_DROPPED_KEY)),
            error=_str(metadata.get(ESTIMATION_ERROR_KEY)),
        )
    return SnapshotMeta(
        kind=kind if kind in (DAILY, WHATIF) else OTHER,
        day=_day(metadata.get(DAY_KEY)),
        rows=_int(metadata.get(ROWS_KEY)),
        labels={_YES: True, _NO: False}.get(str(metadata.get(LABELS_KEY))),
        config_hash=_str(metadata.get(CONFIG_HASH_KEY)),
        evmon_version=_str(metadata.get(VERSION_KEY)),
        compacted=metadata.get(COMPACTED_KEY) == _YES,
        name=None if name is None else str(name),
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        prediction_column=_str(metadata.get(PREDICTION_COLUMN_KEY)),
        estimation=estimation,
        window=_str(metadata.get(WINDOW_KEY)),
        reference=_str(metadata.get(REFERENCE_KEY)),
        overrides=_str(metadata.get(OVERRIDES_KEY)),
        who=_str(metadata.get(SAVED_BY_KEY)),
        metadata=dict(metadata),
    )


def checked_meta(doc: Mapping[str, Any]) -> SnapshotMeta:
    """`meta_of`, but ContractError when the metadata is not an object or the tags not a list (absent is fine)."""
    metadata = doc.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise ContractError(f"metadata: expected an object, got {type(metadata).__name__}")
    tags = doc.get("tags") or []
    if not isinstance(tags, list):
        raise ContractError(f"tags: expected a list, got {type(tags).__name__}")
    return meta_of(doc)


def _common(
    kind: Kind, project: str, rows: int, labels: bool, config_hash: str, evmon_version: str, day: date
) -> dict[str, str]:
    return {
        KIND_KEY: kind,
        PROJECT_KEY: project,
        ROWS_KEY: str(rows),
        LABELS_KEY: _YES if labels else _NO,
        CONFIG_HASH_KEY: config_hash,
        VERSION_KEY: evmon_version,
        DAY_KEY: day.isoformat(),
    }


def daily_metadata(
    project: str,
    day: date,
    *,
    rows: int,
    labels: bool,
    config_hash: str,
    evmon_version: str,
    prediction_column: str,
    estimation: Estimation | None = None,
) -> dict[str, str]:
    """The metadata of a project-day's snapshot (all strings: Evidently's UI shows them as such)."""
    written = _common(DAILY, project, rows, labels, config_hash, evmon_version, day)
    written[PREDICTION_COLUMN_KEY] = prediction_column
    if estimation is not None and estimation.error is not None:
        written[ESTIMATION_ERROR_KEY] = estimation.error
    elif estimation is not None:
        written[ESTIMATION_ROWS_KEY] = str(estimation.rows)
        written[ESTIMATION_DROPPED_KEY] = str(estimation.dropped_rows)
    return written


def whatif_metadata(
    project: str, *, rows: int, labels: bool, config_hash: str, evmon_version: str, what: WhatIfWindow
) -> dict[str, str]:
    """The metadata of a what-if snapshot; its day is its window's first (where it sits on a time axis)."""
    written = _common(WHATIF, project, rows, labels, config_hash, evmon_version, what.start)
    written[WINDOW_KEY] = what.window
    written[WINDOW_START_KEY] = what.start.isoformat()
    written[WINDOW_END_KEY] = what.end.isoformat()
    written[REFERENCE_KEY] = what.reference
    written[OVERRIDES_KEY] = what.overrides
    written[BASE_CONFIG_HASH_KEY] = what.base_config_hash
    return written


def signed(who: str) -> dict[str, str]:
    """The metadata added to a snapshot saved by a signed-in user."""
    return {SAVED_BY_KEY: who}


def daily_tags(labels: bool) -> list[str]:
    """The tags of a daily snapshot: every panel filters on 'daily', quality panels on 'labelled' too."""
    return [DAILY_TAG, LABELLED_TAG] if labels else [DAILY_TAG]


def compaction_mark() -> dict[str, str]:
    """The metadata that marks a snapshot as compacted (its full original is kept elsewhere)."""
    return {COMPACTED_KEY: _YES}


def compacted(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document marked as compacted (its full original is in the archive)."""
    raw = doc.get("metadata")
    return {**doc, "metadata": {**(raw if isinstance(raw, Mapping) else {}), **compaction_mark()}}


def uncompacted(doc: dict[str, Any]) -> dict[str, Any]:
    """A full original without the compaction mark its compacted copy's header may have lent it."""
    metadata = doc.get("metadata")
    if isinstance(metadata, dict) and COMPACTED_KEY in metadata:
        return {**doc, "metadata": {k: v for k, v in metadata.items() if k != COMPACTED_KEY}}
    return doc


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value is not None else None
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
