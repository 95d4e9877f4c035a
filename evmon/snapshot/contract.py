"""The snapshot contract: what evmon writes into a snapshot's metadata and tags, and how it reads them back.

Every module that needs a snapshot's kind, day, rows, labels, config hash or compaction reads
them through `meta_of` (one reader) from the parsed file or its header, and every snapshot evmon
writes gets its metadata from `metadata` (one writer). A snapshot evmon did not write (no
``evmon_kind``) is of kind OTHER everywhere: not a daily snapshot, so it stays out of the daily
series of the UI's dashboards, Grafana's panels and the app's days, and compaction leaves it alone.

Also here: the JSON of snapshot files (Evidently writes NaN and Infinity literals: `loads` reads
them, fast; `dumps` writes them), the header read without parsing the megabytes of results, and
the archive's encoding of a compacted snapshot's full original.
"""

from __future__ import annotations

import gc
import gzip
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import orjson

Kind = Literal["daily", "whatif", "other"]
DAILY: Kind = "daily"
WHATIF: Kind = "whatif"
OTHER: Kind = "other"  # a snapshot evmon did not write
DAILY_TAG = "daily"
LABELLED_TAG = "labelled"  # a daily snapshot computed with its day's labels
WHATIF_TAG = "whatif"
KIND_KEY = "evmon_kind"
COMPACTED_KEY = "evmon_compacted"
HEADER_KEYS = ("name", "timestamp", "metadata", "tags")
_HEADER_BYTES = 65536
_RESULTS_KEY = re.compile(rb',\s*"metric_results"\s*:')  # a quote inside a JSON string is escaped: no false hit
_NON_FINITE = re.compile(rb"(?:(?<=[:,\[])|(?<=[:,\[] ))(NaN|-?Infinity)(?=\s*[,\]}])")
_SENTINELS = {b"NaN": b'"\\u0000nan"', b"Infinity": b'"\\u0000inf"', b"-Infinity": b'"\\u0000-inf"'}


@dataclass(frozen=True)
class SnapshotMeta:
    """What evmon knows of a snapshot from its header: the contract's fields, with one default each."""

    kind: Kind = OTHER
    day: date | None = None
    rows: int | None = None
    labels: bool | None = None  # computed with the day's labels; None if unknown
    config_hash: str | None = None
    evmon_version: str | None = None
    compacted: bool = False
    name: str | None = None
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)  # the raw metadata, all of it

    @property
    def daily(self) -> bool:
        return self.kind == DAILY and self.day is not None


def meta_of(doc: Mapping[str, Any]) -> SnapshotMeta:
    """The contract's fields of a parsed snapshot or its header (`read_header`); never raises."""
    raw = doc.get("metadata")
    metadata: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    tags = doc.get("tags")
    name = doc.get("name")
    kind = metadata.get(KIND_KEY)
    return SnapshotMeta(
        kind=kind if kind in (DAILY, WHATIF) else OTHER,
        day=_day(metadata.get("day")),
        rows=_int(metadata.get("rows")),
        labels={"yes": True, "no": False}.get(str(metadata.get("labels"))),
        config_hash=_str(metadata.get("config_hash")),
        evmon_version=_str(metadata.get("evmon_version")),
        compacted=metadata.get(COMPACTED_KEY) == "yes",
        name=None if name is None else str(name),
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        metadata=dict(metadata),
    )


def metadata(
    kind: Kind,
    project: str,
    *,
    rows: int,
    labels: bool,
    config_hash: str,
    evmon_version: str,
    day: date | None = None,
    **extra: str,
) -> dict[str, str]:
    """The metadata evmon writes into a snapshot (all strings: Evidently's UI shows them as such)."""
    written = {
        KIND_KEY: kind,
        "project": project,
        "rows": str(rows),
        "labels": "yes" if labels else "no",
        "config_hash": config_hash,
        "evmon_version": evmon_version,
    }
    if day is not None:
        written["day"] = day.isoformat()
    return {**written, **extra}


def daily_tags(labels: bool) -> list[str]:
    """The tags of a daily snapshot: every panel filters on 'daily', quality panels on 'labelled' too."""
    return [DAILY_TAG, LABELLED_TAG] if labels else [DAILY_TAG]


def compacted(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document marked as compacted (its full original is in the archive)."""
    raw = doc.get("metadata")
    return {**doc, "metadata": {**(raw if isinstance(raw, Mapping) else {}), COMPACTED_KEY: "yes"}}


# --- the file's bytes --------------------------------------------------------------------------


def loads(data: bytes) -> Any:
    """A snapshot file's JSON, fast, for flattening; ValueError if it is not JSON.

    orjson is about twice as fast as the stdlib on a 3.6 MB snapshot but rejects the non-finite
    literals Evidently writes; those are rewritten to sentinel strings (evmon.snapshot.flatten.NAN_SENTINELS
    reads them back as floats) only where they stand as values: a rewrite can only break a
    document, never change one silently. The garbage collector is paused meanwhile (the document
    holds no cycles; collections over millions of fresh objects cost as much as the parse).
    Where NaN must be a float in the document itself, use `loads_exact`.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
        if b"NaN" in data or b"Infinity" in data:
            try:
                return orjson.loads(_NON_FINITE.sub(lambda m: _SENTINELS[m.group(1)], data))
            except orjson.JSONDecodeError:
                pass
        return json.loads(data)  # the reference parser: its error message names line and column
    finally:
        if enabled:
            gc.enable()


def loads_exact(data: bytes) -> Any:
    """A snapshot file's JSON as Evidently's loader reads it (NaN stays a float NaN); ValueError if not JSON."""
    return json.loads(data)


def dumps(doc: Mapping[str, Any]) -> bytes:
    """A snapshot document's file content, with NaN literals as Evidently writes them."""
    return json.dumps(doc).encode()


def read_header(path: Path) -> dict[str, Any]:
    """A snapshot file's name, timestamp, metadata and tags, without parsing its results.

    Snapshot files start with these keys (report, name, timestamp, metadata, tags), then the
    megabytes of metric_results: the head of the file is enough. Falls back to a full read when
    the head does not parse. OSError if the file cannot be read; ValueError if it is not JSON.
    """
    with open(path, "rb") as handle:
        head = handle.read(_HEADER_BYTES)
    match = _RESULTS_KEY.search(head)
    if match is not None:
        try:
            data = json.loads(head[: match.start()] + b"}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = None
        if isinstance(data, dict):
            return {k: data.get(k) for k in HEADER_KEYS}
    full = loads_exact(path.read_bytes())
    if not isinstance(full, dict):
        raise ValueError(f"{path}: not a snapshot (expected a JSON object)")
    return {k: full.get(k) for k in HEADER_KEYS}


def archived(payload: bytes) -> bytes:
    """A full snapshot as the archive stores it (gzip)."""
    return gzip.compress(payload, compresslevel=6)


def unarchived(data: bytes) -> bytes:
    """The full snapshot an archive file holds; OSError or EOFError if it is damaged."""
    return gzip.decompress(data)


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
